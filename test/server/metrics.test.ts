import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { HistoryRecord } from '../../src-shared/api';
import { createMetrics } from '../../src-main/server/metrics';
import { FakeCore } from './fake-core';
import { ADMIN, call, startHarness, type Harness } from './helpers';

function sample(text: string, name: string, labels = ''): number | null {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `) || (labels === '' && l.startsWith(`${name} `)));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : null;
}

function record(o: Partial<HistoryRecord>): HistoryRecord {
  return {
    id: 'x', target: 'app', operation: 'apply', actor: 'api', from_version: '1.0.0', to_version: '1.2.0', result: 'success',
    error_code: null, error_message: null, started_at: '2025-01-01T00:00:00Z', finished_at: '2025-01-01T00:00:03Z', duration_ms: 3000, ...o,
  };
}

let h: Harness;
beforeEach(async () => {
  h = await startHarness();
});
afterEach(async () => {
  await h.close();
});

describe('GET /metrics', () => {
  it('exposes every metric name, default process metrics prefixed upkeep_', async () => {
    const r = await call(h.server, 'GET', '/metrics');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toContain('text/plain');
    for (const name of [
      'upkeep_update_success_total', 'upkeep_update_failure_total', 'upkeep_rollback_total', 'upkeep_download_bytes_total',
      'upkeep_download_duration_seconds', 'upkeep_apply_duration_seconds', 'upkeep_update_available', 'upkeep_current_version_info',
      'config_reload_success_total', 'config_reload_failure_total', 'config_generation', 'upkeep_process_cpu_user_seconds_total',
    ]) {
      expect(r.text).toContain(`# TYPE ${name} `);
    }
    expect(sample(r.text, 'upkeep_current_version_info', '{target="app",version="1.0.0"}')).toBe(1);
    expect(sample(r.text, 'config_generation')).toBe(1);
  });

  it('counts updates, failures, rollbacks, bytes and durations from history events', async () => {
    h.core.emit({ type: 'history', record: record({ timings: { download: 2000 }, bytes_downloaded: 4096 }) });
    h.core.emit({ type: 'history', record: record({ result: 'rolled_back', error_code: 'ERR_HEALTH_CHECK_FAILED', duration_ms: 1000 }) });
    h.core.emit({ type: 'history', record: record({ result: 'failed', error_code: 'ERR_HASH_MISMATCH' }) });
    h.core.emit({ type: 'history', record: record({ operation: 'rollback', result: 'success' }) });
    const text = (await call(h.server, 'GET', '/metrics')).text;
    expect(sample(text, 'upkeep_update_success_total')).toBe(1);
    expect(sample(text, 'upkeep_update_failure_total', '{code="ERR_HEALTH_CHECK_FAILED"}')).toBe(1);
    expect(sample(text, 'upkeep_update_failure_total', '{code="ERR_HASH_MISMATCH"}')).toBe(1);
    expect(sample(text, 'upkeep_rollback_total')).toBe(2);
    expect(sample(text, 'upkeep_download_bytes_total')).toBe(4096);
    expect(sample(text, 'upkeep_download_duration_seconds_sum')).toBe(2);
    expect(sample(text, 'upkeep_apply_duration_seconds_count')).toBe(3);
    expect(sample(text, 'upkeep_apply_duration_seconds_sum')).toBe(7);
  });

  it('tracks availability, the installed version and config reloads', async () => {
    await call(h.server, 'POST', '/api/targets/app/check', { token: ADMIN });
    let text = (await call(h.server, 'GET', '/metrics')).text;
    expect(sample(text, 'upkeep_update_available', '{target="app"}')).toBe(1);
    expect(sample(text, 'upkeep_update_available', '{target="tool"}')).toBe(0);

    await call(h.server, 'POST', '/api/targets/app/apply', { token: ADMIN, json: {} });
    await call(h.server, 'POST', '/admin/reload', { token: ADMIN });
    h.core.reloadError = 'targets: required';
    await call(h.server, 'POST', '/admin/reload', { token: ADMIN });
    text = (await call(h.server, 'GET', '/metrics')).text;
    expect(sample(text, 'upkeep_update_available', '{target="app"}')).toBe(0);
    expect(sample(text, 'upkeep_current_version_info', '{target="app",version="1.2.0"}')).toBe(1);
    expect(text).not.toContain('version="1.0.0"');
    expect(sample(text, 'config_reload_success_total')).toBe(1);
    expect(sample(text, 'config_reload_failure_total')).toBe(1);
    expect(sample(text, 'config_generation')).toBe(2);
    expect(sample(text, 'upkeep_update_success_total')).toBe(1);
  });
});

describe('createMetrics', () => {
  it('uses a registry of its own per instance and stops listening on close', async () => {
    const core = new FakeCore();
    const a = createMetrics(core, { defaultMetrics: false });
    const b = createMetrics(core, { defaultMetrics: false });
    core.emit({ type: 'history', record: record({}) });
    a.close();
    core.emit({ type: 'history', record: record({}) });
    expect(sample(await a.render(), 'upkeep_update_success_total')).toBe(1);
    expect(sample(await b.render(), 'upkeep_update_success_total')).toBe(2);
    b.close();
    expect(core.subscriberCount()).toBe(0);
  });

  it('starts the default process metrics (and their event-loop sampling timer) with the first scrape, which lists them', async () => {
    const core = new FakeCore();
    const m = createMetrics(core);
    expect(m.registry.getSingleMetric('upkeep_nodejs_eventloop_lag_p99_seconds')).toBeUndefined();
    expect(m.registry.getSingleMetric('upkeep_process_cpu_user_seconds_total')).toBeUndefined();
    const text = await m.render();
    for (const name of ['upkeep_nodejs_eventloop_lag_seconds', 'upkeep_nodejs_eventloop_lag_p99_seconds', 'upkeep_process_cpu_user_seconds_total']) {
      expect(text).toContain(`# TYPE ${name} gauge`.replace('upkeep_process_cpu_user_seconds_total gauge', 'upkeep_process_cpu_user_seconds_total counter'));
    }
    // Later scrapes list them once.
    const again = await m.render();
    expect(again.split('\n').filter((l) => l.startsWith('# TYPE upkeep_nodejs_eventloop_lag_p99_seconds ')).length).toBe(1);
    m.close();
  });
});
