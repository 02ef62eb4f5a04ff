/**
 * Config hot reload (seed 001) against the real daemon: POST /admin/reload swaps a valid file and
 * bumps config_generation, rejects an invalid one with the precise error while the old config keeps
 * serving, names restart-only settings, leaves an in-flight apply on the config it started with;
 * a real `upkeep daemon` child reloads on SIGHUP and on a file change.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { Fixture, call, exists, spawnDaemon, startInProcess, waitFor, type DaemonChild, type InProcess } from './helpers';

describe('POST /admin/reload on the in-process daemon', () => {
  let fx: Fixture;
  let d: InProcess;
  const marker = () => path.join(fx.dir, 'post-apply.txt');
  const smokeStarted = () => path.join(fx.dir, 'smoke-started');

  const baseTarget = () => [
    `hooks:`,
    `  smoke: 'touch ${smokeStarted()}; sleep 2'`,
    `  post_apply: 'echo old-config >> ${marker()}'`,
  ];

  beforeAll(async () => {
    fx = await Fixture.create();
    await fx.publish('1.0.0', { 'bin/demo': 'v1' });
    await fx.writeConfig(fx.configText({ target: ['retention: 3'] }));
    d = await startInProcess(fx.configPath);
  });

  afterAll(async () => {
    await d?.close();
    await fx?.cleanup();
  });

  const info = async () => (await call(d.url, 'GET', '/api/info', { token: fx.reader.token })).body;
  const target = async () => (await call(d.url, 'GET', '/api/targets/demo', { token: fx.reader.token })).body;

  it('a valid change is swapped in and config_generation grows by one', async () => {
    const before = await info();
    expect(before.config_generation).toBe(1);
    await fx.writeConfig(fx.configText({ name: 'Renamed server', target: ['retention: 5'] }));
    const r = await call(d.url, 'POST', '/admin/reload', { token: fx.admin.token });
    expect(r.status, r.text).toBe(200);
    expect(r.body).toMatchObject({ status: 'success', config_generation: 2, restart_required: [] });
    expect((await info()).config_generation).toBe(2);
    const t = await target();
    expect(t.name).toBe('Renamed server');
    expect(t.policy.retention).toBe(5);
  });

  it('an invalid file is refused with 400 and the precise error; the old config stays in force', async () => {
    const text = fx.configText({ name: 'Broken', target: ['retention: 0'] });
    await fx.writeConfig(text);
    const lines = text.split('\n');
    const line = lines.findIndex((l) => l.includes('retention: 0')) + 1;
    const col = lines[line - 1]!.indexOf('0') + 1;

    const r = await call(d.url, 'POST', '/admin/reload', { token: fx.admin.token });
    expect(r.status).toBe(400);
    expect(r.body).toEqual({
      status: 'error',
      message: 'Configuration reload failed',
      error: `${fx.configPath}:${line}:${col}: targets[0].retention: Too small: expected number to be >=1`,
      code: 'ERR_CONFIG_INVALID',
    });
    expect((await info()).config_generation).toBe(2);
    const t = await target();
    expect(t.name).toBe('Renamed server');
    expect(t.policy.retention).toBe(5);
    // The old config still serves operations.
    const check = await call(d.url, 'POST', '/api/targets/demo/check', { token: fx.admin.token });
    expect(check.status, check.text).toBe(200);
    expect(check.body).toMatchObject({ target: 'demo', latest_version: '1.0.0', update_available: true });

    // A YAML syntax error is refused the same way.
    await fsp.writeFile(fx.configPath, 'targets: [\n');
    const syntax = await call(d.url, 'POST', '/admin/reload', { token: fx.admin.token });
    expect(syntax.status).toBe(400);
    expect(syntax.body.code).toBe('ERR_CONFIG_INVALID');
    expect(syntax.body.error).toContain(`${fx.configPath}:`);
    expect((await info()).config_generation).toBe(2);
  });

  it('changing api.port is applied to the file but reported as restart_required', async () => {
    await fx.writeConfig(fx.configText({ name: 'Renamed server', target: ['retention: 5'] }).replace('port: 8765', 'port: 9911'));
    const r = await call(d.url, 'POST', '/admin/reload', { token: fx.admin.token });
    expect(r.status, r.text).toBe(200);
    expect(r.body).toMatchObject({ config_generation: 3, restart_required: ['api.port'] });
    expect((await info()).restart_required).toEqual(['api.port']);
    // Still listening where it was.
    expect((await call(d.url, 'GET', '/health')).status).toBe(200);
  });

  it('an apply in flight finishes with the config it started with; the next one uses the new config', async () => {
    await fx.writeConfig(fx.configText({ target: baseTarget() }));
    expect((await call(d.url, 'POST', '/admin/reload', { token: fx.admin.token })).status).toBe(200);
    const gen = (await info()).config_generation;

    const applying = call(d.url, 'POST', '/api/targets/demo/apply', { token: fx.admin.token, json: { version: '1.0.0' } });
    applying.catch(() => undefined); // awaited below; never an unhandled rejection if an assertion fails first
    await waitFor('the smoke hook to start', () => exists(smokeStarted()));

    await fx.writeConfig(fx.configText({ name: 'New config', target: ['hooks:', `  post_apply: 'echo new-config >> ${marker()}'`] }));
    const r = await call(d.url, 'POST', '/admin/reload', { token: fx.admin.token });
    expect(r.status, r.text).toBe(200);
    expect(r.body.config_generation).toBe(gen + 1);
    expect(await exists(marker())).toBe(false); // the apply has not finished yet

    const res = await applying;
    expect(res.status, res.text).toBe(200);
    expect(res.body).toMatchObject({ success: true, version: '1.0.0' });
    expect(await fsp.readFile(marker(), 'utf8')).toBe('old-config\n');
    expect((await target()).name).toBe('New config');

    await fx.publish('1.1.0', { 'bin/demo': 'v2' });
    const next = await call(d.url, 'POST', '/api/targets/demo/apply', { token: fx.admin.token, json: {} });
    expect(next.status, next.text).toBe(200);
    expect(next.body.version).toBe('1.1.0');
    expect(await fsp.readFile(marker(), 'utf8')).toBe('old-config\nnew-config\n');
  });
});

describe('a real `upkeep daemon` child reloads on SIGHUP and on file change', () => {
  let fx: Fixture;
  let child: DaemonChild | null = null;

  beforeAll(async () => {
    fx = await Fixture.create();
    await fx.publish('1.0.0', { 'bin/demo': 'v1' });
    await fx.writeConfig(fx.configText({ name: 'First' }));
  });

  afterAll(async () => {
    child?.kill();
    await fx?.cleanup();
  });

  it('SIGHUP re-reads the edited file (file watching off)', async () => {
    child = await spawnDaemon(fx.configPath, ['--no-watch']);
    const c = child;
    const info = async () => (await call(c.url, 'GET', '/api/info', { token: fx.reader.token })).body;
    const name = async () => (await call(c.url, 'GET', '/api/targets/demo', { token: fx.reader.token })).body.name;
    expect((await info()).config_generation).toBe(1);
    expect(await name()).toBe('First');

    await fx.writeConfig(fx.configText({ name: 'After SIGHUP' }));
    process.kill(c.pid, 'SIGHUP');
    await waitFor('generation 2 after SIGHUP', async () => (await info()).config_generation === 2);
    expect(await name()).toBe('After SIGHUP');

    process.kill(c.pid, 'SIGTERM');
    expect(await c.exited).toEqual({ code: 0, signal: null });
  });

  it('an edit of the watched file reloads it; an invalid edit is refused and the last good config kept', async () => {
    await fx.writeConfig(fx.configText({ name: 'First' }));
    child = await spawnDaemon(fx.configPath);
    const c = child;
    const info = async () => (await call(c.url, 'GET', '/api/info', { token: fx.reader.token })).body;
    const name = async () => (await call(c.url, 'GET', '/api/targets/demo', { token: fx.reader.token })).body.name;
    expect(await name()).toBe('First');

    await fx.writeConfig(fx.configText({ name: 'Edited on disk' }));
    await waitFor('the file-watch reload', async () => (await name()) === 'Edited on disk');
    const gen = (await info()).config_generation;
    expect(gen).toBeGreaterThanOrEqual(2);

    await fsp.writeFile(fx.configPath, 'targets: []\n');
    await waitFor('the failed reload to be reported', () => c.stderr().includes('failed, keeping the running config'));
    expect(c.stderr()).toContain('targets: targets needs at least one target');
    expect((await info()).config_generation).toBe(gen);
    expect(await name()).toBe('Edited on disk');

    process.kill(c.pid, 'SIGTERM');
    expect(await c.exited).toEqual({ code: 0, signal: null });
  });
});
