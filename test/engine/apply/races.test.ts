/**
 * Symbolic link races: install dirs (and parents) writable by other users are refused
 * (StrictModes style), a directory swapped for a link leading out between planning and the
 * switch is caught by the re-check before the rename, and a link planted at a staging name is
 * never written through.
 */
import { promises as fsp, renameSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { applyRelease, readInstalled, rollbackToPoint } from '../../../src-main/engine/apply/index';
import { recheckParents } from '../../../src-main/engine/apply/tree';
import type { UpkeepError } from '../../../src-shared/errors';
import type { Sandbox, SpecFile } from './helpers';
import { makeSandbox, snapshot, toPlanned } from './helpers';

let sb: Sandbox;
let n = 0;
const op = (): string => `race${++n}`;
const apply = async (version: string, files: SpecFile[], hooks = {}, opId = op()) => applyRelease(sb.plan(opId, version, await toPlanned(sb.cacheDir, files)), hooks);
const V1: SpecFile[] = [{ path: 'sub/a.txt', content: 'a1' }, { path: 'b.txt', content: 'b1' }];
const V2: SpecFile[] = [{ path: 'sub/a.txt', content: 'a2' }, { path: 'b.txt', content: 'b2' }];

beforeEach(async () => {
  sb = await makeSandbox('upkeep-race-');
});
afterEach(async () => {
  await fsp.chmod(sb.root, 0o700).catch(() => undefined);
  await sb.cleanup();
});

describe('install dirs writable by others (StrictModes)', () => {
  const refused = async (): Promise<UpkeepError> => {
    const before = await snapshot(sb.root);
    const err = (await apply('1.0.0', V1).catch((e: unknown) => e)) as UpkeepError;
    expect(err.code).toBe('ERR_UNSAFE_INSTALL_DIR');
    // Nothing written (the cache dir gained only the blobs written by this test's helper).
    expect((await snapshot(sb.root)).filter((e) => !e.path.startsWith('cache'))).toEqual(before.filter((e) => !e.path.startsWith('cache')));
    return err;
  };

  it('refuses a world-writable parent without the sticky bit', async () => {
    await fsp.chmod(sb.root, 0o777);
    const err = await refused();
    expect(err.details).toMatchObject({ dir: sb.root });
    expect(err.message).toMatch(/writable by all users \(mode 0777\)/);
  });

  it('refuses a group-writable install dir', async () => {
    await fsp.chmod(sb.installDir, 0o775);
    expect((await refused()).details).toMatchObject({ dir: sb.installDir });
  });

  it("refuses a parent owned by another user", async () => {
    await fsp.chown(sb.root, 65534, 65534);
    expect((await refused()).message).toMatch(/owned by uid 65534/);
  });

  it('refuses to write in a directory inside the install dir that others can write to or own (apply and rollback), nothing changed', async () => {
    await apply('1.0.0', V1);
    const sub = path.join(sb.installDir, 'sub');
    for (const [mode, owner, why] of [[0o777, 0, /writable by all users \(mode 0777\)/], [0o1777, 0, /writable by all users \(mode 1777\)/], [0o775, 0, /writable by its group/], [0o755, 65534, /owned by uid 65534/]] as const) {
      await fsp.chown(sub, owner, owner);
      await fsp.chmod(sub, mode);
      const before = [await snapshot(sb.installDir), await snapshot(sb.pointsDir), await readInstalled(sb.stateDir)];
      const err = (await apply('2.0.0', V2).catch((e: unknown) => e)) as UpkeepError;
      expect(err.code).toBe('ERR_UNSAFE_INSTALL_DIR');
      expect(err.details).toMatchObject({ dir: sub });
      expect(err.message).toMatch(why);
      expect([await snapshot(sb.installDir), await snapshot(sb.pointsDir), await readInstalled(sb.stateDir)]).toEqual(before);
    }
    // A rollback writing there is refused the same way.
    await fsp.chown(sub, 0, 0);
    await fsp.chmod(sub, 0o755);
    await apply('2.0.0', V2);
    await fsp.chmod(sub, 0o777);
    const before = await snapshot(sb.installDir);
    const err = (await rollbackToPoint({ target: 'app', installDir: sb.installDir, stateDir: sb.stateDir, pointsDir: sb.pointsDir, opId: op() }).catch((e: unknown) => e)) as UpkeepError;
    expect(err.code).toBe('ERR_UNSAFE_INSTALL_DIR');
    expect(await snapshot(sb.installDir)).toEqual(before);
    // A directory the release does not write in may be anything.
    await fsp.chmod(sub, 0o755);
    await fsp.mkdir(path.join(sb.installDir, 'shared'), { mode: 0o777 });
    await fsp.chmod(path.join(sb.installDir, 'shared'), 0o777);
    await apply('3.0.0', V1);
    expect(await fsp.readFile(path.join(sub, 'a.txt'), 'utf8')).toBe('a1');
  });

  it('accepts a sticky world-writable parent (like /tmp) and a missing install dir below it', async () => {
    await fsp.chmod(sb.root, 0o1777);
    await fsp.rm(sb.installDir, { recursive: true });
    await apply('1.0.0', V1);
    expect((await fsp.stat(sb.installDir)).mode & 0o7777).toBe(0o755); // explicit, not the umask
    expect((await fsp.stat(path.join(sb.installDir, 'sub'))).mode & 0o7777).toBe(0o755);
  });
});

describe('swaps during an apply', () => {
  it('a directory swapped for a link leading outside after staging: refused before any write there, undone', async () => {
    await apply('1.0.0', V1);
    const outside = path.join(sb.root, 'outside');
    await fsp.mkdir(outside);
    await fsp.writeFile(path.join(outside, 'a.txt'), 'victim');
    const outsideBefore = await snapshot(outside);
    let swapped = false;
    const err = (await apply('2.0.0', V2, {
      onProgress: (p: { phase: string; done: number; total: number }) => {
        if (p.phase === 'stage' && p.done === p.total && !swapped) {
          swapped = true;
          // What an attacker with write access to the install dir would do (synchronously, between stage and switch).
          renameSync(path.join(sb.installDir, 'sub'), path.join(sb.root, 'sub-moved'));
          symlinkSync(outside, path.join(sb.installDir, 'sub'));
        }
      },
    }).catch((e: unknown) => e)) as UpkeepError;
    expect(swapped).toBe(true);
    expect(err.code).toBe('ERR_UNSAFE_PATH');
    expect(err.message).toMatch(/sub changed into a symbolic link/);
    expect(await snapshot(outside)).toEqual(outsideBefore);
    expect(await fsp.readFile(path.join(sb.root, 'sub-moved', 'a.txt'), 'utf8')).toBe('a1');
    expect(await fsp.readFile(path.join(sb.installDir, 'b.txt'), 'utf8')).toBe('b1');
    expect((await readInstalled(sb.stateDir))?.version).toBe('1.0.0');
  });

  it('a link planted at a staging name is replaced, never written through', async () => {
    await apply('1.0.0', V1);
    const victim = path.join(sb.root, 'victim.txt');
    await fsp.writeFile(victim, 'do not touch', { mode: 0o600 });
    const opId = 'plantedop';
    await fsp.symlink(victim, path.join(sb.installDir, `.b.txt.upkeep-${opId}`));
    await apply('2.0.0', V2, {}, opId);
    expect(await fsp.readFile(victim, 'utf8')).toBe('do not touch');
    expect((await fsp.stat(victim)).mode & 0o7777).toBe(0o600);
    expect(await fsp.readFile(path.join(sb.installDir, 'b.txt'), 'utf8')).toBe('b2');
  });

  it('the re-check also covers a directory whose name starts with ".." (..data), whatever form the root is given in', async () => {
    const outside = path.join(sb.root, 'outside');
    await fsp.mkdir(outside);
    symlinkSync(outside, path.join(sb.installDir, '..data'));
    // The trailing '/' takes the path.relative branch, the one every Windows path takes.
    for (const root of [sb.installDir, `${sb.installDir}/`]) {
      let err: unknown = null;
      try {
        recheckParents(root, path.join(sb.installDir, '..data', 'a.txt'));
      } catch (e) {
        err = e;
      }
      expect([root, (err as UpkeepError | null)?.code]).toEqual([root, 'ERR_UNSAFE_PATH']);
    }
  });
});
