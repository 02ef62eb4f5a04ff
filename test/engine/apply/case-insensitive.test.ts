/**
 * A case-insensitive volume made by the test: an exFAT image on a loop device through FUSE
 * (`mount.exfat-fuse` with the kernel's dentry caches off, see TEST-MACHINE.md). A case-only
 * rename between versions must leave the file there under its new name, and rollback must bring
 * the old name back. Skipped with a message when the machine refuses the loop device or mount.
 */
import { execFileSync } from 'node:child_process';
import { promises as fsp, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { applyRelease, readInstalled, rollbackToPoint } from '../../../src-main/engine/apply/index';
import { probeVolume } from '../../../src-main/engine/apply/switch-plan';
import { toPlanned } from './helpers';

const ROOT = mkdtempSync(path.join(os.tmpdir(), 'upkeep-exfat-'));
const MNT = path.join(ROOT, 'mnt');
let loop: string | null = null;
let mounted = false;
try {
  execFileSync('truncate', ['-s', '64M', path.join(ROOT, 'x.img')]);
  loop = execFileSync('losetup', ['-f', '--show', path.join(ROOT, 'x.img')], { encoding: 'utf8' }).trim();
  execFileSync('mkfs.exfat', [loop], { stdio: 'pipe' });
  execFileSync('mkdir', ['-p', MNT]);
  execFileSync('mount.exfat-fuse', ['-o', 'entry_timeout=0,negative_timeout=0,attr_timeout=0', loop, MNT], { stdio: 'pipe' });
  mounted = true;
} catch (err) {
  console.warn(`case-insensitive volume tests skipped: could not mount an exFAT image (${(err as Error).message.split('\n')[0]})`);
}

afterAll(() => {
  if (mounted) execFileSync('umount', [MNT]);
  if (loop) execFileSync('losetup', ['-d', loop]);
  rmSync(ROOT, { recursive: true, force: true });
});

describe.skipIf(!mounted)('case-insensitive volume (exFAT through FUSE)', () => {
  it('is detected at run time, next to a case-sensitive temp dir', async () => {
    expect(await probeVolume(MNT)).toEqual({ caseInsensitive: true, unixModes: false });
    expect((await probeVolume(ROOT)).caseInsensitive).toBe(false);
  });

  it('applies and rolls back a case-only rename (lib/Helper.js -> lib/helper.js)', async () => {
    const install = path.join(MNT, 'install');
    const cache = path.join(ROOT, 'cache');
    const plan = async (op: string, version: string, files: { path: string; content: string }[]) => ({
      opId: op, target: 'app', installDir: install, layout: 'in-place' as const, stateDir: path.join(MNT, 'state'), pointsDir: path.join(MNT, 'points'),
      toVersion: version, files: await toPlanned(cache, files), retention: 3,
    });
    await applyRelease(await plan('op1', '1.0.0', [{ path: 'lib/Helper.js', content: 'helper v1' }, { path: 'app.js', content: 'app' }]));
    expect(await fsp.readdir(path.join(install, 'lib'))).toEqual(['Helper.js']);

    // Same bytes, new case: must not be mistaken for "unchanged" (and then removed as the old name).
    await applyRelease(await plan('op2', '2.0.0', [{ path: 'lib/helper.js', content: 'helper v1' }, { path: 'app.js', content: 'app' }]));
    expect(await fsp.readdir(path.join(install, 'lib'))).toEqual(['helper.js']);
    expect(await fsp.readFile(path.join(install, 'lib/helper.js'), 'utf8')).toBe('helper v1');
    expect((await readInstalled(path.join(MNT, 'state')))?.files.map((f) => f.path)).toEqual(['app.js', 'lib/helper.js']);

    // New case and new bytes.
    await applyRelease(await plan('op3', '3.0.0', [{ path: 'lib/HELPER.js', content: 'helper v3' }, { path: 'app.js', content: 'app' }]));
    expect(await fsp.readdir(path.join(install, 'lib'))).toEqual(['HELPER.js']);
    expect(await fsp.readFile(path.join(install, 'lib/HELPER.js'), 'utf8')).toBe('helper v3');

    // Unchanged files are left alone even though exFAT reports every mode as 0777.
    const r = await applyRelease(await plan('op4', '3.0.1', [{ path: 'lib/HELPER.js', content: 'helper v3' }, { path: 'app.js', content: 'app' }]));
    expect(r.filesUpdated).toEqual([]);

    for (const [op, want, bytes] of [['op5', 'HELPER.js', 'helper v3'], ['op6', 'helper.js', 'helper v1'], ['op7', 'Helper.js', 'helper v1']] as const) {
      await rollbackToPoint({ target: 'app', installDir: install, stateDir: path.join(MNT, 'state'), pointsDir: path.join(MNT, 'points'), opId: op });
      expect(await fsp.readdir(path.join(install, 'lib'))).toEqual([want]);
      expect(await fsp.readFile(path.join(install, 'lib', want), 'utf8')).toBe(bytes);
    }
  });
});
