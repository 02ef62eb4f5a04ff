/**
 * What automatic apply leaves alone, end to end in a real `upkeep daemon` child with
 * `auto_apply: critical` and a one-second check interval:
 *
 * - a version the user rolled back from is held: later scheduled checks do not re-apply it, the
 *   hold survives a daemon restart, `upkeep status` and the API view say so, a newer critical
 *   release ends the hold and is applied;
 * - a release a staged rollout has not brought to this machine is reported as rolling out, never
 *   as "up to date", until the rollout reaches this machine's bucket.
 */
import { describe, it, expect, afterEach } from 'vitest';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { runCli } from '../helpers/cli';
import { snapshot } from '../helpers/tree';
import { getMachineId } from '../../src-main/engine/state/machine-id';
import { rolloutBucket } from '../../src-main/engine/trust/select';
import { Fixture, call, spawnDaemon, waitFor, type DaemonChild } from './helpers';

const NEVER_WINDOW = 'maintenance_window: { days: [], start: "00:00", end: "00:01", timezone: UTC }';

describe('automatic apply and what it leaves alone (real daemon)', () => {
  let fx: Fixture | null = null;
  let child: DaemonChild | null = null;

  afterEach(async () => {
    child?.kill();
    child = null;
    await fx?.cleanup();
    fx = null;
  });

  async function start(f: Fixture): Promise<{ c: DaemonChild; view: () => Promise<Record<string, any>> }> {
    const c = await spawnDaemon(f.configPath, ['--no-watch']);
    child = c;
    return { c, view: async () => (await call(c.url, 'GET', '/api/targets/demo', { token: f.reader.token })).body };
  }

  async function stop(c: DaemonChild): Promise<void> {
    process.kill(c.pid, 'SIGTERM');
    expect(await c.exited).toEqual({ code: 0, signal: null });
    child = null;
  }

  /** Waits until the scheduler has completed `n` more checks than the view `from` shows. */
  async function laterChecks(view: () => Promise<Record<string, any>>, n: number): Promise<Record<string, any>> {
    let v = await view();
    for (let i = 0; i < n; i++) {
      const seen = v.last_checked_at;
      v = await waitFor('another scheduled check', async () => {
        const next = await view();
        return next.last_checked_at !== seen && next.state.kind !== 'checking' ? next : null;
      }, { timeoutMs: 15_000 });
    }
    return v;
  }

  it('holds the version rolled back from, across checks and a restart, until a newer release appears', async () => {
    const f = (fx = await Fixture.create('upkeep-hold-'));
    await f.publish('1.0.0', { 'bin/demo': 'one' });
    await f.writeConfig(f.configText({ target: ['check_interval: 1', 'auto_apply: critical', NEVER_WINDOW] }));
    const first = await runCli(['--config', f.configPath, 'apply', '--json']);
    expect(first.code, first.stderr).toBe(0);
    await f.publish('1.1.0', { 'bin/demo': 'two' }, { critical: true });

    let { c, view } = await start(f);
    await waitFor('the critical 1.1.0 to be applied automatically', async () => (await view()).current_version === '1.1.0', { timeoutMs: 20_000 });

    const rb = await call(c.url, 'POST', '/api/targets/demo/rollback', { token: f.admin.token });
    expect(rb.status, JSON.stringify(rb.body)).toBe(200);
    expect(rb.body).toMatchObject({ version: '1.0.0', from_version: '1.1.0' });

    // Several scheduled checks later the critical 1.1.0 is still offered, but not re-applied.
    let v = await laterChecks(view, 3);
    expect(v.current_version).toBe('1.0.0');
    expect(v.available?.version).toBe('1.1.0');
    expect(v.held_version).toBe('1.1.0');
    expect(await snapshot(f.installDir)).toEqual(await snapshot(await f.build('1.0.0')));
    const status = await runCli(['--config', f.configPath, 'status', 'demo']);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toContain('held:      1.1.0 held after rollback; apply it explicitly to install');
    // The state line does not urge the held version as an update.
    expect(status.stdout).toContain('state:     held after rollback: 1.1.0');
    expect(status.stdout).not.toContain('update available');
    const check = await runCli(['--config', f.configPath, 'check', 'demo']);
    expect(check.code, check.stderr).toBe(0);
    expect(check.stdout).toContain('demo: 1.0.0 -> 1.1.0 available (critical)');
    expect(check.stdout).toContain('held: 1.1.0 held after rollback; apply it explicitly to install (upkeep apply demo --version 1.1.0)');

    // The hold is persisted: a new daemon process keeps it.
    await stop(c);
    const runtime = JSON.parse(await fsp.readFile(path.join(f.dir, 'state', 'targets', 'demo', 'runtime.json'), 'utf8')) as { held_version: unknown };
    expect(runtime.held_version).toBe('1.1.0');
    ({ c, view } = await start(f));
    v = await laterChecks(view, 2);
    expect(v.current_version).toBe('1.0.0');
    expect(v.held_version).toBe('1.1.0');
    expect(await snapshot(f.installDir)).toEqual(await snapshot(await f.build('1.0.0')));

    // A newer critical release ends the hold and is applied on its own.
    await f.publish('1.2.0', { 'bin/demo': 'three' }, { critical: true });
    const applied = await waitFor('the critical 1.2.0 to be applied', async () => {
      const next = await view();
      return next.current_version === '1.2.0' ? next : null;
    }, { timeoutMs: 20_000 });
    expect(applied.held_version).toBeNull();
    expect(await snapshot(f.installDir)).toEqual(await snapshot(await f.build('1.2.0')));
    await stop(c);
  });

  it('an explicit apply of the held version installs it and ends the hold', async () => {
    const f = (fx = await Fixture.create('upkeep-hold-explicit-'));
    await f.publish('1.0.0', { 'bin/demo': 'one' });
    await f.publish('1.1.0', { 'bin/demo': 'two' }, { critical: true });
    await f.writeConfig(f.configText({ target: ['check_interval: 1', 'auto_apply: critical', NEVER_WINDOW] }));
    expect((await runCli(['--config', f.configPath, 'apply', '--version', '1.0.0', '--json'])).code).toBe(0);
    expect((await runCli(['--config', f.configPath, 'apply', '--json'])).code).toBe(0);
    const back = await runCli(['--config', f.configPath, 'rollback']);
    expect(back.code, back.stderr).toBe(0);

    const { c, view } = await start(f);
    const held = await laterChecks(view, 2);
    expect(held).toMatchObject({ current_version: '1.0.0', held_version: '1.1.0' });

    const apply = await call(c.url, 'POST', '/api/targets/demo/apply', { token: f.admin.token, json: { version: '1.1.0' } });
    expect(apply.status, JSON.stringify(apply.body)).toBe(200);
    const v = await waitFor('the view after the apply', async () => {
      const next = await view();
      return next.current_version === '1.1.0' && next.state.kind !== 'applying' ? next : null;
    });
    expect(v.held_version).toBeNull();
    expect(await snapshot(f.installDir)).toEqual(await snapshot(await f.build('1.1.0')));
    await stop(c);
  });

  it('a release outside this machine\'s rollout bucket is "rolling out", not "up to date", until the rollout reaches it', async () => {
    const f = (fx = await Fixture.create('upkeep-rollout-'));
    await f.publish('1.0.0', { 'bin/demo': 'one' });
    await f.writeConfig(f.configText({ target: ['check_interval: 1', 'auto_apply: all'] }));
    expect((await runCli(['--config', f.configPath, 'apply', '--json'])).code).toBe(0);
    // A rollout whose percent equals this machine's bucket just misses it (inside means bucket < percent).
    const bucket = rolloutBucket(await getMachineId(path.join(f.dir, 'state')), 'demo', '1.1.0');
    await f.publish('1.1.0', { 'bin/demo': 'two' }, { rollout: bucket });

    const { c, view } = await start(f);
    const v = await laterChecks(view, 2);
    expect(v.current_version).toBe('1.0.0');
    expect(v.available).toBeNull();
    expect(v.state.kind).toBe('up-to-date');
    expect(v.rollout_pending).toEqual({ version: '1.1.0', percent: bucket });
    const status = await runCli(['--config', f.configPath, 'status', 'demo']);
    expect(status.stdout).toContain(`state:     1.1.0 is rolling out; this machine is not yet in it (${bucket}% of machines so far)`);
    expect(status.stdout).not.toContain('up to date');
    expect(await snapshot(f.installDir)).toEqual(await snapshot(await f.build('1.0.0')));

    // One more percent brings this machine in: `auto_apply: all` without a window applies it.
    await f.setRollout('1.1.0', bucket + 1);
    const applied = await waitFor('1.1.0 to be applied once the rollout reaches this machine', async () => {
      const next = await view();
      return next.current_version === '1.1.0' && next.state.kind !== 'applying' ? next : null;
    }, { timeoutMs: 20_000 });
    expect(applied.rollout_pending).toBeNull();
    expect(await snapshot(f.installDir)).toEqual(await snapshot(await f.build('1.1.0')));
    await stop(c);
  });
});
