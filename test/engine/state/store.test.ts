import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { promises as fsp } from 'node:fs';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { getMachineId } from '../../../src-main/engine/state/machine-id';
import { availableRelease, getFeedMemory, setFeedMemory, getCachedIndex, readRuntime, updateRuntime, feedStateDir, type FeedMemory } from '../../../src-main/engine/state/store';
import { shownAvailable } from '../../../src-main/engine/runner/target-memory';
import { availableAfterApply } from '../../../src-main/engine/runner/hold';
import { UpkeepError } from '../../../src-shared/errors';
import { writeFileDurable } from '../../../src-main/engine/fs/atomic';

const ROOT = process.cwd();

let tmp: string;
beforeEach(async () => {
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'upkeep-state-'));
});
afterEach(async () => {
  await fsp.rm(tmp, { recursive: true, force: true });
});

function runNode(script: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`child exited ${code}: ${err}`))));
  });
}

const sha = (b: Uint8Array | string): string => createHash('sha256').update(b).digest('hex');

describe('machine id', () => {
  it('is 32 hex characters, created once and stable', async () => {
    const stateDir = path.join(tmp, 'state');
    const a = await getMachineId(stateDir);
    expect(a).toMatch(/^[0-9a-f]{32}$/);
    expect((await fsp.readFile(path.join(stateDir, 'machine-id'), 'utf8')).trim()).toBe(a);
    expect(await getMachineId(stateDir)).toBe(a);
    expect((await fsp.readdir(stateDir)).sort()).toEqual(['machine-id']);
  });

  it('is the same for several processes creating it at once', async () => {
    const script = path.join(tmp, 'mid.ts');
    await fsp.writeFile(script, `import { getMachineId } from ${JSON.stringify(path.join(ROOT, 'src-main/engine/state/machine-id'))};\ngetMachineId(process.argv[2]!).then((id) => console.log(id));\n`);
    const stateDir = path.join(tmp, 'shared');
    const ids = await Promise.all(Array.from({ length: 6 }, () => runNode(script, [stateDir])));
    expect(new Set(ids).size).toBe(1);
    expect(ids[0]).toMatch(/^[0-9a-f]{32}$/);
    expect((await fsp.readFile(path.join(stateDir, 'machine-id'), 'utf8')).trim()).toBe(ids[0]);
    expect((await fsp.readdir(stateDir)).sort()).toEqual(['machine-id']);
  });

  it('replaces a damaged file', async () => {
    await fsp.writeFile(path.join(tmp, 'machine-id'), 'garbage');
    const id = await getMachineId(tmp);
    expect(id).toMatch(/^[0-9a-f]{32}$/);
    expect(await getMachineId(tmp)).toBe(id);
  });
});

describe('feed memory', () => {
  const url = 'https://cdn.example.com/feed';
  const mem = (sequence: number, bytes: string): FeedMemory => ({ sequence, etag: `"e${sequence}"`, last_modified: null, index_sha256: sha(bytes), accepted_at: '2026-11-24T00:00:00Z' });

  it('remembers per feed and channel, with the cached index bytes', async () => {
    expect(await getFeedMemory(tmp, url, 'stable')).toBeNull();
    expect(await getCachedIndex(tmp, url, 'stable')).toBeNull();
    await setFeedMemory(tmp, url, 'stable', mem(3, 'index-3'), Buffer.from('index-3'));
    expect(await getFeedMemory(tmp, url, 'stable')).toEqual(mem(3, 'index-3'));
    expect((await getCachedIndex(tmp, url, 'stable'))?.toString()).toBe('index-3');
    expect(await getFeedMemory(tmp, url, 'beta')).toBeNull();
    expect(await getFeedMemory(tmp, url + '/other', 'stable')).toBeNull();
    const onDisk = path.join(feedStateDir(tmp, url, 'stable'), 'index.json');
    expect(onDisk.startsWith(path.join(tmp, 'feeds'))).toBe(true);
    expect(await fsp.readFile(onDisk, 'utf8')).toBe('index-3');
  });

  it('only ever raises the sequence', async () => {
    await setFeedMemory(tmp, url, 'stable', mem(5, 'five'), Buffer.from('five'));
    const err = await setFeedMemory(tmp, url, 'stable', mem(4, 'four'), Buffer.from('four')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpkeepError);
    expect((err as UpkeepError).code).toBe('ERR_ROLLBACK_ATTACK');
    expect((await getFeedMemory(tmp, url, 'stable'))?.sequence).toBe(5);
    expect((await getCachedIndex(tmp, url, 'stable'))?.toString()).toBe('five');
    // Same sequence (a 304 refresh) and higher ones are accepted.
    await setFeedMemory(tmp, url, 'stable', { ...mem(5, 'five'), etag: '"new"' });
    expect((await getFeedMemory(tmp, url, 'stable'))?.etag).toBe('"new"');
    await setFeedMemory(tmp, url, 'stable', mem(9, 'nine'), Buffer.from('nine'));
    expect((await getCachedIndex(tmp, url, 'stable'))?.toString()).toBe('nine');
  });

  it('reports a damaged memory.json as ERR_STATE_CORRUPT instead of forgetting the sequence', async () => {
    await setFeedMemory(tmp, url, 'stable', mem(7, 'seven'), Buffer.from('seven'));
    const file = path.join(feedStateDir(tmp, url, 'stable'), 'memory.json');
    for (const bytes of ['', '{"sequence": 7', '{"sequence": -1, "index_sha256": "00"}', '{"index_sha256": "x"}']) {
      await fsp.writeFile(file, bytes);
      await expect(getFeedMemory(tmp, url, 'stable')).rejects.toMatchObject({ code: 'ERR_STATE_CORRUPT', details: { file } });
      await expect(setFeedMemory(tmp, url, 'stable', mem(1, 'one'), Buffer.from('one'))).rejects.toMatchObject({ code: 'ERR_STATE_CORRUPT' });
      expect(await fsp.readFile(file, 'utf8')).toBe(bytes);
    }
  });

  it('does not serve cached bytes that no longer match', async () => {
    await setFeedMemory(tmp, url, 'stable', mem(1, 'one'), Buffer.from('one'));
    await fsp.writeFile(path.join(feedStateDir(tmp, url, 'stable'), 'index.json'), 'tampered');
    expect(await getCachedIndex(tmp, url, 'stable')).toBeNull();
  });

  it('refuses bytes that do not match index_sha256', async () => {
    const err = await setFeedMemory(tmp, url, 'stable', mem(1, 'one'), Buffer.from('two')).catch((e: unknown) => e);
    expect((err as UpkeepError).code).toBe('ERR_USAGE');
    expect(await getFeedMemory(tmp, url, 'stable')).toBeNull();
  });
});

describe('runtime state', () => {
  it('defaults, updates durably and keeps unrelated files alone', async () => {
    expect(await readRuntime(tmp, 'demo')).toEqual({ last_checked_at: null, last_error: null, available: null, settings: {}, held_version: null, rollout_pending: null });
    const installed = path.join(tmp, 'targets', 'demo', 'installed.json');
    await fsp.mkdir(path.dirname(installed), { recursive: true });
    await fsp.writeFile(installed, '{"version":"1.0.0"}');

    await updateRuntime(tmp, 'demo', (s) => {
      s.last_checked_at = '2026-11-24T01:00:00Z';
      s.available = { version: '1.1.0' };
    });
    await updateRuntime(tmp, 'demo', (s) => ({ ...s, settings: { ...s.settings, channel: 'beta', paused_until: '2026-12-01T00:00:00Z', skip_versions: ['1.1.0'] } }));
    const onDisk = JSON.parse(await fsp.readFile(path.join(tmp, 'targets', 'demo', 'runtime.json'), 'utf8'));
    expect(onDisk).toEqual({
      last_checked_at: '2026-11-24T01:00:00Z',
      last_error: null,
      available: { version: '1.1.0' },
      settings: { channel: 'beta', paused_until: '2026-12-01T00:00:00Z', skip_versions: ['1.1.0'] },
      held_version: null,
      rollout_pending: null,
    });
    expect(await fsp.readFile(installed, 'utf8')).toBe('{"version":"1.0.0"}');
    expect((await readRuntime(tmp, 'demo')).settings.channel).toBe('beta');
  });

  it('keeps the held version and the pending rollout, and refuses malformed ones', async () => {
    await updateRuntime(tmp, 'demo', (s) => ({ ...s, held_version: '1.2.0', rollout_pending: { version: '1.3.0', percent: 25 } }));
    expect(await readRuntime(tmp, 'demo')).toMatchObject({ held_version: '1.2.0', rollout_pending: { version: '1.3.0', percent: 25 } });
    const file = path.join(tmp, 'targets', 'demo', 'runtime.json');
    for (const bad of [{ held_version: 12 }, { held_version: '' }, { rollout_pending: { version: '1.3.0', percent: 101 } }, { rollout_pending: { version: '1.3.0' } }]) {
      await fsp.writeFile(file, JSON.stringify({ last_checked_at: null, last_error: null, available: null, settings: {}, ...bad }));
      await expect(readRuntime(tmp, 'demo')).rejects.toMatchObject({ code: 'ERR_STATE_CORRUPT' });
    }
  });

  it('does not lose concurrent updates inside one process', async () => {
    await Promise.all(Array.from({ length: 20 }, (_, i) => updateRuntime(tmp, 'demo', (s) => {
      s.settings = { ...s.settings, skip_versions: [...(s.settings.skip_versions ?? []), `1.0.${i}`] };
    })));
    expect((await readRuntime(tmp, 'demo')).settings.skip_versions).toHaveLength(20);
  });

  it('refuses target ids that could escape the state directory', async () => {
    const err = await readRuntime(tmp, '../evil').catch((e: unknown) => e);
    expect((err as UpkeepError).code).toBe('ERR_USAGE');
  });

  it('reports a damaged runtime.json as ERR_STATE_CORRUPT naming it, and leaves it alone', async () => {
    const file = path.join(tmp, 'targets', 'demo', 'runtime.json');
    await fsp.mkdir(path.dirname(file), { recursive: true });
    for (const bytes of ['{"last_checked_at": ', '{"last_checked_at": 5}', '[]', '{"settings": {"auto_apply": "sometimes"}}']) {
      await fsp.writeFile(file, bytes);
      const err = await readRuntime(tmp, 'demo').catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'ERR_STATE_CORRUPT', details: { file } });
      expect((err as Error).message).toContain(file);
      const upd = await updateRuntime(tmp, 'demo', (s) => { s.last_error = { code: 'ERR_DOWNLOAD_FAILED', message: 'boom' }; }).catch((e: unknown) => e);
      expect(upd).toMatchObject({ code: 'ERR_STATE_CORRUPT' });
      expect(await fsp.readFile(file, 'utf8')).toBe(bytes);
    }
  });

  it('reads runtime.json files that lack newer fields', async () => {
    const file = path.join(tmp, 'targets', 'demo', 'runtime.json');
    await fsp.mkdir(path.dirname(file), { recursive: true });
    await fsp.writeFile(file, '{"last_checked_at": "2026-11-24T01:00:00Z"}');
    expect(await readRuntime(tmp, 'demo')).toEqual({ last_checked_at: '2026-11-24T01:00:00Z', last_error: null, available: null, settings: {}, held_version: null, rollout_pending: null });
  });
});

describe('the offered release', () => {
  it('is read from runtime.json by one reader: a release with a string version, else none', async () => {
    const release = { version: '1.2.0', is_critical: false, is_breaking: false, files: [] };
    await updateRuntime(tmp, 'demo', (s) => ({ ...s, available: release }));
    const rt = await readRuntime(tmp, 'demo');
    expect(availableRelease(rt.available)).toEqual(release);
    expect(shownAvailable({ current: '1.0.0', points_count: 0, runtime: rt, facts: [], damage: null, read_at: 0 })).toEqual(release);
    expect(shownAvailable({ current: '1.2.0', points_count: 0, runtime: rt, facts: [], damage: null, read_at: 0 })).toBeNull();
    for (const bad of [null, undefined, 'x', 5, [], ['1.2.0'], {}, { version: 7 }, { version: null }]) {
      expect(availableRelease(bad)).toBeNull();
      expect(shownAvailable({ current: null, points_count: 0, runtime: { ...rt, available: bad }, facts: [], damage: null, read_at: 0 })).toBeNull();
      // Without a recorded release nothing stays available after an apply (the feed is not even asked).
      expect(await availableAfterApply(null, bad, '1.0.0')).toBeNull();
    }
  });
});

describe('durable writes and symbolic links', () => {
  it('never write a state file through a symbolic link at its path: ERR_STATE_CORRUPT, the link and its target unchanged', async () => {
    const outside = path.join(tmp, 'outside.txt');
    // Valid JSON of runtime.json's shape behind the link: refused for the link itself (read or write).
    await fsp.writeFile(outside, '{}\n');
    const state = path.join(tmp, 'state');
    const rt = path.join(state, 'targets', 'app', 'runtime.json');
    await fsp.mkdir(path.dirname(rt), { recursive: true });
    await fsp.symlink(outside, rt);
    const err = await updateRuntime(state, 'app', (r) => ({ ...r, last_checked_at: '2026-01-01T00:00:00.000Z' })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpkeepError);
    expect((err as UpkeepError).code).toBe('ERR_STATE_CORRUPT');
    expect((err as UpkeepError).message).toContain(rt);
    expect(await fsp.readFile(outside, 'utf8')).toBe('{}\n');
    expect((await fsp.lstat(rt)).isSymbolicLink()).toBe(true);

    // writeFileDurable itself: refused by default, written through only when asked (a publisher's own output).
    const link = path.join(tmp, 'out.json');
    await fsp.symlink(outside, link);
    const refused = await writeFileDurable(link, 'x').catch((e: unknown) => e);
    expect((refused as UpkeepError).code).toBe('ERR_STATE_CORRUPT');
    expect(await fsp.readFile(outside, 'utf8')).toBe('{}\n');
    await writeFileDurable(link, 'published\n', undefined, { followLink: true });
    expect(await fsp.readFile(outside, 'utf8')).toBe('published\n');
    expect((await fsp.lstat(link)).isSymbolicLink()).toBe(true);
  });
});
