/**
 * Layout changes between versions (a file becomes a directory and back, a file becomes a
 * symbolic link and back), symbolic link entries, and local edits of managed files: applied,
 * rolled back and undone byte for byte, never refused as a security problem.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { applyRelease, listPoints, readInstalled, rollbackToPoint } from '../../../src-main/engine/apply/index';
import type { UpkeepError } from '../../../src-shared/errors';
import type { Sandbox, SpecFile } from './helpers';
import { leftovers, makeSandbox, snapshot, toPlanned } from './helpers';

let sb: Sandbox;
let n = 0;
const op = (): string => `op${++n}`;
const apply = async (version: string, files: SpecFile[], extra: { onLocalChange?: 'keep' | 'overwrite' | 'refuse' } = {}, verify?: () => Promise<void>) =>
  applyRelease({ ...sb.plan(op(), version, await toPlanned(sb.cacheDir, files)), ...extra }, verify ? { verify } : {});
const rollback = () => rollbackToPoint({ target: 'app', installDir: sb.installDir, stateDir: sb.stateDir, pointsDir: sb.pointsDir, opId: op() });

beforeEach(async () => {
  sb = await makeSandbox('upkeep-type-');
});
afterEach(async () => {
  await sb.cleanup();
});

const FILE_DOCS: SpecFile[] = [{ path: 'docs', content: 'docs as one file\n' }, { path: 'bin/app', content: 'app 1', mode: 0o755 }];
const DIR_DOCS: SpecFile[] = [{ path: 'docs/index.md', content: '# index\n' }, { path: 'docs/api/ref.md', content: 'ref\n', mode: 0o600 }, { path: 'bin/app', content: 'app 2', mode: 0o755 }];
const LINKS: SpecFile[] = [
  { path: 'lib/libfoo.so.1.2', content: 'ELF 1.2', mode: 0o755 },
  { path: 'lib/libfoo.so', target: 'libfoo.so.1.2' },
  { path: 'bin/app', target: '../lib/libfoo.so' },
  { path: 'docs', content: 'docs as one file\n' },
];

describe('type changes between versions', () => {
  it('file -> directory -> file, with rollbacks, and the journal undoing a failed switch', async () => {
    await apply('1.0.0', FILE_DOCS);
    const t1 = await snapshot(sb.installDir);
    const r2 = await apply('2.0.0', DIR_DOCS);
    expect(r2.filesRemoved).toEqual(['docs']);
    const t2 = await snapshot(sb.installDir);
    expect(t2.find((e) => e.path === 'docs')?.type).toBe('dir');
    expect(t2.find((e) => e.path === 'docs')?.mode).toBe(0o755);
    expect(await fsp.readFile(path.join(sb.installDir, 'docs/index.md'), 'utf8')).toBe('# index\n');
    expect(t2.find((e) => e.path === 'docs/api/ref.md')?.mode).toBe(0o600);

    // A failed verify undoes the directory -> file change exactly.
    const err = await apply('3.0.0', FILE_DOCS, {}, async () => {
      expect((await fsp.lstat(path.join(sb.installDir, 'docs'))).isFile()).toBe(true);
      throw new Error('health failed');
    }).catch((e: unknown) => e);
    expect((err as Error).message).toBe('health failed');
    expect(await snapshot(sb.installDir)).toEqual(t2);

    await apply('3.0.0', FILE_DOCS);
    const t3 = await snapshot(sb.installDir);
    expect(t3.find((e) => e.path === 'docs')?.type).toBe('file');
    await rollback();
    expect(await snapshot(sb.installDir)).toEqual(t2);
    await rollback();
    expect(await snapshot(sb.installDir)).toEqual(t1);
    expect(await leftovers(sb.root)).toEqual([]);
  });

  it('file <-> symbolic link entries: created, backed up and rolled back as links', async () => {
    await apply('1.0.0', [{ path: 'lib/libfoo.so.1.2', content: 'ELF 1.2', mode: 0o755 }, { path: 'lib/libfoo.so', content: 'a copy' }, { path: 'bin/app', content: 'app', mode: 0o755 }, { path: 'docs/index.md', content: 'i' }]);
    const t1 = await snapshot(sb.installDir);
    await apply('2.0.0', LINKS);
    const t2 = await snapshot(sb.installDir);
    expect(t2.find((e) => e.path === 'lib/libfoo.so')).toEqual({ path: 'lib/libfoo.so', type: 'symlink', mode: 0, target: 'libfoo.so.1.2' });
    expect(t2.find((e) => e.path === 'bin/app')).toMatchObject({ type: 'symlink', target: '../lib/libfoo.so' });
    expect(await fsp.readFile(path.join(sb.installDir, 'bin/app'), 'utf8')).toBe('ELF 1.2');
    expect((await readInstalled(sb.stateDir))?.files.find((f) => f.path === 'bin/app')).toEqual({ path: 'bin/app', sha256: '', size: 0, mode: 0, target: '../lib/libfoo.so' });
    // Re-applying the same tree changes nothing (links compare by target).
    const same = await apply('2.0.1', LINKS);
    expect(same.filesUpdated).toEqual([]);
    // Link -> file again.
    await apply('3.0.0', [{ path: 'lib/libfoo.so.1.2', content: 'ELF 1.2', mode: 0o755 }, { path: 'lib/libfoo.so', content: 'file again' }, { path: 'bin/app', content: 'app 3', mode: 0o755 }]);
    expect((await fsp.lstat(path.join(sb.installDir, 'lib/libfoo.so'))).isFile()).toBe(true);
    await rollback();
    await rollback();
    expect(await snapshot(sb.installDir)).toEqual(t2);
    await rollback();
    expect(await snapshot(sb.installDir)).toEqual(t1);
    expect(await listPoints(sb.pointsDir)).toEqual([]);
  });

  it('versioned layout installs link entries as links', async () => {
    await applyRelease(sb.plan(op(), '1.0.0', await toPlanned(sb.cacheDir, LINKS), 'versioned'));
    const cur = path.join(sb.installDir, 'current');
    expect(await fsp.readlink(path.join(cur, 'lib/libfoo.so'))).toBe('libfoo.so.1.2');
    expect(await fsp.readFile(path.join(cur, 'bin/app'), 'utf8')).toBe('ELF 1.2');
  });

  it('refuses, as a plain failure, to replace a directory holding files Upkeep does not manage', async () => {
    await apply('1.0.0', DIR_DOCS);
    await fsp.writeFile(path.join(sb.installDir, 'docs/api/mine.txt'), 'user file');
    const before = await snapshot(sb.installDir);
    const err = (await apply('2.0.0', FILE_DOCS).catch((e: unknown) => e)) as UpkeepError;
    expect(err.code).toBe('ERR_APPLY_FAILED');
    expect(err.message).toMatch(/docs\/api\/mine\.txt/);
    expect(await snapshot(sb.installDir)).toEqual(before);
  });
});

describe('local edits of managed files', () => {
  const V1: SpecFile[] = [{ path: 'etc/app.conf', content: 'port=1\n' }, { path: 'a.txt', content: 'a1' }, { path: 'gone.txt', content: 'g' }];
  const V2: SpecFile[] = [{ path: 'etc/app.conf', content: 'port=2\n' }, { path: 'a.txt', content: 'a2' }];

  it('keep (default): the user copy stays beside as <name>.local-<date>, listed in the outcome', async () => {
    await apply('1.0.0', V1);
    await fsp.writeFile(path.join(sb.installDir, 'etc/app.conf'), 'port=99 # mine\n');
    await fsp.writeFile(path.join(sb.installDir, 'gone.txt'), 'edited, then the release drops it');
    const r = await apply('2.0.0', V2);
    const day = new Date().toISOString().slice(0, 10);
    expect(r.localCopies).toEqual([
      { path: 'etc/app.conf', kept_as: `etc/app.conf.local-${day}` },
      { path: 'gone.txt', kept_as: `gone.txt.local-${day}` },
    ]);
    expect(await fsp.readFile(path.join(sb.installDir, 'etc/app.conf'), 'utf8')).toBe('port=2\n');
    expect(await fsp.readFile(path.join(sb.installDir, `etc/app.conf.local-${day}`), 'utf8')).toBe('port=99 # mine\n');
    expect(await fsp.readFile(path.join(sb.installDir, `gone.txt.local-${day}`), 'utf8')).toBe('edited, then the release drops it');
    // Rollback restores the edited bytes as they were before the apply; kept copies stay (user files).
    await rollback();
    expect(await fsp.readFile(path.join(sb.installDir, 'etc/app.conf'), 'utf8')).toBe('port=99 # mine\n');
    expect(await fsp.readFile(path.join(sb.installDir, `etc/app.conf.local-${day}`), 'utf8')).toBe('port=99 # mine\n');
  });

  it('keep: a name too long for the .local-<date> suffix is shortened to fit NAME_MAX, never a release path', async () => {
    const long = `lib/${'\u00e9'.repeat(120)}.conf`; // 243 bytes of UTF-8 in the last segment
    const day = new Date().toISOString().slice(0, 10);
    await apply('1.0.0', [{ path: long, content: 'v1' }, { path: 'b.txt', content: 'b1' }]);
    await fsp.writeFile(path.join(sb.installDir, long), 'mine');
    await fsp.writeFile(path.join(sb.installDir, 'b.txt'), 'mine too');
    // The release itself ships the name the user copy of b.txt would get: that name is taken.
    const r = await apply('2.0.0', [{ path: long, content: 'v2' }, { path: 'b.txt', content: 'b2' }, { path: `b.txt.local-${day}`, content: 'shipped' }]);
    expect(r.localCopies).toHaveLength(2);
    const kept = r.localCopies.find((c) => c.path === long)!.kept_as;
    expect(kept.startsWith('lib/\u00e9')).toBe(true);
    expect(kept.endsWith(`.local-${day}`)).toBe(true);
    expect(Buffer.byteLength(path.posix.basename(kept))).toBeLessThanOrEqual(255);
    expect(await fsp.readFile(path.join(sb.installDir, kept), 'utf8')).toBe('mine');
    expect(await fsp.readFile(path.join(sb.installDir, long), 'utf8')).toBe('v2');
    expect(r.localCopies.find((c) => c.path === 'b.txt')!.kept_as).toBe(`b.txt.local-${day}-2`);
    expect(await fsp.readFile(path.join(sb.installDir, `b.txt.local-${day}`), 'utf8')).toBe('shipped');
    expect(await fsp.readFile(path.join(sb.installDir, `b.txt.local-${day}-2`), 'utf8')).toBe('mine too');
  });

  it('keep: edited files inside a directory that becomes a file are kept in <dir>.local-<date>/ (apply, undo and rollback)', async () => {
    const day = new Date().toISOString().slice(0, 10);
    const DIR_A: SpecFile[] = [{ path: 'a/b', content: 'b1' }, { path: 'a/x/y', content: 'y1' }, { path: 'a/z', content: 'z1' }, { path: 'c', content: 'c' }];
    const FILE_A: SpecFile[] = [{ path: 'a', content: 'A' }, { path: 'c', content: 'c' }];
    await apply('1.0.0', DIR_A);
    await fsp.writeFile(path.join(sb.installDir, 'a/b'), 'mine b');
    await fsp.writeFile(path.join(sb.installDir, 'a/x/y'), 'mine y');
    const edited = await snapshot(sb.installDir);
    // A failed verify undoes it all, the kept directory included.
    await expect(apply('2.0.0', FILE_A, { onLocalChange: 'keep' }, async () => {
      throw new Error('health failed');
    })).rejects.toThrow('health failed');
    expect(await snapshot(sb.installDir)).toEqual(edited);
    expect(await leftovers(sb.installDir)).toEqual([]);

    const r = await apply('2.0.0', FILE_A, { onLocalChange: 'keep' });
    expect(r.localCopies).toEqual([{ path: 'a/b', kept_as: `a.local-${day}/b` }, { path: 'a/x/y', kept_as: `a.local-${day}/x/y` }]);
    expect(await fsp.readFile(path.join(sb.installDir, 'a'), 'utf8')).toBe('A');
    expect(await fsp.readFile(path.join(sb.installDir, `a.local-${day}/b`), 'utf8')).toBe('mine b');
    expect(await fsp.readFile(path.join(sb.installDir, `a.local-${day}/x/y`), 'utf8')).toBe('mine y');
    expect((await fsp.readdir(sb.installDir)).sort()).toEqual(['a', `a.local-${day}`, 'c']);
    expect(await leftovers(sb.installDir)).toEqual([]);

    // Rollback to the directory, then a local edit inside it before rolling back to the file again.
    await apply('3.0.0', DIR_A);
    await fsp.writeFile(path.join(sb.installDir, 'a/z'), 'mine z');
    const rb = await rollbackToPoint({ target: 'app', installDir: sb.installDir, stateDir: sb.stateDir, pointsDir: sb.pointsDir, opId: op(), onLocalChange: 'keep' });
    expect(rb.localCopies).toEqual([{ path: 'a/z', kept_as: `a.local-${day}-2/z` }]);
    expect(await fsp.readFile(path.join(sb.installDir, 'a'), 'utf8')).toBe('A');
    expect(await fsp.readFile(path.join(sb.installDir, `a.local-${day}-2/z`), 'utf8')).toBe('mine z');
    expect(await leftovers(sb.installDir)).toEqual([]);
  });

  it('a managed file made a symbolic link locally, or a link repointed or made a file, is a local change (keep, refuse)', async () => {
    const day = new Date().toISOString().slice(0, 10);
    const V1L: SpecFile[] = [{ path: 'config.yml', content: 'c1' }, { path: 'x', content: 'x1' }, { path: 'l', target: 'x' }, { path: 'm', target: 'x' }];
    const V2L: SpecFile[] = [{ path: 'config.yml', content: 'c2' }, { path: 'x', content: 'x2' }, { path: 'l', target: 'x' }, { path: 'm', target: 'x' }];
    await apply('1.0.0', V1L);
    await fsp.writeFile(path.join(sb.root, 'mine.yml'), 'mine');
    await fsp.rm(path.join(sb.installDir, 'config.yml'));
    await fsp.symlink(path.join(sb.root, 'mine.yml'), path.join(sb.installDir, 'config.yml'));
    await fsp.rm(path.join(sb.installDir, 'l'));
    await fsp.writeFile(path.join(sb.installDir, 'l'), 'my l');
    await fsp.rm(path.join(sb.installDir, 'm'));
    await fsp.symlink('config.yml', path.join(sb.installDir, 'm'));
    const edited = [await snapshot(sb.installDir), await snapshot(sb.pointsDir), await snapshot(sb.stateDir)];
    const err = (await apply('2.0.0', V2L, { onLocalChange: 'refuse' }).catch((e: unknown) => e)) as UpkeepError;
    expect(err.code).toBe('ERR_LOCAL_CHANGES');
    expect(err.details).toEqual({ files: ['config.yml', 'l', 'm'] });
    expect([await snapshot(sb.installDir), await snapshot(sb.pointsDir), await snapshot(sb.stateDir)]).toEqual(edited);

    const r = await apply('2.0.0', V2L);
    expect(r.localCopies).toEqual([{ path: 'config.yml', kept_as: `config.yml.local-${day}` }, { path: 'l', kept_as: `l.local-${day}` }, { path: 'm', kept_as: `m.local-${day}` }]);
    expect(await fsp.readlink(path.join(sb.installDir, `config.yml.local-${day}`))).toBe(path.join(sb.root, 'mine.yml'));
    expect(await fsp.readFile(path.join(sb.installDir, `l.local-${day}`), 'utf8')).toBe('my l');
    expect(await fsp.readlink(path.join(sb.installDir, `m.local-${day}`))).toBe('config.yml');
    expect(await fsp.readFile(path.join(sb.installDir, 'config.yml'), 'utf8')).toBe('c2');
    expect(await fsp.readlink(path.join(sb.installDir, 'l'))).toBe('x');
    expect(await fsp.readFile(path.join(sb.root, 'mine.yml'), 'utf8')).toBe('mine');
  });

  it('keep: the kept name is never a directory the release creates (b.txt.local-<date>/q shipped)', async () => {
    const day = new Date().toISOString().slice(0, 10);
    await apply('1.0.0', [{ path: 'b.txt', content: 'b1' }]);
    await fsp.writeFile(path.join(sb.installDir, 'b.txt'), 'mine');
    const r = await apply('2.0.0', [{ path: 'b.txt', content: 'b2' }, { path: `b.txt.local-${day}/q`, content: 'shipped' }]);
    expect(r.localCopies).toEqual([{ path: 'b.txt', kept_as: `b.txt.local-${day}-2` }]);
    expect(await fsp.readFile(path.join(sb.installDir, `b.txt.local-${day}-2`), 'utf8')).toBe('mine');
    expect(await fsp.readFile(path.join(sb.installDir, `b.txt.local-${day}/q`), 'utf8')).toBe('shipped');
  });

  it('refuse: ERR_LOCAL_CHANGES listing the files, nothing changed', async () => {
    await apply('1.0.0', V1);
    await fsp.writeFile(path.join(sb.installDir, 'a.txt'), 'mine');
    const files = await toPlanned(sb.cacheDir, V2);
    const before = [await snapshot(sb.installDir), await snapshot(sb.pointsDir), await snapshot(sb.stateDir)];
    const err = (await applyRelease({ ...sb.plan(op(), '2.0.0', files), onLocalChange: 'refuse' }).catch((e: unknown) => e)) as UpkeepError;
    expect(err.code).toBe('ERR_LOCAL_CHANGES');
    expect(err.details).toEqual({ files: ['a.txt'] });
    expect([await snapshot(sb.installDir), await snapshot(sb.pointsDir), await snapshot(sb.stateDir)]).toEqual(before);
  });

  it('overwrite: replaced, the edited bytes only in the rollback point', async () => {
    await apply('1.0.0', V1);
    await fsp.writeFile(path.join(sb.installDir, 'a.txt'), 'mine');
    const r = await apply('2.0.0', V2, { onLocalChange: 'overwrite' });
    expect(r.localCopies).toEqual([]);
    expect((await fsp.readdir(sb.installDir)).sort()).toEqual(['a.txt', 'etc']);
    await rollback();
    expect(await fsp.readFile(path.join(sb.installDir, 'a.txt'), 'utf8')).toBe('mine');
  });
});
