/**
 * Upkeep's own directories (state_dir, download_dir, backup_dir) follow the install dir's
 * StrictModes rule: one that is, or has a parent that is, writable by another user (a parent may
 * be sticky, like /tmp) is refused with ERR_UNSAFE_STATE_DIR before anything is written there.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { FeedBuilder, indexPayload, makeKey } from '../helpers/feed-builder';
import { snapshot, tempDir } from '../helpers/tree';
import { parseConfig } from '../../src-main/engine/config/load';
import { OperationRunner as Engine } from '../../src-main/engine/runner/operation-runner';
import { DEFAULT_LIMITS } from '../../src-main/engine/limits';
import { assertStateDirsSafe } from '../../src-main/engine/fs/strict-modes';
import { errorKind, type UpkeepError } from '../../src-shared/errors';
import { createDaemon } from '../../src-main/engine/daemon';
import { Fixture } from '../daemon/helpers';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await fsp.rm(d, { recursive: true, force: true });
});

/** A files target with 1.0.0 installed and 1.1.0 published; `state` is relative to the temp dir. */
async function setup(o: { state?: string; extra?: string[] } = {}) {
  const dir = await tempDir('upkeep-state-dir-');
  dirs.push(dir);
  const feed = new FeedBuilder(path.join(dir, 'feed'));
  const key = makeKey();
  const e1 = await feed.release('1.0.0', { 'bin/app': 'app 1.0' }, [key]);
  const e2 = await feed.release('1.1.0', { 'bin/app': 'app 1.1' }, [key]);
  await feed.index('stable', indexPayload(1, [e1]), [key]);
  const text = [
    `state_dir: ${o.state ?? './state'}`,
    ...(o.extra ?? []),
    'targets:',
    '  - id: demo',
    '    kind: files',
    '    install_dir: ./install',
    '    product: demo',
    `    feed: { url: ${JSON.stringify(feed.dir)} }`,
    `    trust: { keys: ${JSON.stringify([key.line])} }`,
  ].join('\n');
  const loaded = parseConfig(text, { file: path.join(dir, 'upkeep.yaml'), dir, env: {} });
  const engine = new Engine({ loaded, actor: 'cli', limits: { ...DEFAULT_LIMITS, retries: 1, backoffBaseMs: 5, maxBackoffMs: 10 } });
  await engine.apply('demo', {});
  await feed.index('stable', indexPayload(2, [e2, e1]), [key]);
  return { dir, engine, config: loaded.config };
}

/** Every operation that writes state is refused with ERR_UNSAFE_STATE_DIR and nothing under `dir` changes. */
async function expectRefused(s: Awaited<ReturnType<typeof setup>>, setting: string, judged: string): Promise<UpkeepError> {
  const before = await snapshot(s.dir);
  let first: UpkeepError | null = null;
  for (const run of [() => s.engine.check('demo'), () => s.engine.download('demo'), () => s.engine.apply('demo'), () => s.engine.rollback('demo'), () => s.engine.recoverAll()]) {
    const err = (await run().then(() => null, (e: unknown) => e)) as UpkeepError | null;
    expect(err?.code).toBe('ERR_UNSAFE_STATE_DIR');
    expect(err?.details).toMatchObject({ setting, dir: judged });
    first ??= err;
  }
  expect(await snapshot(s.dir)).toEqual(before);
  expect(await fsp.readFile(path.join(s.dir, 'install', 'bin', 'app'), 'utf8')).toBe('app 1.0');
  return first!;
}

describe('state_dir, download_dir and backup_dir writable by another user', () => {
  it('refuses a state_dir writable by all users (0777): nothing written, the error names the directory and the writer', async () => {
    const s = await setup();
    const state = path.join(s.dir, 'state');
    await fsp.chmod(state, 0o777);
    const err = await expectRefused(s, 'state_dir', state);
    expect(err.message).toContain(state);
    expect(err.message).toContain('writable by all users (mode 0777)');
    expect(errorKind(err.code)).toBe('security');
    // Sticky does not make the directory itself safe (anyone may create entries in it).
    await fsp.chmod(state, 0o1777);
    await expectRefused(s, 'state_dir', state);
    // Fixed: the same operations work.
    await fsp.chmod(state, 0o755);
    expect((await s.engine.apply('demo')).version).toBe('1.1.0');
    expect(await fsp.readFile(path.join(s.dir, 'install', 'bin', 'app'), 'utf8')).toBe('app 1.1');
  });

  it('refuses a group-writable state_dir and one under a parent writable by others without the sticky bit', async () => {
    const s = await setup({ state: './shared/state' });
    const state = path.join(s.dir, 'shared', 'state');
    await fsp.chmod(state, 0o770);
    expect((await expectRefused(s, 'state_dir', state)).message).toContain('writable by its group (mode 0770)');
    await fsp.chmod(state, 0o755);
    await fsp.chmod(path.join(s.dir, 'shared'), 0o777);
    await expectRefused(s, 'state_dir', path.join(s.dir, 'shared'));
  });

  it('accepts a sticky world-writable parent (like /tmp), as the install-dir check does', async () => {
    const s = await setup({ state: './pub/state' });
    await fsp.chmod(path.join(s.dir, 'pub'), 0o1777);
    expect((await s.engine.check('demo')).latest_version).toBe('1.1.0');
    expect((await s.engine.apply('demo')).version).toBe('1.1.0');
    await expect(assertStateDirsSafe(s.config)).resolves.toBeUndefined();
  });

  it('checks a download_dir and a backup_dir configured apart from state_dir', async () => {
    const s = await setup({ extra: ['download_dir: ./cache', 'backup_dir: ./backups'] });
    await fsp.chmod(path.join(s.dir, 'cache'), 0o777);
    await expectRefused(s, 'download_dir', path.join(s.dir, 'cache'));
    await fsp.chmod(path.join(s.dir, 'cache'), 0o700);
    await fsp.chmod(path.join(s.dir, 'backups'), 0o775);
    await expectRefused(s, 'backup_dir', path.join(s.dir, 'backups'));
    await fsp.chmod(path.join(s.dir, 'backups'), 0o700);
    expect((await s.engine.apply('demo')).version).toBe('1.1.0');
  });

  it('refuses the writes of settings and skips by the daemon, and a daemon start (its recovery writes)', async () => {
    const fx = await Fixture.create('upkeep-state-dir-daemon-');
    dirs.push(fx.dir);
    await fx.publish('1.0.0', { 'bin/demo': 'one' });
    await fx.writeConfig(fx.configText());
    const core = await createDaemon({ configPath: fx.configPath, env: {} });
    const state = path.join(fx.dir, 'state');
    try {
      await core.check('demo');
      await fsp.chmod(state, 0o777);
      const before = await snapshot(fx.dir);
      for (const run of [() => core.skipVersion('demo', '1.0.0'), () => core.updateSettings('demo', { auto_download: false })]) {
        await expect(run()).rejects.toMatchObject({ code: 'ERR_UNSAFE_STATE_DIR', details: { setting: 'state_dir', dir: state } });
      }
      expect(await snapshot(fx.dir)).toEqual(before);
    } finally {
      await core.close();
    }
    await expect(createDaemon({ configPath: fx.configPath, env: {} })).rejects.toMatchObject({ code: 'ERR_UNSAFE_STATE_DIR' });
  });
});
