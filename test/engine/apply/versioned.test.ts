import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { applyRelease, listPoints, readInstalled, recover, rollbackToPoint } from '../../../src-main/engine/apply/index';
import { OperationError, UpkeepError } from '../../../src-shared/errors';
import type { Sandbox, SpecFile } from './helpers';
import { leftovers, makeSandbox, snapshot, toPlanned } from './helpers';

const V1: SpecFile[] = [
  { path: 'app.js', content: 'console.log(1)' },
  { path: 'bin/run', content: '#!/bin/sh\nexec node app.js\n', mode: 0o755 },
  { path: 'conf/secret.json', content: '{"k":1}', mode: 0o600 },
  { path: 'assets/logo.svg', content: '<svg/>' },
  { path: 'old.txt', content: 'only in v1' },
];
const V2: SpecFile[] = [
  { path: 'app.js', content: 'console.log(2)' },
  { path: 'bin/run', content: '#!/bin/sh\nexec node app.js\n', mode: 0o755 },
  { path: 'conf/secret.json', content: '{"k":1}', mode: 0o600 },
  { path: 'assets/logo.svg', content: '<svg/>' },
  { path: 'lib/new.js', content: 'new in v2', mode: 0o640 },
];
const V3: SpecFile[] = [{ path: 'app.js', content: 'console.log(3)' }];

let sb: Sandbox;
let n = 0;
const op = (): string => `vop${++n}`;
async function apply(version: string, files: SpecFile[], retention = 3) {
  return applyRelease(sb.plan(op(), version, await toPlanned(sb.cacheDir, files), 'versioned', retention));
}
const rollback = (rollbackId?: string) =>
  rollbackToPoint({ target: 'app', installDir: sb.installDir, stateDir: sb.stateDir, pointsDir: sb.pointsDir, opId: op(), ...(rollbackId ? { rollbackId } : {}) });

beforeEach(async () => {
  sb = await makeSandbox('upkeep-versioned-');
  await fsp.writeFile(path.join(sb.installDir, 'user.cfg'), 'user file, not managed');
});
afterEach(async () => {
  await sb.cleanup();
});

describe('versioned apply', () => {
  it('installs into versions/<v>, switches current, and rolls back byte for byte', async () => {
    await apply('1.0.0', V1);
    expect(await fsp.readlink(path.join(sb.installDir, 'current'))).toBe('versions/1.0.0');
    const s1 = await snapshot(sb.installDir);
    const modes = Object.fromEntries(s1.map((e) => [e.path, e.mode]));
    expect(modes['versions/1.0.0/bin/run']).toBe(0o755);
    expect(modes['versions/1.0.0/conf/secret.json']).toBe(0o600);

    const r2 = await apply('2.0.0', V2);
    expect(r2.fromVersion).toBe('1.0.0');
    expect(r2.filesUpdated.sort()).toEqual(['app.js', 'lib/new.js']);
    expect(r2.filesRemoved).toEqual(['old.txt']);
    expect(await fsp.readlink(path.join(sb.installDir, 'current'))).toBe('versions/2.0.0');
    expect(await fsp.readFile(path.join(sb.installDir, 'current', 'app.js'), 'utf8')).toBe('console.log(2)');
    // Unchanged files are hard-linked from the previous version dir, not copied.
    const ino = async (v: string, p: string) => (await fsp.stat(path.join(sb.installDir, 'versions', v, p))).ino;
    expect(await ino('2.0.0', 'assets/logo.svg')).toBe(await ino('1.0.0', 'assets/logo.svg'));
    expect(await ino('2.0.0', 'app.js')).not.toBe(await ino('1.0.0', 'app.js'));
    expect((await fsp.stat(path.join(sb.installDir, 'versions/2.0.0/lib/new.js'))).mode & 0o7777).toBe(0o640);
    const inst = await readInstalled(sb.stateDir);
    expect(inst).toMatchObject({ version: '2.0.0', layout: 'versioned', version_dir: 'versions/2.0.0' });
    const pts = await listPoints(sb.pointsDir);
    expect(pts[0]).toMatchObject({ from_version: '1.0.0', to_version: '2.0.0', kept_version_dir: 'versions/1.0.0' });
    expect(pts[0].size_bytes).toBe(V1.reduce((s, f) => s + Buffer.byteLength(f.content ?? ''), 0));

    const rb = await rollback();
    expect(rb).toMatchObject({ version: '1.0.0', fromVersion: '2.0.0' });
    expect(await snapshot(sb.installDir)).toEqual(s1); // versions/2.0.0 pruned, current -> 1.0.0
    expect((await readInstalled(sb.stateDir))?.version_dir).toBe('versions/1.0.0');
    expect(await leftovers(sb.root)).toEqual([]);
  });

  it('rolls back to an older point across two updates', async () => {
    await apply('1.0.0', V1);
    const s1 = await snapshot(sb.installDir);
    await apply('2.0.0', V2);
    await apply('3.0.0', V3);
    const target = (await listPoints(sb.pointsDir)).find((p) => p.to_version === '2.0.0')!;
    const rb = await rollback(target.rollback_id);
    expect(rb).toMatchObject({ version: '1.0.0', fromVersion: '3.0.0' });
    expect(await snapshot(sb.installDir)).toEqual(s1);
    expect((await listPoints(sb.pointsDir)).map((p) => p.to_version)).toEqual(['1.0.0']);
  });

  it('rolls back the first install to nothing installed', async () => {
    const s0 = await snapshot(sb.installDir);
    await apply('1.0.0', V1);
    await rollback();
    expect(await snapshot(sb.installDir)).toEqual(s0);
    expect(await readInstalled(sb.stateDir)).toBeNull();
  });

  it('keeps the newest N points and prunes version dirs nothing references', async () => {
    const during: string[][] = [];
    for (let i = 1; i <= 5; i++) {
      await applyRelease(sb.plan(op(), `${i}.0.0`, await toPlanned(sb.cacheDir, [{ path: 'a', content: `v${i}` }]), 'versioned', 3), {
        verify: async () => {
          during.push((await listPoints(sb.pointsDir)).map((p) => p.to_version));
        },
      });
    }
    expect(during[3]).toEqual(['3.0.0', '2.0.0', '1.0.0']);
    expect((await listPoints(sb.pointsDir)).map((p) => p.to_version)).toEqual(['5.0.0', '4.0.0', '3.0.0']);
    // current (5) plus the dirs the points keep (4, 3, 2); 1 is gone.
    expect((await fsp.readdir(path.join(sb.installDir, 'versions'))).sort()).toEqual(['2.0.0', '3.0.0', '4.0.0', '5.0.0']);
  });

  it('verify() throwing switches back, leaves no point and keeps the error code', async () => {
    await apply('1.0.0', V1);
    const s1 = await snapshot(sb.installDir);
    const pts = await listPoints(sb.pointsDir);
    const err = await applyRelease(sb.plan(op(), '2.0.0', await toPlanned(sb.cacheDir, V2), 'versioned'), {
      verify: async () => {
        throw new OperationError('ERR_HOOK_FAILED', 'smoke test failed');
      },
    }).catch((e: unknown) => e);
    expect((err as UpkeepError).code).toBe('ERR_HOOK_FAILED');
    expect(await snapshot(sb.installDir)).toEqual(s1);
    expect(await listPoints(sb.pointsDir)).toEqual(pts);
    expect((await fsp.readdir(sb.pointsDir)).length).toBe(pts.length);
    expect(await leftovers(sb.root)).toEqual([]);
    expect(await recover(sb)).toBe('none');
  });

  it('refuses a versions dir that is a symlink outside, or a current that is not a link', async () => {
    const outside = path.join(sb.root, 'outside');
    await fsp.mkdir(outside);
    await fsp.symlink(outside, path.join(sb.installDir, 'versions'));
    const files = await toPlanned(sb.cacheDir, V1);
    const before = await snapshot(sb.root);
    let err = await applyRelease(sb.plan(op(), '1.0.0', files, 'versioned')).catch((e: unknown) => e);
    expect((err as UpkeepError).code).toBe('ERR_UNSAFE_PATH');
    expect(await snapshot(sb.root)).toEqual(before);
    await fsp.unlink(path.join(sb.installDir, 'versions'));
    await fsp.writeFile(path.join(sb.installDir, 'current'), 'not a link');
    err = await applyRelease(sb.plan(op(), '1.0.0', files, 'versioned')).catch((e: unknown) => e);
    expect((err as UpkeepError).code).toBe('ERR_UNSAFE_PATH');
    expect(await fsp.readFile(path.join(sb.installDir, 'current'), 'utf8')).toBe('not a link');
    err = await applyRelease(sb.plan(op(), '../evil', files, 'versioned')).catch((e: unknown) => e);
    expect((err as UpkeepError).code).toBe('ERR_UNSAFE_PATH');
  });
});
