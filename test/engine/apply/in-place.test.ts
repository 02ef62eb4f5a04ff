import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { applyRelease, listPoints, readInstalled, recover, rollbackToPoint } from '../../../src-main/engine/apply/index';
import { UpkeepError, OperationError } from '../../../src-shared/errors';
import type { Sandbox, SpecFile } from './helpers';
import { leftovers, makeSandbox, snapshot, toPlanned } from './helpers';

const V1: SpecFile[] = [
  { path: 'a.txt', content: 'alpha v1\n' },
  { path: 'bin/tool', content: '#!/bin/sh\necho v1\n', mode: 0o755 },
  { path: 'secret.conf', content: 'token=1\n', mode: 0o600 },
  { path: 'lib/x/keep.dat', content: 'unchanged bytes' },
  { path: 'old.txt', content: 'removed in v2' },
  { path: 'old/only/gone.txt', content: 'dir disappears in v2' },
  { path: 'mode-only.txt', content: 'same bytes', mode: 0o600 },
  { path: 'readme.txt', content: 'managed readme v1' },
];
const V2: SpecFile[] = [
  { path: 'a.txt', content: 'alpha v2 (changed)\n' },
  { path: 'bin/tool', content: '#!/bin/sh\necho v2\n', mode: 0o755 },
  { path: 'secret.conf', content: 'token=1\n', mode: 0o600 },
  { path: 'lib/x/keep.dat', content: 'unchanged bytes' },
  { path: 'new/dir/added.txt', content: 'added in v2', mode: 0o640 },
  { path: 'mode-only.txt', content: 'same bytes', mode: 0o640 },
  { path: 'readme.txt', content: 'managed readme v1' },
];
const V3: SpecFile[] = [
  { path: 'a.txt', content: 'alpha v3\n' },
  { path: 'bin/tool', content: '#!/bin/sh\necho v3\n', mode: 0o750 },
  { path: 'lib/x/keep.dat', content: 'unchanged bytes' },
];

let sb: Sandbox;
let n = 0;
const op = (): string => `op${++n}`;

async function apply(version: string, files: SpecFile[], retention = 3) {
  return applyRelease(sb.plan(op(), version, await toPlanned(sb.cacheDir, files), 'in-place', retention));
}
async function userFiles(): Promise<void> {
  await fsp.writeFile(path.join(sb.installDir, 'user-notes.txt'), 'mine, not managed', { mode: 0o600 });
  await fsp.mkdir(path.join(sb.installDir, 'data'), { recursive: true });
  await fsp.writeFile(path.join(sb.installDir, 'data', 'db.sqlite'), 'user data');
}

beforeEach(async () => {
  sb = await makeSandbox();
});
afterEach(async () => {
  await sb.cleanup();
});

describe('in-place apply', () => {
  it('installs fresh, updates, and rolls back byte for byte, modes included', async () => {
    await userFiles();
    const r1 = await apply('1.0.0', V1);
    expect(r1.fromVersion).toBeNull();
    const s1 = await snapshot(sb.installDir);
    const modes = Object.fromEntries(s1.map((e) => [e.path, e.mode]));
    expect(modes['bin/tool']).toBe(0o755);
    expect(modes['secret.conf']).toBe(0o600);
    expect(modes['a.txt']).toBe(0o644);
    expect((await readInstalled(sb.stateDir))?.version).toBe('1.0.0');

    const keepIno = (await fsp.stat(path.join(sb.installDir, 'lib/x/keep.dat'))).ino;
    const r2 = await apply('2.0.0', V2);
    expect(r2.fromVersion).toBe('1.0.0');
    expect(r2.filesUpdated.sort()).toEqual(['a.txt', 'bin/tool', 'mode-only.txt', 'new/dir/added.txt']);
    expect(r2.filesRemoved.sort()).toEqual(['old.txt', 'old/only/gone.txt']);
    // Unchanged files are not touched (same inode), new bytes and modes are there.
    expect((await fsp.stat(path.join(sb.installDir, 'lib/x/keep.dat'))).ino).toBe(keepIno);
    expect(await fsp.readFile(path.join(sb.installDir, 'a.txt'), 'utf8')).toBe('alpha v2 (changed)\n');
    expect((await fsp.stat(path.join(sb.installDir, 'mode-only.txt'))).mode & 0o7777).toBe(0o640);
    expect((await fsp.stat(path.join(sb.installDir, 'new/dir/added.txt'))).mode & 0o7777).toBe(0o640);
    await expect(fsp.lstat(path.join(sb.installDir, 'old.txt'))).rejects.toThrow();
    await expect(fsp.lstat(path.join(sb.installDir, 'old'))).rejects.toThrow(); // emptied dir pruned
    // User files untouched.
    expect(await fsp.readFile(path.join(sb.installDir, 'user-notes.txt'), 'utf8')).toBe('mine, not managed');
    expect(await fsp.readFile(path.join(sb.installDir, 'data/db.sqlite'), 'utf8')).toBe('user data');
    const inst2 = await readInstalled(sb.stateDir);
    expect(inst2?.version).toBe('2.0.0');
    expect(inst2?.files.map((f) => f.path)).toEqual(V2.map((f) => f.path).sort());

    const pts = await listPoints(sb.pointsDir);
    expect(pts.map((p) => [p.from_version, p.to_version])).toEqual([['1.0.0', '2.0.0'], [null, '1.0.0']]);
    expect(pts[0].rollback_id).toMatch(/^rb_\d{8}T\d{6}_[0-9a-f]{6}$/);
    expect(pts[0].files).toBe(5); // a.txt, bin/tool, mode-only.txt, old.txt, old/only/gone.txt
    expect(pts[0].size_bytes).toBeGreaterThan(0);

    const rb = await rollbackToPoint({ target: 'app', installDir: sb.installDir, stateDir: sb.stateDir, pointsDir: sb.pointsDir, opId: op() });
    expect(rb).toEqual({ rollbackId: pts[0].rollback_id, version: '1.0.0', fromVersion: '2.0.0', localCopies: [] });
    expect(await snapshot(sb.installDir)).toEqual(s1);
    expect((await readInstalled(sb.stateDir))?.version).toBe('1.0.0');
    expect((await listPoints(sb.pointsDir)).map((p) => p.rollback_id)).toEqual([pts[1].rollback_id]);
    expect(await leftovers(sb.root)).toEqual([]);
  });

  it('rolls back to an older point across two updates', async () => {
    await userFiles();
    await apply('1.0.0', V1);
    const s1 = await snapshot(sb.installDir);
    await apply('2.0.0', V2);
    await apply('3.0.0', V3);
    const pts = await listPoints(sb.pointsDir);
    expect(pts.map((p) => p.to_version)).toEqual(['3.0.0', '2.0.0', '1.0.0']);
    const target = pts.find((p) => p.to_version === '2.0.0')!;
    const rb = await rollbackToPoint({ target: 'app', installDir: sb.installDir, stateDir: sb.stateDir, pointsDir: sb.pointsDir, rollbackId: target.rollback_id, opId: op() });
    expect(rb.version).toBe('1.0.0');
    expect(rb.fromVersion).toBe('3.0.0');
    expect(await snapshot(sb.installDir)).toEqual(s1);
    expect((await listPoints(sb.pointsDir)).map((p) => p.to_version)).toEqual(['1.0.0']);
    expect(await leftovers(sb.root)).toEqual([]);
  });

  it('rolls back the first install: managed files go, displaced user files come back', async () => {
    await userFiles();
    await fsp.writeFile(path.join(sb.installDir, 'readme.txt'), 'the user wrote this', { mode: 0o600 });
    const s0 = await snapshot(sb.installDir);
    await apply('1.0.0', V1);
    expect(await fsp.readFile(path.join(sb.installDir, 'readme.txt'), 'utf8')).toBe('managed readme v1');
    const rb = await rollbackToPoint({ target: 'app', installDir: sb.installDir, stateDir: sb.stateDir, pointsDir: sb.pointsDir, opId: op() });
    expect(rb.version).toBeNull();
    expect(await snapshot(sb.installDir)).toEqual(s0);
    expect(await readInstalled(sb.stateDir)).toBeNull();
    expect(await listPoints(sb.pointsDir)).toEqual([]);
  });

  it('keeps the newest N points, pruning the oldest only after the commit', async () => {
    const seenDuringVerify: string[][] = [];
    for (let i = 1; i <= 4; i++) {
      const files = await toPlanned(sb.cacheDir, [{ path: 'f.txt', content: `v${i}` }, { path: `only-${i}.txt`, content: `${i}` }]);
      await applyRelease(sb.plan(op(), `${i}.0.0`, files, 'in-place', 3), {
        verify: async () => {
          seenDuringVerify.push((await listPoints(sb.pointsDir)).map((p) => p.to_version));
        },
      });
    }
    expect(seenDuringVerify[3]).toEqual(['3.0.0', '2.0.0', '1.0.0']); // oldest still there before the 4th commit
    const pts = await listPoints(sb.pointsDir);
    expect(pts.map((p) => p.to_version)).toEqual(['4.0.0', '3.0.0', '2.0.0']);
    expect((await fsp.readdir(sb.pointsDir)).sort()).toEqual(pts.map((p) => p.rollback_id).sort());
    // The kept points still work: roll back to the oldest kept one.
    await rollbackToPoint({ target: 'app', installDir: sb.installDir, stateDir: sb.stateDir, pointsDir: sb.pointsDir, rollbackId: pts[2].rollback_id, opId: op() });
    expect((await snapshot(sb.installDir)).map((e) => [e.path, e.sha256])).toEqual([
      ['f.txt', (await toPlanned(sb.cacheDir, [{ path: 'f.txt', content: 'v1' }]))[0].sha256],
      ['only-1.txt', (await toPlanned(sb.cacheDir, [{ path: 'x', content: '1' }]))[0].sha256],
    ]);
  });

  it('verify() throwing restores the old tree, leaves no point and keeps the error code', async () => {
    await userFiles();
    await apply('1.0.0', V1);
    const s1 = await snapshot(sb.installDir);
    const before = await listPoints(sb.pointsDir);
    const err = await applyRelease(sb.plan(op(), '2.0.0', await toPlanned(sb.cacheDir, V2)), {
      verify: async () => {
        throw new OperationError('ERR_HEALTH_CHECK_FAILED', 'health check returned 503');
      },
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpkeepError);
    expect((err as UpkeepError).code).toBe('ERR_HEALTH_CHECK_FAILED');
    expect(await snapshot(sb.installDir)).toEqual(s1);
    expect(await listPoints(sb.pointsDir)).toEqual(before);
    expect((await fsp.readdir(sb.pointsDir)).length).toBe(before.length);
    expect((await readInstalled(sb.stateDir))?.version).toBe('1.0.0');
    expect(await leftovers(sb.root)).toEqual([]);
    expect(await recover(sb)).toBe('none');
  });

  it('recovery removes what a killed process left outside a journal: its volume probe, temp files of runtime.json, retired points; a running process\'s probe stays', async () => {
    await apply('1.0.0', V1);
    const s1 = await snapshot(sb.installDir);
    // A process that no longer runs (a pid far above any in use) and this one, probing right now.
    const deadProbe = path.join(sb.installDir, '.upkeep-probe-4194999-abc123');
    const liveProbe = path.join(sb.installDir, `.upkeep-probe-${process.pid}-def456`);
    await fsp.writeFile(deadProbe, '');
    await fsp.writeFile(liveProbe, '');
    await fsp.mkdir(sb.stateDir, { recursive: true });
    await fsp.writeFile(path.join(sb.stateDir, 'runtime.json.3932587471'), '{"half":');
    await fsp.writeFile(path.join(sb.stateDir, 'runtime.json.keep-me'), 'not a temp file of ours');
    // A retired point (point.json removed, files left) and a rollback's moved-away files.
    await fsp.mkdir(path.join(sb.pointsDir, 'rb_20260101T000000_abcdef', 'files', 'lib'), { recursive: true });
    await fsp.writeFile(path.join(sb.pointsDir, 'rb_20260101T000000_abcdef', 'files', 'lib', 'x.so'), 'left');
    await fsp.mkdir(path.join(sb.pointsDir, '.tx-op9', 'files'), { recursive: true });
    const points = await listPoints(sb.pointsDir);
    expect(await recover(sb)).toBe('none');
    await fsp.rm(liveProbe);
    expect(await snapshot(sb.installDir)).toEqual(s1);
    expect((await fsp.readdir(sb.stateDir)).filter((n) => n.startsWith('runtime.json.'))).toEqual(['runtime.json.keep-me']);
    expect((await fsp.readdir(sb.pointsDir)).sort()).toEqual(points.map((p) => p.rollback_id).sort());
    expect(await listPoints(sb.pointsDir)).toEqual(points);
  });

  it('refuses to write through a symlink leading outside the install dir', async () => {
    const outside = path.join(sb.root, 'outside');
    await fsp.mkdir(outside);
    await fsp.writeFile(path.join(outside, 'victim.txt'), 'do not touch');
    await fsp.symlink(outside, path.join(sb.installDir, 'link'));
    await fsp.symlink(path.join(outside, 'victim.txt'), path.join(sb.installDir, 'dest.txt'));
    await fsp.mkdir(path.join(sb.installDir, 'real'));
    await fsp.symlink('real', path.join(sb.installDir, 'inside-link'));
    const plans = [];
    for (const bad of ['link/evil.txt', 'dest.txt', '../escape.txt']) {
      plans.push(await toPlanned(sb.cacheDir, [{ path: 'ok.txt', content: 'fine' }, { path: bad, content: 'evil' }]));
    }
    const tree = await snapshot(sb.root);
    for (const files of plans) {
      const err = await applyRelease(sb.plan(op(), '1.0.0', files)).catch((e: unknown) => e);
      expect((err as UpkeepError).code).toBe('ERR_UNSAFE_PATH');
    }
    expect(await snapshot(sb.root)).toEqual(tree);
    expect(await readInstalled(sb.stateDir)).toBeNull();
    // A symlink that stays inside the install dir is fine.
    await applyRelease(sb.plan(op(), '1.0.0', await toPlanned(sb.cacheDir, [{ path: 'inside-link/f.txt', content: 'ok' }])));
    expect(await fsp.readFile(path.join(sb.installDir, 'real', 'f.txt'), 'utf8')).toBe('ok');
  });

  it.each(['in-place', 'versioned'] as const)('%s: an install dir that is a file or a link to nothing is refused naming it, nothing written', async (layout) => {
    await fsp.rm(sb.installDir, { recursive: true });
    const files = await toPlanned(sb.cacheDir, V1);
    for (const make of [() => fsp.writeFile(sb.installDir, 'a file'), () => fsp.symlink('nowhere', sb.installDir), () => fsp.symlink('/etc/hostname', sb.installDir)]) {
      await make();
      const before = await snapshot(sb.root);
      const err = (await applyRelease(sb.plan(op(), '1.0.0', files, layout)).catch((e: unknown) => e)) as UpkeepError;
      expect({ code: err.code, message: err.message }).toEqual({ code: 'ERR_APPLY_FAILED', message: expect.stringContaining(`install_dir ${sb.installDir}`) });
      expect(await snapshot(sb.root)).toEqual(before);
      await fsp.rm(sb.installDir);
    }
  });

  it('reports an unknown rollback point as ERR_ROLLBACK_POINT_NOT_FOUND', async () => {
    await apply('1.0.0', V1);
    for (const id of ['rb_20200101T000000_abcdef', '../../etc']) {
      const err = await rollbackToPoint({ target: 'app', installDir: sb.installDir, stateDir: sb.stateDir, pointsDir: sb.pointsDir, rollbackId: id, opId: op() }).catch((e: unknown) => e);
      expect((err as UpkeepError).code).toBe('ERR_ROLLBACK_POINT_NOT_FOUND');
    }
  });

  it('restores managed files a user deleted or edited, from the kept backup', async () => {
    await apply('1.0.0', V1);
    const s1 = await snapshot(sb.installDir);
    await apply('2.0.0', V2);
    await fsp.rm(path.join(sb.installDir, 'lib/x/keep.dat')); // unchanged by v2: only the current tree had it
    await fsp.writeFile(path.join(sb.installDir, 'a.txt'), 'edited by hand');
    const err = await rollbackToPoint({ target: 'app', installDir: sb.installDir, stateDir: sb.stateDir, pointsDir: sb.pointsDir, opId: op() }).catch((e: unknown) => e);
    // keep.dat's bytes are in no point and not in the tree any more: refused, nothing changed.
    expect((err as UpkeepError).code).toBe('ERR_APPLY_FAILED');
    expect(await fsp.readFile(path.join(sb.installDir, 'a.txt'), 'utf8')).toBe('edited by hand');
    // With the cache as an extra source it succeeds and restores v1 exactly.
    await rollbackToPoint({
      target: 'app', installDir: sb.installDir, stateDir: sb.stateDir, pointsDir: sb.pointsDir, opId: op(),
      findBlob: async (h) => path.join(sb.cacheDir, h),
    });
    expect(await snapshot(sb.installDir)).toEqual(s1);
  });
});
