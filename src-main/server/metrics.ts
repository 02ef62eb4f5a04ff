/**
 * Prometheus metrics of one daemon, in a registry of their own (never prom-client's global one,
 * so several servers in one process do not collide). Fed from the core's event stream: `history`
 * records count updates, failures, rollbacks, bytes and durations; `notification`s count config
 * reloads; `state` events keep the per-target gauges current.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { HistoryRecord, Notification, TargetView, UpkeepEvent } from '../../src-shared/api';
import type { DaemonCore } from '../engine/daemon-types';

export interface UpkeepMetrics {
  registry: Registry;
  /** The Content-Type of `render()`'s text. */
  contentType: string;
  /** Refreshes the gauges from the core (best effort) and renders the exposition text. */
  render(): Promise<string>;
  /** Feeds one event (done automatically for events of `core.subscribe`). */
  observe(event: UpkeepEvent): void;
  /** Stops listening to the core. */
  close(): void;
}

/** Seconds buckets for downloads and applies: from a fast local copy to a long transfer. */
const DURATION_BUCKETS = [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800];

/**
 * Creates the metrics of `core` and subscribes to its events. Call `close()` when done.
 */
export function createMetrics(core: DaemonCore, opts: { defaultMetrics?: boolean } = {}): UpkeepMetrics {
  const registry = new Registry();
  // prom-client's default metrics sample the event-loop delay on a timer of their own every 10 ms
  // (their lag figures include that interval, as dashboards expect): 100 wakeups a second, about
  // half of an idle daemon's CPU. A daemon nobody scrapes needs none of it, so they start with the
  // first scrape (which already lists them).
  let defaultsPending = opts.defaultMetrics !== false;

  const registers = [registry];
  const success = new Counter({ name: 'upkeep_update_success_total', help: 'Updates applied successfully', registers });
  const failure = new Counter({ name: 'upkeep_update_failure_total', help: 'Updates that failed, refused or were rolled back, by error code', labelNames: ['code'] as const, registers });
  const rollbacks = new Counter({ name: 'upkeep_rollback_total', help: 'Rollbacks performed (requested and automatic)', registers });
  const bytes = new Counter({ name: 'upkeep_download_bytes_total', help: 'Bytes fetched from the network (reused cache bytes excluded)', registers });
  const downloadSeconds = new Histogram({ name: 'upkeep_download_duration_seconds', help: 'Duration of the download phase', buckets: DURATION_BUCKETS, registers });
  const applySeconds = new Histogram({ name: 'upkeep_apply_duration_seconds', help: 'Duration of whole apply operations', buckets: DURATION_BUCKETS, registers });
  const available = new Gauge({ name: 'upkeep_update_available', help: '1 when a newer eligible release is available for the target', labelNames: ['target'] as const, registers });
  const versionInfo = new Gauge({ name: 'upkeep_current_version_info', help: 'The installed version of each target (value is always 1)', labelNames: ['target', 'version'] as const, registers });
  const reloadOk = new Counter({ name: 'config_reload_success_total', help: 'Successful configuration reloads', registers });
  const reloadFailed = new Counter({ name: 'config_reload_failure_total', help: 'Rejected configuration reloads (the running config was kept)', registers });
  const generation = new Gauge({ name: 'config_generation', help: 'Generation of the configuration in force', registers });

  const versions = new Map<string, string>();

  function onState(t: TargetView): void {
    available.set({ target: t.id }, t.available ? 1 : 0);
    const previous = versions.get(t.id);
    const current = t.current_version ?? 'none';
    if (previous !== undefined && previous !== current) versionInfo.remove({ target: t.id, version: previous });
    versions.set(t.id, current);
    versionInfo.set({ target: t.id, version: current }, 1);
  }

  function onHistory(r: HistoryRecord): void {
    if (r.bytes_downloaded !== undefined && r.bytes_downloaded > 0) bytes.inc(r.bytes_downloaded);
    const downloadMs = r.timings?.download ?? (r.operation === 'download' && r.result === 'success' ? r.duration_ms : undefined);
    if (downloadMs !== undefined) downloadSeconds.observe(downloadMs / 1000);
    if (r.operation === 'rollback' && r.result === 'success') rollbacks.inc();
    if (r.operation !== 'apply') return;
    if (r.result === 'up_to_date') return;
    if (r.result === 'success') success.inc();
    else failure.inc({ code: r.error_code ?? 'ERR_INTERNAL' });
    if (r.result === 'rolled_back') rollbacks.inc();
    if (r.result !== 'refused') applySeconds.observe(r.duration_ms / 1000);
  }

  function onNotification(n: Notification): void {
    if (n.type === 'config_reloaded') reloadOk.inc();
    else if (n.type === 'config_reload_failed') reloadFailed.inc();
    else return;
    if (n.config_generation !== undefined) generation.set(n.config_generation);
  }

  function observe(event: UpkeepEvent): void {
    switch (event.type) {
      case 'state':
        onState(event.target);
        return;
      case 'history':
        onHistory(event.record);
        return;
      case 'notification':
        onNotification(event.notification);
        return;
      default:
        return;
    }
  }

  const unsubscribe = core.subscribe((event) => {
    try {
      observe(event);
    } catch {
      // A metric must never break the event stream of the core.
    }
  });

  async function refresh(): Promise<void> {
    const [targets, info] = await Promise.allSettled([core.listTargets(), core.info()]);
    if (targets.status === 'fulfilled') {
      const ids = new Set(targets.value.map((t) => t.id));
      for (const [id, version] of versions) {
        if (ids.has(id)) continue;
        // The target left the config: drop its series.
        versions.delete(id);
        versionInfo.remove({ target: id, version });
        available.remove({ target: id });
      }
      for (const t of targets.value) onState(t);
    }
    if (info.status === 'fulfilled') generation.set(info.value.config_generation);
  }

  return {
    registry,
    contentType: registry.contentType,
    async render() {
      if (defaultsPending) {
        defaultsPending = false;
        collectDefaultMetrics({ register: registry, prefix: 'upkeep_' });
      }
      await refresh();
      return registry.metrics();
    },
    observe,
    close() {
      unsubscribe();
    },
  };
}
