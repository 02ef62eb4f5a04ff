/**
 * The engine's event bus: one stream of UpkeepEvent values (state changes, progress,
 * notifications, log lines) that every host forwards (CLI progress bar, SSE, IPC, webhooks, tray).
 */
import { EventEmitter } from 'node:events';
import type { UpkeepEvent, Notification, LogLine } from '../../src-shared/api';
import { systemClock, type Clock } from './clock';

export class EventBus {
  private readonly emitter = new EventEmitter();

  constructor(private readonly clock: Clock = systemClock) {
    this.emitter.setMaxListeners(0);
  }

  /** Delivers `event` to every listener; a throwing listener never breaks the engine. */
  emit(event: UpkeepEvent): void {
    for (const l of this.emitter.listeners('event')) {
      try {
        (l as (e: UpkeepEvent) => void)(event);
      } catch {
        // A UI listener's bug must not abort an update.
      }
    }
  }

  notify(n: Omit<Notification, 'at'> & { at?: string }): void {
    this.emit({ type: 'notification', notification: { ...n, at: n.at ?? this.clock.now().toISOString() } });
  }

  log(level: LogLine['level'], message: string, target?: string): void {
    const line: LogLine = { at: this.clock.now().toISOString(), level, message };
    if (target !== undefined) line.target = target;
    this.emit({ type: 'log', line });
  }

  /** Adds a listener; returns the function that removes it. */
  subscribe(listener: (event: UpkeepEvent) => void): () => void {
    this.emitter.on('event', listener);
    return () => this.emitter.off('event', listener);
  }
}
