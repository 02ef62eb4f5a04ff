/**
 * History records of the runner's operations: timed by the clock (wall times, monotonic
 * duration), appended durably and announced as `history` events.
 */
import type { Actor, HistoryRecord, OperationKind } from '../../../src-shared/api';
import type { Clock } from '../clock';
import type { EventBus } from '../events';
import { appendHistory } from '../history';
import { newOperationId } from '../operation-id';

export type HistoryBase = Pick<HistoryRecord, 'id' | 'target' | 'operation' | 'actor' | 'started_at' | 'finished_at' | 'duration_ms'>;

export class HistoryWriter {
  constructor(private readonly clock: Clock, private readonly bus: EventBus) {}

  /** The identifying and timing fields of a record for an operation that ends now. */
  base(target: string, operation: OperationKind, actor: Actor, started: Date, startedMono: number, id?: string): HistoryBase {
    const finished = this.clock.now();
    return {
      id: id ?? newOperationId(started), target, operation, actor,
      started_at: started.toISOString(), finished_at: finished.toISOString(), duration_ms: Math.max(0, Math.round(this.clock.monoMs() - startedMono)),
    };
  }

  /** Appends `rec` to `<stateDir>/history.jsonl` (fsynced) and emits it. */
  async record(stateDir: string, rec: HistoryRecord): Promise<void> {
    await appendHistory(stateDir, rec, { clock: this.clock });
    this.bus.emit({ type: 'history', record: rec });
  }
}
