/**
 * Automatic apply end to end in a real `upkeep daemon` child: with `auto_apply: critical` and a
 * short check_interval, a newly published non-critical release is only reported, and a newly
 * published critical release is applied without anyone asking.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { runCli } from '../helpers/cli';
import { snapshot } from '../helpers/tree';
import { Fixture, call, spawnDaemon, waitFor, type DaemonChild } from './helpers';

describe('auto_apply: critical in a running daemon', () => {
  let fx: Fixture;
  let child: DaemonChild | null = null;

  beforeAll(async () => {
    fx = await Fixture.create('upkeep-auto-');
    await fx.publish('1.0.0', { 'bin/demo': 'one' });
    // A maintenance window that never opens today: only the critical path may apply.
    await fx.writeConfig(fx.configText({ target: ['check_interval: 1', 'auto_apply: critical', 'maintenance_window: { days: [], start: "00:00", end: "00:01", timezone: UTC }'] }));
    const first = await runCli(['--config', fx.configPath, 'apply', '--json']);
    expect(first.code, first.stderr).toBe(0);
  });

  afterAll(async () => {
    child?.kill();
    await fx?.cleanup();
  });

  it('reports a normal release, then applies a critical one on its own', async () => {
    child = await spawnDaemon(fx.configPath, ['--no-watch']);
    const c = child;
    const view = async () => (await call(c.url, 'GET', '/api/targets/demo', { token: fx.reader.token })).body;
    expect((await view()).current_version).toBe('1.0.0');

    await fx.publish('1.0.1', { 'bin/demo': 'one-point-one' });
    const seen = await waitFor('the scheduler to see 1.0.1', async () => {
      const v = await view();
      return v.available?.version === '1.0.1' ? v : null;
    });
    // Wait for a later check: the tick that found 1.0.1 has finished without applying it.
    await waitFor('another scheduled check', async () => (await view()).last_checked_at !== seen.last_checked_at);
    expect((await view()).current_version).toBe('1.0.0');

    await fx.publish('1.1.0', { 'bin/demo': 'two' }, { critical: true });
    const applied = await waitFor('the critical release to be applied', async () => {
      const v = await view();
      return v.current_version === '1.1.0' ? v : null;
    }, { timeoutMs: 20_000 });
    expect(applied.available).toBeNull();
    expect(await snapshot(fx.installDir)).toEqual(await snapshot(await fx.build('1.1.0')));

    // The history record is appended just after the switch commits: wait for it.
    const auto = await waitFor('the apply in history', async () => {
      const hist = await call(c.url, 'GET', '/api/targets/demo/history', { token: fx.reader.token });
      return hist.body.find((h: { operation: string; to_version: string }) => h.operation === 'apply' && h.to_version === '1.1.0');
    });
    expect(auto).toMatchObject({ actor: 'scheduler', from_version: '1.0.0', to_version: '1.1.0', result: 'success' });

    process.kill(c.pid, 'SIGTERM');
    expect(await c.exited).toEqual({ code: 0, signal: null });
  });
});
