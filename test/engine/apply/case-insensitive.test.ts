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

  // Directory names: the case of a directory follows the tree too, and a directory that becomes
  // a file of another case (or the reverse) is a type change, not "files Upkeep does not manage".
  const tree = async (root: string): Promise<string[]> => {
    const out: string[] = [];
    const walk = async (d: string, rel: string): Promise<void> => {
      for (const e of (await fsp.readdir(d, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1))) {
        const r = rel ? `${rel}/${e.name}` : e.name;
        if (e.isDirectory()) {
          out.push(`${r}/`);
          await walk(path.join(d, e.name), r);
        } else out.push(`${r}=${await fsp.readFile(path.join(d, e.name), 'utf8')}`);
      }
    };
    await walk(root, '');
    return out;
  };
  const sandbox = (name: string) => {
    const install = path.join(MNT, name, 'install');
    const state = path.join(MNT, name, 'state');
    const points = path.join(MNT, name, 'points');
    let n = 0;
    return {
      install,
      apply: async (version: string, files: { path: string; content: string }[]) =>
        applyRelease({ opId: `${name}${++n}`, target: 'app', installDir: install, layout: 'in-place', stateDir: state, pointsDir: points, toVersion: version, files: await toPlanned(path.join(ROOT, 'cache'), files), retention: 5 }),
      rollback: async () => rollbackToPoint({ target: 'app', installDir: install, stateDir: state, pointsDir: points, opId: `${name}${++n}` }),
    };
  };

  it('renames directories whose case changed (Lib/ -> lib/, A/B/ -> a/b/), and back on rollback', async () => {
    const s = sandbox('dircase');
    await s.apply('1.0.0', [{ path: 'Lib/Helper.js', content: 'h' }, { path: 'A/B/f.txt', content: 'f' }, { path: 'app.js', content: 'app' }]);
    const t1 = await tree(s.install);
    expect(t1).toEqual(['A/', 'A/B/', 'A/B/f.txt=f', 'Lib/', 'Lib/Helper.js=h', 'app.js=app']);
    await s.apply('2.0.0', [{ path: 'lib/helper.js', content: 'h' }, { path: 'a/b/f.txt', content: 'f' }, { path: 'app.js', content: 'app' }]);
    const t2 = await tree(s.install);
    expect(t2).toEqual(['a/', 'a/b/', 'a/b/f.txt=f', 'app.js=app', 'lib/', 'lib/helper.js=h']);
    await s.rollback();
    expect(await tree(s.install)).toEqual(t1);
    await s.apply('2.0.0', [{ path: 'lib/helper.js', content: 'h' }, { path: 'a/b/f.txt', content: 'f' }, { path: 'app.js', content: 'app' }]);
    expect(await tree(s.install)).toEqual(t2);
  });

  it('a directory becomes a file of another case (lib/ -> LIB) and a file a directory (Docs -> docs/), and back on rollback', async () => {
    const s = sandbox('typecase');
    const v1 = [{ path: 'Docs', content: 'D' }, { path: 'lib/A.js', content: 'a' }, { path: 'lib/sub/s', content: 's' }, { path: 'app.js', content: 'app' }];
    const v2 = [{ path: 'docs/index.md', content: 'i' }, { path: 'LIB', content: 'L' }, { path: 'app.js', content: 'app' }];
    await s.apply('1.0.0', v1);
    const t1 = await tree(s.install);
    await s.apply('2.0.0', v2);
    const t2 = await tree(s.install);
    expect(t2).toEqual(['LIB=L', 'app.js=app', 'docs/', 'docs/index.md=i']);
    await s.rollback();
    expect(await tree(s.install)).toEqual(t1);
    // (Applying again at once is left out here: exfat-fuse's own node cache then still holds the
    // file `LIB` under `lib` and answers EIO; a separate process, as the CLI runs, is fine.)
  });

  it("a state dir named through the install dir in another case (INSTALL/st for install/) is Upkeep's own: release paths into it refused", async () => {
    const install = path.join(MNT, 'rsv', 'install');
    const state = path.join(MNT, 'rsv', 'INSTALL', 'st');
    await fsp.mkdir(state, { recursive: true });
    await fsp.writeFile(path.join(state, 'machine-id'), 'mine\n');
    const plan = async (op: string, files: { path: string; content: string }[]) => ({
      opId: op, target: 'app', installDir: install, layout: 'in-place' as const, stateDir: path.join(state, 'targets', 'app'), pointsDir: path.join(state, 'points', 'app'),
      toVersion: '1.0.0', files: await toPlanned(path.join(ROOT, 'cache'), files), retention: 3, reservedDirs: [state],
    });
    for (const rel of ['st/machine-id', 'ST/machine-id', 'St']) {
      const err = (await applyRelease(await plan(`rsv-${rel.replace('/', '-')}`, [{ path: 'a.txt', content: 'a' }, { path: rel, content: 'pwned' }])).catch((e: unknown) => e)) as { code: string; message: string };
      expect(err.code).toBe('ERR_UNSAFE_PATH');
      expect(err.message).toMatch(/Upkeep's own directory st/);
    }
    expect(await tree(install)).toEqual(['st/', 'st/machine-id=mine\n']);
    // Paths elsewhere are fine.
    await applyRelease(await plan('rsv-ok', [{ path: 'a.txt', content: 'a' }, { path: 'stx/f', content: 'f' }]));
    expect((await tree(install)).filter((e) => !e.startsWith('st/'))).toEqual(['a.txt=a', 'stx/', 'stx/f=f']);
    expect(await fsp.readFile(path.join(state, 'machine-id'), 'utf8')).toBe('mine\n');
  });

  it('a release with symbolic links on a volume without them (exFAT): undone, and said so', async () => {
    const s = sandbox('nolinks');
    await s.apply('1.0.0', [{ path: 'a.txt', content: 'a' }]);
    const t1 = await tree(s.install);
    const files = [...(await toPlanned(path.join(ROOT, 'cache'), [{ path: 'a.txt', content: 'a' }])), { path: 'l', source: '', sha256: '', size: 0, mode: 0, target: 'a.txt' }];
    const err = (await applyRelease({ opId: 'nolinks9', target: 'app', installDir: s.install, layout: 'in-place', stateDir: path.join(MNT, 'nolinks', 'state'), pointsDir: path.join(MNT, 'nolinks', 'points'), toVersion: '2.0.0', files, retention: 5 }).catch((e: unknown) => e)) as { code: string; message: string };
    expect(err.code).toBe('ERR_APPLY_FAILED');
    expect(err.message).toMatch(/does not support symbolic links/);
    expect(await tree(s.install)).toEqual(t1);
  });
});
