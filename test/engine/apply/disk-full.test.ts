/**
 * Disk full on a small real filesystem (a 6 MiB tmpfs mounted by the test): during download,
 * staging and backup. Each ends with ERR_DISK_FULL naming the directory and the bytes needed,
 * no retries, no partial files, nothing switched, the space reclaimed.
 */
import { execFileSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { existsSync, promises as fsp, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { applyRelease, rollbackToPoint } from '../../../src-main/engine/apply/index';
import { downloadFile } from '../../../src-main/engine/net/download';
import { freeBytes } from '../../../src-main/engine/fs/space';
import { DEFAULT_LIMITS } from '../../../src-main/engine/limits';
import type { UpkeepError } from '../../../src-shared/errors';
import { sha256, snapshot, toPlanned } from './helpers';
import { FeedBuilder, indexPayload, makeKey } from '../../helpers/feed-builder';
import { parseConfig } from '../../../src-main/engine/config/load';
import { OperationRunner as Engine } from '../../../src-main/engine/runner/operation-runner';

const MNT = mkdtempSync(path.join(os.tmpdir(), 'upkeep-full-'));
let mounted = false;
try {
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=6m', 'tmpfs', MNT], { stdio: 'pipe' });
  mounted = true;
} catch (err) {
  console.warn(`disk-full tests skipped: mounting a 6 MiB tmpfs was refused (${(err as Error).message.split('\n')[0]})`);
}

afterAll(() => {
  if (mounted) execFileSync('umount', [MNT]);
  rmSync(MNT, { recursive: true, force: true });
});

const MiB = 1024 * 1024;
const data = (n: number, seed: number): Buffer => Buffer.alloc(n, seed);

describe.skipIf(!mounted)('disk full on a 6 MiB tmpfs', () => {
  let outside: string; // on the normal temp filesystem
  beforeEach(async () => {
    outside = await fsp.mkdtemp(path.join(os.tmpdir(), 'upkeep-full-out-'));
  });
  afterEach(async () => {
    for (const n of await fsp.readdir(MNT)) await fsp.rm(path.join(MNT, n), { recursive: true, force: true });
    await fsp.rm(outside, { recursive: true, force: true });
  });

  it('download: ERR_DISK_FULL after one request (no retries), partial removed', async () => {
    const body = data(7 * MiB, 1);
    let requests = 0;
    const server: Server = createServer((req, res) => {
      requests++;
      res.setHeader('content-length', body.length);
      res.end(body);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/blob`;
    try {
      const err = (await downloadFile({
        url, dest: path.join(MNT, 'cache', 'blob'), partial: path.join(MNT, 'cache', 'partial', 'blob'), size: body.length, sha256: sha256(body),
        allowInsecureHttp: false, limits: { ...DEFAULT_LIMITS, retries: 3, backoffBaseMs: 5, maxBackoffMs: 10 },
      }).catch((e: unknown) => e)) as UpkeepError;
      expect(err.code).toBe('ERR_DISK_FULL');
      expect(err.details).toMatchObject({ dir: path.join(MNT, 'cache', 'partial') });
      expect((err.details as { bytes_needed: number }).bytes_needed).toBeGreaterThan(0);
      expect(requests).toBe(1);
      expect(await snapshot(path.join(MNT, 'cache'))).toEqual([{ path: 'partial', type: 'dir', mode: expect.any(Number) }]);
    } finally {
      server.close();
    }
  });

  it('staging: refused before writing when it cannot fit; ENOSPC mid-staging undone to the old tree', async () => {
    const install = path.join(MNT, 'install');
    const plan = (op: string, version: string, files: Awaited<ReturnType<typeof toPlanned>>) => ({
      opId: op, target: 'app', installDir: install, layout: 'in-place' as const, stateDir: path.join(MNT, 'state'), pointsDir: path.join(MNT, 'points'), toVersion: version, files, retention: 3,
    });
    const cache = path.join(outside, 'cache');
    await applyRelease(plan('op1', '1.0.0', await toPlanned(cache, [{ path: 'a.bin', content: data(MiB, 2) }, { path: 'b.bin', content: data(MiB, 3) }])));
    const before = await snapshot(MNT);

    // 1. Too big to stage at all: refused up front, naming the install dir.
    const big = await toPlanned(cache, [{ path: 'a.bin', content: data(6 * MiB, 4) }, { path: 'b.bin', content: data(MiB, 3) }]);
    const e1 = (await applyRelease(plan('op2', '2.0.0', big)).catch((e: unknown) => e)) as UpkeepError;
    expect(e1.code).toBe('ERR_DISK_FULL');
    expect(e1.details).toMatchObject({ dir: install });
    expect((e1.details as { bytes_needed: number }).bytes_needed).toBeGreaterThanOrEqual(6 * MiB);
    expect(e1.message).toMatch(new RegExp(`${install}: \\d+ bytes needed`));
    expect(await snapshot(MNT)).toEqual(before);

    // 2. Fits when checked, then the disk fills up while staging (another writer): undone.
    const files = await toPlanned(cache, Array.from({ length: 4 }, (_, i) => ({ path: `n/f${i}.bin`, content: data(MiB / 2, 10 + i) })));
    const filler = path.join(MNT, 'filler');
    let filled = false;
    const e2 = (await applyRelease(plan('op3', '3.0.0', files), {
      onProgress: (p) => {
        if (p.phase === 'stage' && !filled) {
          filled = true;
          // Takes every byte left (synchronously, before the next staged copy).
          execFileSync('sh', ['-c', `dd if=/dev/zero of=${filler} bs=64k 2>/dev/null || true`]);
        }
      },
    }).catch((e: unknown) => e)) as UpkeepError;
    expect(filled).toBe(true);
    expect(e2.code).toBe('ERR_DISK_FULL');
    await fsp.rm(filler);
    expect(await snapshot(MNT)).toEqual(before);
  });

  it('many small files are counted in whole blocks: refused up front, naming what they take on disk', async () => {
    const install = path.join(MNT, 'install');
    const files = await toPlanned(path.join(outside, 'cache'), Array.from({ length: 2000 }, (_, i) => ({ path: `f${i}.txt`, content: `file ${i}\n` })));
    let staged = 0;
    const err = (await applyRelease({
      opId: 'small1', target: 'app', installDir: install, layout: 'in-place', stateDir: path.join(outside, 'state'), pointsDir: path.join(outside, 'points'), toVersion: '1.0.0', files, retention: 3,
    }, { onProgress: (p) => void (p.phase === 'stage' && staged++) }).catch((e: unknown) => e)) as UpkeepError;
    expect(err.code).toBe('ERR_DISK_FULL');
    // 2,000 files of ~10 bytes take 2,000 pages (8 MB) of the tmpfs, not 20 kB.
    expect((err.details as { bytes_needed: number }).bytes_needed).toBeGreaterThanOrEqual(2000 * 4096);
    expect(staged).toBe(0);
    expect(await snapshot(MNT)).toEqual([]);
  });

  it('backup on another filesystem: refused up front, and ENOSPC while copying backups undone', async () => {
    const install = path.join(outside, 'install');
    const points = path.join(MNT, 'points');
    const plan = (op: string, version: string, files: Awaited<ReturnType<typeof toPlanned>>) => ({
      opId: op, target: 'app', installDir: install, layout: 'in-place' as const, stateDir: path.join(outside, 'state'), pointsDir: points, toVersion: version, files, retention: 3,
    });
    const cache = path.join(outside, 'cache');
    const v1 = Array.from({ length: 4 }, (_, i) => ({ path: `f${i}.bin`, content: data(2 * MiB, 20 + i) }));
    await applyRelease(plan('op1', '1.0.0', await toPlanned(cache, v1)));
    const before = await snapshot(install);
    const pointsBefore = await snapshot(MNT);
    // Backing up 8 MiB of old files into a 6 MiB filesystem cannot work: refused, naming the points dir.
    const v2 = await toPlanned(cache, v1.map((f, i) => ({ ...f, content: data(2 * MiB, 40 + i) })));
    const e1 = (await applyRelease(plan('op2', '2.0.0', v2)).catch((e: unknown) => e)) as UpkeepError;
    expect(e1.code).toBe('ERR_DISK_FULL');
    expect(String((e1.details as { dir: string }).dir).startsWith(points)).toBe(true);
    expect(await snapshot(install)).toEqual(before);
    expect(await snapshot(MNT)).toEqual(pointsBefore);

    // Two files fit by the numbers; the disk fills while backing up: undone, space reclaimed.
    const v3 = await toPlanned(cache, [...v1.slice(0, 2).map((f, i) => ({ ...f, content: data(2 * MiB, 60 + i) })), ...v1.slice(2)]);
    let filled = false;
    const e2 = (await applyRelease(plan('op3', '3.0.0', v3), {
      onProgress: (p) => {
        if (p.phase === 'backup' && !filled) {
          filled = true;
          execFileSync('sh', ['-c', `dd if=/dev/zero of=${path.join(MNT, 'filler')} bs=64k 2>/dev/null || true`]);
        }
      },
    }).catch((e: unknown) => e)) as UpkeepError;
    expect(filled).toBe(true);
    expect(e2.code).toBe('ERR_DISK_FULL');
    expect(await snapshot(install)).toEqual(before);
    await fsp.rm(path.join(MNT, 'filler'));
    expect(await snapshot(MNT)).toEqual(pointsBefore);
    expect(await freeBytes(MNT)).toBeGreaterThan(5 * MiB);
  });
});

describe.skipIf(!mounted)('rollback into a full install dir from points on another filesystem', () => {
  it('is refused up front (the moves out of the point are byte copies there), naming the bytes free', async () => {
    const outsideDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'upkeep-full-rb-'));
    const install = path.join(MNT, 'install');
    try {
      const plan = (op: string, version: string, files: Awaited<ReturnType<typeof toPlanned>>) => ({
        opId: op, target: 'app', installDir: install, layout: 'in-place' as const, stateDir: path.join(outsideDir, 'state'), pointsDir: path.join(outsideDir, 'points'), toVersion: version, files, retention: 3,
      });
      const cache = path.join(outsideDir, 'cache');
      await applyRelease(plan('op1', '1.0.0', await toPlanned(cache, [{ path: 'big.bin', content: data(2 * MiB, 7) }])));
      await applyRelease(plan('op2', '2.0.0', await toPlanned(cache, [{ path: 'big.bin', content: data(2 * MiB, 8) }])));
      const before = await snapshot(install);
      execFileSync('sh', ['-c', `dd if=/dev/zero of=${path.join(MNT, 'filler')} bs=64k 2>/dev/null || true`]);
      const err = (await rollbackToPoint({ target: 'app', installDir: install, stateDir: path.join(outsideDir, 'state'), pointsDir: path.join(outsideDir, 'points'), opId: 'op3' }).catch((e: unknown) => e)) as UpkeepError;
      expect(err.code).toBe('ERR_DISK_FULL');
      expect(err.details).toMatchObject({ dir: install, bytes_needed: expect.any(Number), bytes_free: expect.any(Number) });
      expect(await snapshot(install)).toEqual(before);
      await fsp.rm(path.join(MNT, 'filler'));
      await rollbackToPoint({ target: 'app', installDir: install, stateDir: path.join(outsideDir, 'state'), pointsDir: path.join(outsideDir, 'points'), opId: 'op4' });
      expect(await fsp.readFile(path.join(install, 'big.bin'))).toEqual(data(2 * MiB, 7));
    } finally {
      await fsp.rm(path.join(MNT, 'filler'), { force: true });
      await fsp.rm(install, { recursive: true, force: true });
      await fsp.rm(outsideDir, { recursive: true, force: true });
    }
  });
});

describe.skipIf(!mounted)('rollback from points on another filesystem, the disk filling while staging', () => {
  it('ERR_DISK_FULL, the copies staged so far removed (space reclaimed), and the rollback works once there is room', async () => {
    const outsideDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'upkeep-full-rbs-'));
    const install = path.join(MNT, 'install');
    const rb = (op: string, hooks = {}) => rollbackToPoint({ target: 'app', installDir: install, stateDir: path.join(outsideDir, 'state'), pointsDir: path.join(outsideDir, 'points'), opId: op }, hooks);
    try {
      const plan = (op: string, version: string, files: Awaited<ReturnType<typeof toPlanned>>) => ({
        opId: op, target: 'app', installDir: install, layout: 'in-place' as const, stateDir: path.join(outsideDir, 'state'), pointsDir: path.join(outsideDir, 'points'), toVersion: version, files, retention: 3,
      });
      const cache = path.join(outsideDir, 'cache');
      const v1 = Array.from({ length: 48 }, (_, i) => ({ path: `f${i}.bin`, content: data(64 * 1024, 70 + i) }));
      await applyRelease(plan('op1', '1.0.0', await toPlanned(cache, v1)));
      const t1 = await snapshot(install);
      await applyRelease(plan('op2', '2.0.0', await toPlanned(cache, [{ path: 'only.txt', content: 'v2' }])));
      const before = await snapshot(install);
      const freeBefore = await freeBytes(MNT);
      let filled = false;
      const err = (await rb('op3', {
        onProgress: (p: { phase: string }) => {
          if (p.phase === 'stage' && !filled) {
            filled = true;
            execFileSync('sh', ['-c', `dd if=/dev/zero of=${path.join(MNT, 'filler')} bs=64k 2>/dev/null || true`]);
          }
        },
      }).catch((e: unknown) => e)) as UpkeepError;
      expect(filled).toBe(true);
      expect(err.code).toBe('ERR_DISK_FULL');
      // Exactly the tree before: no staged copy (.f0.bin.upkeep-op3) left behind.
      expect(await snapshot(install)).toEqual(before);
      await fsp.rm(path.join(MNT, 'filler'));
      expect(await freeBytes(MNT)).toBe(freeBefore);
      await rb('op4');
      expect(await snapshot(install)).toEqual(t1);
    } finally {
      await fsp.rm(path.join(MNT, 'filler'), { force: true });
      await fsp.rm(install, { recursive: true, force: true });
      await fsp.rm(outsideDir, { recursive: true, force: true });
    }
  });
});

// A filesystem out of inodes: free bytes say "fits", and creating the next file fails with
// ENOSPC. Met while opening a partial download, it is still ERR_DISK_FULL naming the directory,
// and the partial files of the downloads running beside it are removed, not left for a resume.
const INO = mkdtempSync(path.join(os.tmpdir(), 'upkeep-inodes-'));
let inoMounted = false;
try {
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16m,nr_inodes=48', 'tmpfs', INO], { stdio: 'pipe' });
  inoMounted = true;
} catch (err) {
  console.warn(`inode exhaustion tests skipped: mounting a tmpfs was refused (${(err as Error).message.split('\n')[0]})`);
}
afterAll(() => {
  if (inoMounted) execFileSync('umount', [INO]);
  rmSync(INO, { recursive: true, force: true });
});

describe.skipIf(!inoMounted)('download dir out of inodes', () => {
  it('ERR_DISK_FULL naming the cache dir, no partial file left, install untouched; the retry after freeing inodes installs', async () => {
    const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'upkeep-inodes-cfg-'));
    const cache = path.join(INO, 'cache');
    try {
      const feed = new FeedBuilder(path.join(dir, 'feed'));
      const key = makeKey();
      const e1 = await feed.release('1.0.0', { 'a.txt': 'one' }, [key]);
      const files = Object.fromEntries(Array.from({ length: 24 }, (_, i) => [`f${i}.txt`, `file ${i} of 1.1.0\n`.repeat(12_000)]));
      const e2 = await feed.release('1.1.0', files, [key]);
      await feed.index('stable', indexPayload(1, [e2, e1]), [key]);
      const text = ['state_dir: ./state', `download_dir: ${JSON.stringify(cache)}`, 'targets:', '  - id: demo', '    kind: files', '    install_dir: ./install', '    product: demo',
        `    feed: { url: ${JSON.stringify(feed.dir)} }`, `    trust: { keys: ${JSON.stringify([key.line])} }`].join('\n');
      const engine = new Engine({ loaded: parseConfig(text, { file: path.join(dir, 'upkeep.yaml'), dir, env: {} }), actor: 'cli', limits: { ...DEFAULT_LIMITS, retries: 3, backoffBaseMs: 5, maxBackoffMs: 10 } });
      await engine.apply('demo', { version: '1.0.0' });
      const install = path.join(dir, 'install');
      const before = await snapshot(install);
      // The inodes run out once the downloads have started (the check before them passed): some
      // partial files exist, then the next one cannot be created.
      const fillers: string[] = [];
      let filled = false;
      const stop = engine.bus.subscribe((ev) => {
        if (filled || ev.type !== 'progress' || ev.progress.phase !== 'download' || !existsSync(path.join(cache, 'blobs', 'partial'))) return;
        if (readdirSync(path.join(cache, 'blobs', 'partial')).length === 0) return;
        filled = true;
        for (let i = 0; ; i++) {
          const f = path.join(INO, `filler-${i}`);
          try {
            writeFileSync(f, '');
          } catch {
            break;
          }
          fillers.push(f);
        }
      });
      const err = (await engine.apply('demo', { version: '1.1.0' }).catch((e: unknown) => e)) as UpkeepError;
      stop();
      expect(filled).toBe(true);
      expect({ code: err.code, message: err.message }).toMatchObject({ code: 'ERR_DISK_FULL' });
      expect(String((err.details as { dir: string }).dir).startsWith(cache)).toBe(true);
      expect((err.details as { bytes_needed: number }).bytes_needed).toBeGreaterThan(0);
      expect(await fsp.readdir(path.join(cache, 'blobs', 'partial')).catch(() => [])).toEqual([]);
      expect(await snapshot(install)).toEqual(before);
      for (const f of fillers) await fsp.rm(f);
      const r = await engine.apply('demo', { version: '1.1.0' });
      expect(r.version).toBe('1.1.0');
    } finally {
      await fsp.rm(cache, { recursive: true, force: true });
      await fsp.rm(dir, { recursive: true, force: true });
    }
  });

  it('state_dir out of inodes: ERR_DISK_FULL naming the directory (not ERR_INTERNAL), install untouched', async () => {
    const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'upkeep-inodes-cfg-'));
    const fillers: string[] = [];
    try {
      const feed = new FeedBuilder(path.join(dir, 'feed'));
      const key = makeKey();
      const e1 = await feed.release('1.0.0', { 'a.txt': 'one' }, [key]);
      const e2 = await feed.release('1.1.0', { 'a.txt': 'two', 'b.txt': 'b' }, [key]);
      await feed.index('stable', indexPayload(1, [e2, e1]), [key]);
      const text = [`state_dir: ${JSON.stringify(path.join(INO, 'state'))}`, 'targets:', '  - id: demo', '    kind: files', '    install_dir: ./install', '    product: demo',
        `    feed: { url: ${JSON.stringify(feed.dir)} }`, `    trust: { keys: ${JSON.stringify([key.line])} }`].join('\n');
      const engine = new Engine({ loaded: parseConfig(text, { file: path.join(dir, 'upkeep.yaml'), dir, env: {} }), actor: 'cli', limits: { ...DEFAULT_LIMITS, retries: 3, backoffBaseMs: 5, maxBackoffMs: 10 } });
      const fill = async (): Promise<void> => {
        for (let i = fillers.length; ; i++) {
          const f = path.join(INO, `filler-${i}`);
          try {
            await fsp.writeFile(f, '');
          } catch {
            break;
          }
          fillers.push(f);
        }
      };
      // A fresh install with no inode left for the state dir (fs.promises.mkdir says ENOENT then).
      await fill();
      const first = (await engine.apply('demo', { version: '1.0.0' }).catch((e: unknown) => e)) as UpkeepError;
      expect({ code: first.code, message: first.message }).toMatchObject({ code: 'ERR_DISK_FULL', message: expect.stringContaining(INO) });
      for (const f of fillers.splice(0)) await fsp.rm(f);
      await engine.apply('demo', { version: '1.0.0' });
      const before = await snapshot(path.join(dir, 'install'));
      await fill();
      const err = (await engine.apply('demo', { version: '1.1.0' }).catch((e: unknown) => e)) as UpkeepError;
      expect({ code: err.code, message: err.message }).toMatchObject({ code: 'ERR_DISK_FULL', message: expect.stringContaining(INO) });
      expect(String((err.details as { dir: string }).dir).startsWith(path.join(INO, 'state'))).toBe(true);
      expect(await snapshot(path.join(dir, 'install'))).toEqual(before);
    } finally {
      for (const f of fillers) await fsp.rm(f, { force: true });
      await fsp.rm(path.join(INO, 'state'), { recursive: true, force: true });
      await fsp.rm(dir, { recursive: true, force: true });
    }
  });

  it('staging into an install dir out of inodes is refused up front, naming the files to create and the inodes free', async () => {
    const install = path.join(INO, 'install');
    const outsideDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'upkeep-inodes-out-'));
    const fillers: string[] = [];
    try {
      const plan = (op: string, version: string, files: Awaited<ReturnType<typeof toPlanned>>) => ({
        opId: op, target: 'app', installDir: install, layout: 'in-place' as const, stateDir: path.join(outsideDir, 'state'), pointsDir: path.join(INO, 'points'), toVersion: version, files, retention: 3,
      });
      const cache = path.join(outsideDir, 'cache');
      await applyRelease(plan('op1', '1.0.0', await toPlanned(cache, [{ path: 'a.txt', content: 'one' }])));
      const before = await snapshot(INO);
      for (let i = 0; ; i++) {
        const f = path.join(INO, `filler-${i}`);
        try {
          await fsp.writeFile(f, '');
        } catch {
          break;
        }
        fillers.push(f);
      }
      for (const f of fillers.splice(-3)) await fsp.rm(f);
      const v2 = Array.from({ length: 12 }, (_, i) => ({ path: `d${i % 3}/f${i}.txt`, content: `file ${i}` }));
      const err = (await applyRelease(plan('op2', '2.0.0', await toPlanned(cache, v2))).catch((e: unknown) => e)) as UpkeepError;
      expect({ code: err.code, message: err.message }).toMatchObject({ code: 'ERR_DISK_FULL', message: expect.stringMatching(/free inodes/) });
      expect(err.details).toMatchObject({ dir: install, entries_needed: expect.any(Number), entries_free: expect.any(Number) });
      for (const f of fillers.splice(0)) await fsp.rm(f);
      expect(await snapshot(INO)).toEqual(before);
    } finally {
      for (const f of fillers) await fsp.rm(f, { force: true });
      await fsp.rm(install, { recursive: true, force: true });
      await fsp.rm(path.join(INO, 'points'), { recursive: true, force: true });
      await fsp.rm(outsideDir, { recursive: true, force: true });
    }
  });
});
