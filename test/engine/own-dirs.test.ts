/**
 * Upkeep's own directories inside the install dir are never release paths: a manifest path into
 * state_dir, download_dir or backup_dir (or onto one of them) is refused with ERR_UNSAFE_PATH
 * and nothing changes — not the lock file, not machine-id, not the cache.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { FeedBuilder, indexPayload, makeKey } from '../helpers/feed-builder';
import { snapshot, tempDir } from '../helpers/tree';
import { parseConfig } from '../../src-main/engine/config/load';
import { OperationRunner as Engine } from '../../src-main/engine/runner/operation-runner';
import { DEFAULT_LIMITS } from '../../src-main/engine/limits';
import { UpkeepError } from '../../src-shared/errors';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await fsp.rm(d, { recursive: true, force: true });
});

async function setup(files: Record<string, string>, stateDir = './install/var/state', o: { installDir?: string; before?: (dir: string) => Promise<void> } = {}) {
  const dir = await tempDir('upkeep-own-');
  dirs.push(dir);
  await o.before?.(dir);
  const feed = new FeedBuilder(path.join(dir, 'feed'));
  const key = makeKey();
  const e1 = await feed.release('1.0.0', { 'bin/app': 'app 1' }, [key]);
  const e2 = await feed.release('1.1.0', files, [key]);
  await feed.index('stable', indexPayload(1, [e2, e1]), [key]);
  const text = [
    `state_dir: ${stateDir}`,
    'download_dir: ./install/var/cache',
    'backup_dir: ./install/Backups',
    'targets:',
    '  - id: demo',
    '    kind: files',
    `    install_dir: ${o.installDir ?? './install'}`,
    '    product: demo',
    `    feed: { url: ${JSON.stringify(feed.dir)} }`,
    `    trust: { keys: ${JSON.stringify([key.line])} }`,
  ].join('\n');
  const loaded = parseConfig(text, { file: path.join(dir, 'upkeep.yaml'), dir, env: {} });
  const engine = new Engine({ loaded, actor: 'cli', limits: { ...DEFAULT_LIMITS, retries: 1, backoffBaseMs: 5, maxBackoffMs: 10 } });
  await engine.apply('demo', { version: '1.0.0' });
  return { engine, install: path.join(dir, 'install') };
}

describe('own directories inside the install dir', () => {
  it.each([
    ['the machine id in state_dir', 'var/state/machine-id'],
    ['a target state file', 'var/state/targets/demo/installed.json'],
    ['the download cache', 'var/cache/blobs/sha256/0000000000000000000000000000000000000000000000000000000000000000'],
    ['a file replacing state_dir itself', 'var/state'],
    ['a case variant of backup_dir', 'backups/demo/x'],
  ])('refuses %s (ERR_UNSAFE_PATH), nothing changed', async (_name, evil) => {
    const s = await setup({ 'bin/app': 'app 1.1', [evil]: 'evil bytes' });
    const before = await snapshot(s.install);
    const err = await s.engine.apply('demo', { version: '1.1.0' }).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(UpkeepError);
    expect((err as UpkeepError).code).toBe('ERR_UNSAFE_PATH');
    expect((err as UpkeepError).message).toMatch(/Upkeep's own directory/);
    const after = await snapshot(s.install);
    // Only the download cache may have gained verified blobs; the installed tree and state are unchanged.
    const notCache = (t: typeof before) => t.filter((e) => !e.path.startsWith('var/cache') && !e.path.startsWith('var/state/'));
    expect(notCache(after)).toEqual(notCache(before));
    expect(after.find((e) => e.path === 'var/state/machine-id')).toEqual(before.find((e) => e.path === 'var/state/machine-id'));
    expect((await s.engine.view('demo')).current_version).toBe('1.0.0');
  });

  it('a state_dir whose name starts with ".." (./install/..state) is inside too: a path into it is refused', async () => {
    const s = await setup({ 'bin/app': 'app 1.1', '..state/machine-id': 'evil bytes' }, './install/..state');
    const id = await fsp.readFile(path.join(s.install, '..state/machine-id'), 'utf8');
    const err = await s.engine.apply('demo', { version: '1.1.0' }).then(() => null, (e: unknown) => e);
    expect((err as UpkeepError).code).toBe('ERR_UNSAFE_PATH');
    expect((err as UpkeepError).message).toMatch(/Upkeep's own directory/);
    expect(await fsp.readFile(path.join(s.install, '..state/machine-id'), 'utf8')).toBe(id);
    expect((await s.engine.view('demo')).current_version).toBe('1.0.0');
  });

  // The same directories reached through symbolic links: the comparison is between real paths.
  it.each([
    ['state_dir named through a link outside the install dir (./st -> install/var/state)', './st', {}, 'var/state/machine-id', async (dir: string) => {
      await fsp.mkdir(path.join(dir, 'install/var/state'), { recursive: true });
      await fsp.symlink('install/var/state', path.join(dir, 'st'));
    }],
    ['install_dir named through a link (./inst -> install)', './install/var/state', { installDir: './inst' }, 'var/state/machine-id', async (dir: string) => {
      await fsp.mkdir(path.join(dir, 'install'), { recursive: true });
      await fsp.symlink('install', path.join(dir, 'inst'));
    }],
  ] as const)('refuses a path into them when %s (ERR_UNSAFE_PATH)', async (_name, stateDir, o, evil, before) => {
    const s = await setup({ 'bin/app': 'app 1.1', [evil]: 'evil bytes' }, stateDir, { ...o, before });
    const id = await fsp.readFile(path.join(s.install, 'var/state/machine-id'), 'utf8');
    const err = await s.engine.apply('demo', { version: '1.1.0' }).then(() => null, (e: unknown) => e);
    expect((err as UpkeepError).code).toBe('ERR_UNSAFE_PATH');
    expect((err as UpkeepError).message).toMatch(/Upkeep's own directory/);
    expect(await fsp.readFile(path.join(s.install, 'var/state/machine-id'), 'utf8')).toBe(id);
    expect((await s.engine.view('demo')).current_version).toBe('1.0.0');
  });

  it('refuses a path through a link in the install dir that leads into them (install/st -> var/state)', async () => {
    const s = await setup({ 'bin/app': 'app 1.1', 'st/machine-id': 'evil bytes' });
    await fsp.symlink('var/state', path.join(s.install, 'st'));
    const id = await fsp.readFile(path.join(s.install, 'var/state/machine-id'), 'utf8');
    const err = await s.engine.apply('demo', { version: '1.1.0' }).then(() => null, (e: unknown) => e);
    expect((err as UpkeepError).code).toBe('ERR_UNSAFE_PATH');
    expect((err as UpkeepError).message).toMatch(/Upkeep's own directory/);
    expect(await fsp.readFile(path.join(s.install, 'var/state/machine-id'), 'utf8')).toBe(id);
    expect((await s.engine.view('demo')).current_version).toBe('1.0.0');
  });

  it('installs a release whose paths stay out of them', async () => {
    const s = await setup({ 'bin/app': 'app 1.1', 'var/data/x.txt': 'fine' });
    const r = await s.engine.apply('demo', { version: '1.1.0' });
    expect(r.version).toBe('1.1.0');
    expect(await fsp.readFile(path.join(s.install, 'var/data/x.txt'), 'utf8')).toBe('fine');
  });

  it('a rollback is refused too when the config has since moved one of them into the install dir over a path it would restore', async () => {
    const dir = await tempDir('upkeep-own-');
    dirs.push(dir);
    const feed = new FeedBuilder(path.join(dir, 'feed'));
    const key = makeKey();
    // 1.0.0 ships cache/notes.txt; 1.1.0 no longer does (the point of 1.1.0's apply keeps it).
    const e1 = await feed.release('1.0.0', { 'bin/app': 'app 1', 'cache/notes.txt': 'notes 1' }, [key]);
    const e2 = await feed.release('1.1.0', { 'bin/app': 'app 1.1' }, [key]);
    await feed.index('stable', indexPayload(1, [e2, e1]), [key]);
    const config = (downloadDir: string) => parseConfig([
      'state_dir: ./state',
      `download_dir: ${downloadDir}`,
      'backup_dir: ./backups',
      'targets:',
      '  - id: demo',
      '    kind: files',
      '    install_dir: ./install',
      '    product: demo',
      `    feed: { url: ${JSON.stringify(feed.dir)} }`,
      `    trust: { keys: ${JSON.stringify([key.line])} }`,
    ].join('\n'), { file: path.join(dir, 'upkeep.yaml'), dir, env: {} });
    const limits = { ...DEFAULT_LIMITS, retries: 1, backoffBaseMs: 5, maxBackoffMs: 10 };
    const first = new Engine({ loaded: config('./cache'), actor: 'cli', limits });
    await first.apply('demo', { version: '1.0.0' });
    await first.apply('demo', { version: '1.1.0' });
    // The download cache now lives in install/cache: restoring cache/notes.txt would write into it.
    const engine = new Engine({ loaded: config('./install/cache'), actor: 'cli', limits });
    await fsp.mkdir(path.join(dir, 'install/cache'), { recursive: true });
    const install = path.join(dir, 'install');
    const before = await snapshot(install);
    const err = await engine.rollback('demo').then(() => null, (e: unknown) => e);
    expect((err as UpkeepError).code).toBe('ERR_UNSAFE_PATH');
    expect((err as UpkeepError).message).toMatch(/refusing cache\/notes\.txt: .*Upkeep's own directory cache/);
    expect(await snapshot(install)).toEqual(before);
    expect((await engine.view('demo')).current_version).toBe('1.1.0');
    // With the cache elsewhere again, the same rollback restores 1.0.0.
    const back = new Engine({ loaded: config('./cache'), actor: 'cli', limits });
    await fsp.rm(path.join(dir, 'install/cache'), { recursive: true });
    await back.rollback('demo');
    expect(await fsp.readFile(path.join(install, 'cache/notes.txt'), 'utf8')).toBe('notes 1');
  });
});
