import { promises as fsp, readdirSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { applyRelease, rollbackToPoint } from '../../../src-main/engine/apply/index';
import { Fingerprints, FINGERPRINTS_FILE, observe } from '../../../src-main/engine/apply/fingerprints';
import type { Sandbox, SpecFile } from './helpers';
import { makeSandbox, sha256, snapshot, toPlanned } from './helpers';

// The fast paths of an apply (no bytes copied, no bytes re-read) must never trade correctness:
// hard-linked sources, stat fingerprints seeing every later edit, rollback through them.

let sb: Sandbox;
beforeEach(async () => {
  sb = await makeSandbox('upkeep-fast-');
});
afterEach(async () => {
  await sb.cleanup();
});

const V1: SpecFile[] = [
  { path: 'a.txt', content: 'alpha v1\n' },
  { path: 'bin/tool', content: '#!/bin/sh\necho v1\n', mode: 0o755 },
  { path: 'same-1.txt', content: 'twice' },
  { path: 'same-2.txt', content: 'twice' },
];
const V2: SpecFile[] = [
  { path: 'a.txt', content: 'alpha v2\n' },
  { path: 'bin/tool', content: '#!/bin/sh\necho v1\n', mode: 0o755 },
  { path: 'same-1.txt', content: 'twice' },
  { path: 'same-2.txt', content: 'twice' },
];

async function planned(files: SpecFile[], linkable: boolean) {
  return (await toPlanned(sb.cacheDir, files)).map((f) => ({ ...f, linkable }));
}

describe('apply fast paths', () => {
  it('stages a linkable source by hard link with the wanted mode, one installed path per source inode', async () => {
    const files = await planned(V1, true);
    await applyRelease(sb.plan('op1', '1.0.0', files));
    const tool = await fsp.lstat(path.join(sb.installDir, 'bin/tool'));
    const blob = await fsp.lstat(files.find((f) => f.path === 'bin/tool')!.source);
    expect(tool.ino).toBe(blob.ino);
    expect(tool.mode & 0o7777).toBe(0o755);
    // The same bytes at two paths: linked once, copied once — an edit of one never changes the other.
    const s1 = await fsp.lstat(path.join(sb.installDir, 'same-1.txt'));
    const s2 = await fsp.lstat(path.join(sb.installDir, 'same-2.txt'));
    expect(s1.ino).not.toBe(s2.ino);
    expect((await snapshot(sb.installDir)).filter((e) => e.type === 'file').map((e) => [e.path, e.sha256])).toEqual(
      V1.map((f) => [f.path, sha256(f.content as string)]).sort(),
    );
  });

  it('sources that are not linkable are copied (a new inode)', async () => {
    const files = await planned(V1, false);
    await applyRelease(sb.plan('op1', '1.0.0', files));
    const a = await fsp.lstat(path.join(sb.installDir, 'a.txt'));
    expect(a.ino).not.toBe((await fsp.lstat(files[0]!.source)).ino);
  });

  it('records fingerprints after a commit, and an edit keeping size and mtime is still seen by the next apply', async () => {
    await applyRelease(sb.plan('op1', '1.0.0', await planned(V1, false)));
    const fps = JSON.parse(await fsp.readFile(path.join(sb.stateDir, FINGERPRINTS_FILE), 'utf8')) as { files: unknown[] };
    expect(fps.files).toHaveLength(V1.length);
    // Same length, mtime put back: only the ctime tells (the kernel always moves it).
    const tool = path.join(sb.installDir, 'bin/tool');
    const before = await fsp.lstat(tool);
    await fsp.writeFile(tool, '#!/bin/sh\necho XX\n');
    await fsp.utimes(tool, before.atime, before.mtime);
    expect((await fsp.lstat(tool)).size).toBe(before.size);
    const r = await applyRelease({ ...sb.plan('op2', '2.0.0', await planned(V2, false)), onLocalChange: 'keep' });
    expect(r.localCopies.map((c) => c.path)).toEqual(['bin/tool']);
    expect(await fsp.readFile(path.join(sb.installDir, r.localCopies[0]!.kept_as), 'utf8')).toBe('#!/bin/sh\necho XX\n');
    expect(await fsp.readFile(tool, 'utf8')).toBe('#!/bin/sh\necho v1\n');
  });

  it('observe trusts a matching fingerprint without reading, and hashes again once the file changed', async () => {
    const f = path.join(sb.root, 'f.bin');
    await fsp.writeFile(f, 'real bytes');
    await new Promise((r) => setTimeout(r, 50));
    const st = await fsp.lstat(f, { bigint: true });
    const claimed = 'c'.repeat(64);
    const file = path.join(sb.root, FINGERPRINTS_FILE);
    await fsp.writeFile(file, JSON.stringify({ v: 1, files: [[f, claimed, String(st.dev), Number(st.size), String(st.ino), String(st.mtimeNs), String(st.ctimeNs)]] }));
    const fps = await Fingerprints.read(file);
    // The claim is taken as it is: proof that the bytes were not read.
    expect((await observe(f, fps)).disk).toMatchObject({ kind: 'file', sha256: claimed });
    await fsp.chmod(f, 0o600); // ctime moves: the fingerprint no longer matches
    expect((await observe(f, fps)).disk).toMatchObject({ kind: 'file', sha256: sha256('real bytes') });
    // Malformed fingerprint files are no fingerprints at all.
    await fsp.writeFile(file, '{not json');
    expect((await Fingerprints.read(file)).size).toBe(0);
  });

  it('rolls back through fingerprints and hard links to exactly the old tree, and a later edit of a restored file is seen', async () => {
    await applyRelease(sb.plan('op1', '1.0.0', await planned(V1, true)));
    const old = await snapshot(sb.installDir);
    // Files changed within a clock tick of being looked at are "racy" and get no fingerprint: let the tick pass.
    await new Promise((r) => setTimeout(r, 100));
    await applyRelease(sb.plan('op2', '2.0.0', await planned(V2, true)));
    await rollbackToPoint({ target: 'app', installDir: sb.installDir, stateDir: sb.stateDir, pointsDir: sb.pointsDir, opId: 'op3' });
    expect(await snapshot(sb.installDir)).toEqual(old);
    await fsp.writeFile(path.join(sb.installDir, 'a.txt'), 'alpha XX\n');
    const r = await applyRelease({ ...sb.plan('op4', '2.0.0', await planned(V2, true)), onLocalChange: 'keep' });
    expect(r.localCopies.map((c) => c.path)).toEqual(['a.txt']);
  });

  it("renames a point's files straight into place (same inodes, no staged names), and back into the point when verification fails", async () => {
    await applyRelease(sb.plan('op1', '1.0.0', await planned(V1, true)));
    const old = await snapshot(sb.installDir);
    await applyRelease(sb.plan('op2', '2.0.0', await planned(V2, true)));
    const current = await snapshot(sb.installDir);
    // Two points: op1's (back to nothing installed, no files) and op2's (keeping 1.0.0's a.txt).
    const ids = await fsp.readdir(sb.pointsDir);
    const id = (await Promise.all(ids.map(async (x) => ((await fsp.lstat(path.join(sb.pointsDir, x, 'files', 'a.txt')).then(() => true, () => false)) ? x : null)))).find((x) => x !== null);
    const kept = path.join(sb.pointsDir, id!, 'files', 'a.txt');
    const keptIno = (await fsp.lstat(kept)).ino;
    const seen: { ino: number; names: string[]; keptThere: boolean }[] = [];
    const verify = async (): Promise<void> => {
      const names = (await snapshot(sb.installDir)).map((e) => e.path);
      const keptThere = await fsp.lstat(kept).then(() => true, () => false);
      seen.push({ ino: (await fsp.lstat(path.join(sb.installDir, 'a.txt'))).ino, names, keptThere });
      throw new Error('health check failed');
    };
    const rb = { target: 'app', installDir: sb.installDir, stateDir: sb.stateDir, pointsDir: sb.pointsDir };
    // When the switch starts, a.txt (changed) has no staged copy in the install dir: it comes straight from the point.
    let atSwitch: string[] | null = null;
    const onProgress = (p: { phase: string }): void => {
      if (atSwitch === null && (p.phase === 'backup' || p.phase === 'switch')) atSwitch = readdirSync(sb.installDir);
    };
    await expect(rollbackToPoint({ ...rb, opId: 'op3' }, { verify, onProgress })).rejects.toThrow('health check failed');
    expect(atSwitch).not.toBeNull();
    expect(atSwitch!.filter((n) => n.includes('upkeep'))).toEqual([]);
    // While verifying: the point's inode is in place, moved (not linked), and no staging name exists.
    expect(seen).toEqual([{ ino: keptIno, names: old.map((e) => e.path), keptThere: false }]);
    // Undone: the tree as it was, the point's file back in the point.
    expect(await snapshot(sb.installDir)).toEqual(current);
    expect((await fsp.lstat(kept)).ino).toBe(keptIno);
    expect(await fsp.readFile(kept, 'utf8')).toBe('alpha v1\n');
    await rollbackToPoint({ ...rb, opId: 'op4' });
    expect(await snapshot(sb.installDir)).toEqual(old);
    expect((await fsp.lstat(path.join(sb.installDir, 'a.txt'))).ino).toBe(keptIno);
    expect(await fsp.readdir(sb.pointsDir)).toEqual(ids.filter((x) => x !== id));
  });
});
