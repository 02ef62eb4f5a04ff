/**
 * recoveryPending: the lock-free look that lets reads skip locking a target with nothing to
 * recover. It must say true whenever `recover` would change something (a journal, or a leftover
 * it sweeps), false only when recovery is a no-op, and after a real recovery it says false.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { recover, recoveryPending } from '../../../src-main/engine/apply/index';
import { tempDir } from '../../helpers/tree';

let root: string;
let dirs: { stateDir: string; installDir: string; pointsDir: string };

beforeEach(async () => {
  root = await tempDir('upkeep-recovery-pending-');
  dirs = { stateDir: path.join(root, 'state'), installDir: path.join(root, 'install'), pointsDir: path.join(root, 'points') };
});

afterEach(async () => {
  await fsp.rm(root, { recursive: true, force: true });
});

/** A pid no process has (above the kernel's pid_max on Linux). */
const DEAD_PID = 4_194_400;

describe('recoveryPending', () => {
  it('is false for missing and for clean directories, and recovery there is a no-op', async () => {
    expect(recoveryPending(dirs)).toBe(false);
    for (const d of Object.values(dirs)) await fsp.mkdir(d, { recursive: true });
    await fsp.writeFile(path.join(dirs.stateDir, 'installed.json'), '{}');
    await fsp.writeFile(path.join(dirs.stateDir, 'installed.json.sha256'), 'installed/1 00\n'); // its digest hint, not a temp file
    await fsp.writeFile(path.join(dirs.stateDir, 'runtime.json.tmp-of-a-human'), 'x'); // not one of Upkeep's temp names
    await fsp.mkdir(path.join(dirs.pointsDir, 'rb_20260101T000000_abcdef'));
    await fsp.writeFile(path.join(dirs.pointsDir, 'rb_20260101T000000_abcdef', 'point.json'), '{}');
    await fsp.writeFile(path.join(dirs.installDir, `.upkeep-probe-${process.pid}-abc`), ''); // a live prober's
    expect(recoveryPending(dirs)).toBe(false);
    expect(await recover(dirs)).toBe('none');
    expect((await fsp.readdir(dirs.stateDir)).sort()).toEqual(['installed.json', 'installed.json.sha256', 'runtime.json.tmp-of-a-human']);
    expect(await fsp.readdir(dirs.installDir)).toEqual([`.upkeep-probe-${process.pid}-abc`]);
  });

  it('is true for each thing recovery would act on, and false once recovery has swept it', async () => {
    const cases: Array<[string, () => Promise<void>]> = [
      ['a state temp file', () => fsp.writeFile(path.join(dirs.stateDir, 'installed.json.1234.5678.tmp'), 'x')],
      ['a shared state temp file', () => fsp.writeFile(path.join(dirs.stateDir, 'runtime.json.42'), 'x')],
      ['a point scratch dir', () => fsp.mkdir(path.join(dirs.pointsDir, '.tx-abc'))],
      ['a point without point.json', () => fsp.mkdir(path.join(dirs.pointsDir, 'rb_20260101T000000_123456'))],
      ['a dead prober\'s probe file', () => fsp.writeFile(path.join(dirs.installDir, `.upkeep-probe-${DEAD_PID}-abc`), '')],
      // A process killed while writing a kept point's files after its commit (the finish, the fingerprints).
      ...['point.json.3141592653', 'fingerprints.json.2718281828'].map((temp): [string, () => Promise<void>] => [`a point's ${temp}`, async () => {
        const pt = path.join(dirs.pointsDir, 'rb_20260101T000000_fedcba');
        await fsp.mkdir(pt, { recursive: true });
        await fsp.writeFile(path.join(pt, 'point.json'), '{}');
        await fsp.writeFile(path.join(pt, 'point.json.sha256'), 'point/1 00\n');
        await fsp.writeFile(path.join(pt, temp), '{"torn');
      }]),
    ];
    for (const [what, make] of cases) {
      for (const d of Object.values(dirs)) await fsp.mkdir(d, { recursive: true });
      await make();
      expect(recoveryPending(dirs), what).toBe(true);
      expect(await recover(dirs), what).toBe('none');
      expect(recoveryPending(dirs), `${what}, after recovery`).toBe(false);
    }
    // The swept point itself is kept whole: only the temp files went.
    expect((await fsp.readdir(path.join(dirs.pointsDir, 'rb_20260101T000000_fedcba'))).sort()).toEqual(['point.json', 'point.json.sha256']);
  });

  it('is true while a journal exists, even one recovery refuses to read', async () => {
    await fsp.mkdir(dirs.stateDir, { recursive: true });
    await fsp.writeFile(path.join(dirs.stateDir, 'journal.json'), '{ torn');
    expect(recoveryPending(dirs)).toBe(true);
    await expect(recover(dirs)).rejects.toMatchObject({ code: 'ERR_STATE_CORRUPT' });
  });

  it('is true when a directory cannot be read as one (recovery under the lock reports it)', async () => {
    await fsp.writeFile(path.join(root, 'state'), 'a file where the state dir should be');
    expect(recoveryPending(dirs)).toBe(true);
  });
});
