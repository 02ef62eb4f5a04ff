/**
 * The live state of every target and its single writer. `setState` feeds an event to the pure
 * `nextState` and emits one `state` event with the target's view (built from memory); progress
 * goes through `progress`, which is throttled per phase and never changes the kind.
 */
import type { Phase, TargetView } from '../../../src-shared/api';
import { nextState, type StateEvent, type TargetState } from '../../../src-shared/target-state';
import type { LoadedConfig } from '../config/load';
import { findTarget } from '../config/targets';
import type { Clock } from '../clock';
import type { EventBus } from '../events';
import type { ProgressDetails, ProgressTracker } from './progress-tracker';
import { buildView, restingFacts, type Snapshot, type SnapshotCache } from './target-memory';

export class LiveState {
  private readonly states = new Map<string, TargetState>();
  private readonly lastProgressAt = new Map<string, { phase: Phase; at: number }>();
  /** The last view built per target and what it was built from (same inputs: the same object). */
  private readonly shown = new Map<string, { loaded: LoadedConfig; snap: Snapshot; state: TargetState | undefined; view: TargetView }>();

  constructor(
    private readonly config: () => LoadedConfig,
    private readonly memory: SnapshotCache,
    private readonly bus: EventBus,
    private readonly clock: Clock,
    private readonly progressHz: () => number,
  ) {}

  /** The live state of `id` while something runs on it (undefined: resting, derived from the facts). */
  get(id: string): TargetState | undefined {
    return this.states.get(id);
  }

  /** Feeds `event` to the state machine, stores the result and announces it. The only writer of live state. */
  set(id: string, event: StateEvent): void {
    const loaded = this.config();
    const snap = this.memory.peek(id);
    const prev = this.states.get(id) ?? (snap ? buildView(loaded, findTarget(loaded.config, id), snap, undefined).state : { kind: 'idle' as const });
    const next = nextState(prev, event);
    if (event.type === 'settled') this.states.delete(id);
    else this.states.set(id, next);
    if (!snap) return;
    try {
      this.bus.emit({ type: 'state', target: buildView(loaded, findTarget(loaded.config, id), snap, next) });
    } catch {
      // A target removed by a reload is not announced.
    }
  }

  /** Settles the target on its facts after re-reading them. */
  async settle(id: string): Promise<void> {
    this.lastProgressAt.delete(id);
    const snap = await this.memory.refresh(id).catch(() => undefined);
    this.set(id, { type: 'settled', facts: snap ? restingFacts(snap) : { last_error: null, last_checked_at: null, available: null } });
  }

  /** Forgets the progress throttle of `id` (its operation ended). */
  ended(id: string): void {
    this.lastProgressAt.delete(id);
  }

  /** The phase of the last progress emitted for `id`. */
  lastPhase(id: string): Phase | undefined {
    return this.lastProgressAt.get(id)?.phase;
  }

  /**
   * Emits a progress event and keeps the live state's progress in step: throttled per phase to
   * limits.progressHz; a new phase, `force` and the end of a phase always go out.
   */
  progress(id: string, tracker: ProgressTracker, phase: Phase, message: string, fraction: number, d: ProgressDetails = {}, force = false): void {
    const nowMs = this.clock.monoMs();
    const last = this.lastProgressAt.get(id);
    const p = tracker.next(phase, message, fraction, d);
    if (!force && last && last.phase === phase && fraction < 1 && nowMs - last.at < 1000 / this.progressHz()) return;
    this.lastProgressAt.set(id, { phase, at: nowMs });
    this.set(id, { type: 'progress', progress: p });
    this.bus.emit({ type: 'progress', target: id, progress: p });
  }

  /**
   * The view of `id` with its live state. While the config, the snapshot and the live state are
   * the same objects, the same view object is returned (readers must not change it), so status
   * routes can serialise it once.
   */
  view(loaded: LoadedConfig, id: string, snap: Snapshot): TargetView {
    const t = findTarget(loaded.config, id);
    const state = this.states.get(t.id);
    const last = this.shown.get(t.id);
    if (last && last.loaded === loaded && last.snap === snap && last.state === state) return last.view;
    const view = buildView(loaded, t, snap, state);
    this.shown.set(t.id, { loaded, snap, state, view });
    return view;
  }
}
