/**
 * Release paths that are valid alone but too long once placed: the install dir, the staging name
 * (`.<name>.upkeep-<op>`), the versioned layout's `versions/<v>/` or the rollback point's copy
 * would exceed PATH_MAX. Each is refused with ERR_UNSAFE_PATH before anything changes (never a
 * raw ENAMETOOLONG), and the install stays byte-identical.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { applyRelease, listPoints, readInstalled, rollbackToPoint } from '../../../src-main/engine/apply/index';
import { PATH_MAX_BYTES } from '../../../src-main/engine/apply/path-limit';
import { isSafeRelativePath } from '../../../src-main/engine/trust/paths';
import type { Sandbox, SpecFile } from './helpers';
import { leftovers, makeSandbox, snapshot, toPlanned } from './helpers';

let sb: Sandbox;

beforeEach(async () => {
  sb = await makeSandbox('upkeep-long-');
});
afterEach(async () => {
  await sb.cleanup();
});

/** A safe relative path of exactly `n` bytes: 200-byte directory names, then a 20-byte file name. */
function relOfLength(n: number, tag = 'f'): string {
  const segs: string[] = [];
  let left = n;
  while (left > 276) {
    segs.push(tag.repeat(200));
    left -= 201;
  }
  if (left > 21) segs.push('d'.repeat(left - 21), `${'n'.repeat(16)}.txt`);
  else segs.push(`${'n'.repeat(left - 4)}.txt`);
  const rel = segs.join('/');
  expect(Buffer.byteLength(rel)).toBe(n);
  expect(isSafeRelativePath(rel)).toBe(true);
  return rel;
}

/** Room left for a release path under `dir` before the full path reaches PATH_MAX_BYTES. */
const roomUnder = (dir: string): number => PATH_MAX_BYTES - Buffer.byteLength(dir) - 1;

const V1: SpecFile[] = [{ path: 'bin/app', content: 'app 1', mode: 0o755 }, { path: 'README', content: 'one\n' }];

async function installV1(files: SpecFile[] = V1): Promise<void> {
  await applyRelease(sb.plan('op1', '1.0.0', await toPlanned(sb.cacheDir, files)));
}

async function refused(version: string, files: SpecFile[], layout: 'in-place' | 'versioned' = 'in-place') {
  const before = await snapshot(sb.installDir);
  const installed = await readInstalled(sb.stateDir);
  const points = await listPoints(sb.pointsDir);
  const err = (await applyRelease(sb.plan('op2', version, await toPlanned(sb.cacheDir, files), layout)).catch((e: unknown) => e)) as { code?: string; message: string; details?: Record<string, unknown> };
  expect(err).toBeInstanceOf(Error);
  expect(err.code).toBe('ERR_UNSAFE_PATH');
  expect(err.message).toMatch(/^Path too long for this system: /);
  expect(err.details).toMatchObject({ max_bytes: PATH_MAX_BYTES });
  expect(await snapshot(sb.installDir)).toEqual(before);
  expect(await leftovers(sb.installDir)).toEqual([]);
  expect(await readInstalled(sb.stateDir)).toEqual(installed);
  expect(await listPoints(sb.pointsDir)).toEqual(points);
  await expect(fsp.access(path.join(sb.stateDir, 'journal.json'))).rejects.toMatchObject({ code: 'ENOENT' });
  return err;
}

describe('release paths too long for PATH_MAX once placed', () => {
  it('a path longer than the room under the install dir: ERR_UNSAFE_PATH naming it, install byte-identical', async () => {
    await installV1();
    const rel = relOfLength(roomUnder(sb.installDir) + 10);
    const err = await refused('2.0.0', [...V1, { path: rel, content: 'deep' }]);
    expect(err.details?.path).toBe(`${rel.slice(0, 99)}…${rel.slice(rel.length - 99)}`);
    expect(err.details?.bytes).toBe(Buffer.byteLength(path.join(sb.installDir, rel)));
    expect(err.message).toMatch(/at most \d+ \(PATH_MAX\)/);
  });

  it('a path that fits but whose staging name (a sibling in an existing directory) would not is refused before staging', async () => {
    const rel = relOfLength(roomUnder(sb.installDir) - 2);
    await installV1([...V1, { path: `${path.posix.dirname(rel)}/x`, content: 'sibling' }]);
    await refused('2.0.0', [...V1, { path: `${path.posix.dirname(rel)}/x`, content: 'sibling' }, { path: rel, content: 'deep' }]);
  });

  it('a file whose rollback point copy would be too long is refused before it is moved aside', async () => {
    // Fits in place (staging included), but the backup under <points>/<id>/files/ is longer.
    const rel = relOfLength(roomUnder(sb.installDir) - 20);
    await installV1([...V1, { path: rel, content: 'deep 1' }]);
    expect(await fsp.readFile(path.join(sb.installDir, rel), 'utf8')).toBe('deep 1');
    expect(Buffer.byteLength(path.join(sb.pointsDir, 'rb_00000000T000000_000000', 'files', rel))).toBeGreaterThan(PATH_MAX_BYTES);
    await refused('2.0.0', [...V1, { path: rel, content: 'deep 2' }]);
  });

  it('versioned layout: a path that fits in the install dir but not under versions/<v>/ is refused', async () => {
    await applyRelease(sb.plan('op1', '1.0.0', await toPlanned(sb.cacheDir, V1), 'versioned'));
    const rel = relOfLength(roomUnder(sb.installDir) - 5);
    await refused('2.0.0', [...V1, { path: rel, content: 'deep' }], 'versioned');
  });

  it('a rollback whose set-aside copy of a newer file would be too long is refused before it changes anything', async () => {
    // Rollback points in a directory with a longer path than the install dir.
    const pointsDir = path.join(sb.root, 'backups-kept-under-a-longer-name', 'app');
    const plan = async (op: string, version: string, files: SpecFile[]) => ({ ...sb.plan(op, version, await toPlanned(sb.cacheDir, files)), pointsDir });
    await applyRelease(await plan('op1', '1.0.0', V1));
    // 2.0.0 adds a file that fits in place (staging name included); rolling back would move it
    // aside under <points>/.tx-<op>/, which is longer.
    const rel = relOfLength(roomUnder(sb.installDir) - 12);
    await applyRelease(await plan('op2', '2.0.0', [...V1, { path: rel, content: 'deep' }]));
    const before = await snapshot(sb.installDir);
    const installed = await readInstalled(sb.stateDir);
    const points = await listPoints(pointsDir);
    const err = (await rollbackToPoint({ target: 'app', installDir: sb.installDir, stateDir: sb.stateDir, pointsDir, opId: 'op3' }).catch((e: unknown) => e)) as { code?: string; message: string };
    expect(err.code).toBe('ERR_UNSAFE_PATH');
    expect(err.message).toMatch(/^Path too long for this system: /);
    expect(await snapshot(sb.installDir)).toEqual(before);
    expect(await leftovers(sb.installDir)).toEqual([]);
    expect(await readInstalled(sb.stateDir)).toEqual(installed);
    expect(await listPoints(pointsDir)).toEqual(points);
  });

  it('a long path that fits everywhere still installs', async () => {
    await installV1();
    const rel = relOfLength(roomUnder(sb.installDir) - 120);
    await applyRelease(sb.plan('op2', '2.0.0', await toPlanned(sb.cacheDir, [...V1, { path: rel, content: 'deep' }])));
    expect(await fsp.readFile(path.join(sb.installDir, rel), 'utf8')).toBe('deep');
  });
});
