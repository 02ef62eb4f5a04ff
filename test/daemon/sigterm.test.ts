/**
 * SIGTERM to a real `upkeep daemon` child in the middle of an apply: the daemon exits 0 and the
 * install dir is exactly the old or exactly the new tree, agreeing with `upkeep status`.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { runCli } from '../helpers/cli';
import { snapshot } from '../helpers/tree';
import { Fixture, call, exists, spawnDaemon, waitFor, type DaemonChild } from './helpers';

describe('SIGTERM during an apply', () => {
  let fx: Fixture;
  let child: DaemonChild | null = null;
  const started = () => path.join(fx.dir, 'smoke-started');

  beforeAll(async () => {
    fx = await Fixture.create('upkeep-sigterm-');
    await fx.publish('1.0.0', { 'bin/demo': 'one', 'lib/x.so': 'x1', 'share/gone.txt': 'only in 1.0.0' });
    await fx.writeConfig(fx.configText({ target: ['hooks:', `  smoke: 'touch ${started()}; sleep 2'`] }));
    const first = await runCli(['--config', fx.configPath, 'apply', '--json']);
    expect(first.code, first.stderr).toBe(0);
    await fsp.rm(started()); // the first install ran the smoke hook too
    await fx.publish('1.1.0', { 'bin/demo': 'two', 'lib/x.so': 'x2', 'share/new.txt': 'new in 1.1.0' });
  });

  afterAll(async () => {
    child?.kill();
    await fx?.cleanup();
  });

  it('exits cleanly, leaving exactly one whole version that status reports', async () => {
    const oldTree = await snapshot(await fx.build('1.0.0'));
    const newTree = await snapshot(await fx.build('1.1.0'));
    expect(await snapshot(fx.installDir)).toEqual(oldTree);

    child = await spawnDaemon(fx.configPath, ['--no-watch']);
    const c = child;
    const applying = call(c.url, 'POST', '/api/updates/apply/1.1.0', { token: fx.admin.token }).catch((err: unknown) => err);
    await waitFor('the smoke hook (after the switch) to start', () => exists(started()));
    process.kill(c.pid, 'SIGTERM');

    const exit = await Promise.race([
      c.exited,
      new Promise<'hung'>((r) => setTimeout(() => r('hung'), 20_000)),
    ]);
    expect(exit, c.stderr()).toEqual({ code: 0, signal: null });
    // It names what it waits for, and says when it is done.
    expect(c.stderr()).toContain('SIGTERM: stopping once the running operation on demo has finished safely');
    expect(c.stderr()).toMatch(/stopped\n$/);
    const response = await applying;

    const st = await runCli(['--config', fx.configPath, 'status', '--json']);
    expect(st.code, st.stderr).toBe(0);
    const version = st.json[0].current_version;
    expect(['1.0.0', '1.1.0']).toContain(version);
    const tree = await snapshot(fx.installDir);
    expect(tree).toEqual(version === '1.1.0' ? newTree : oldTree);
    // A graceful stop lets the running apply finish: the client got its answer and the new version is in.
    expect(version).toBe('1.1.0');
    expect(response).toMatchObject({ status: 200, body: { success: true, version: '1.1.0' } });

    const hist = await runCli(['--config', fx.configPath, 'history', '--json']);
    expect(hist.code, hist.stderr).toBe(0);
    expect(hist.json.find((h: { operation: string }) => h.operation === 'apply')).toMatchObject({ to_version: '1.1.0', result: 'success' });
  });
});
