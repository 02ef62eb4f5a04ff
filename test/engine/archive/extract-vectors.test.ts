/**
 * The archive extractor against ../shared/vectors/malicious-archives (see SOURCES.md there):
 * every escaping or malformed archive is refused with ERR_UNSAFE_ARCHIVE, leaves nothing in the
 * destination and writes nothing outside it; the benign node-tar fixtures (hard links inside the
 * root, long names, a NUL-padded header) extract exactly.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { promises as fsp, readdirSync } from 'node:fs';
import path from 'node:path';
import { detectArchiveFormat, extractArchive } from '../../../src-main/engine/archive/extract';
import { snapshot } from '../../helpers/tree';
import { errorOf, sha256Hex, tempDir } from './archive-helpers';

const DIR = path.resolve(process.cwd(), '../shared/vectors/malicious-archives');

/** Archives that must extract: entries stay inside the root (node-tar's own positive fixtures). */
const BENIGN = new Set(['node-tar/links.tar', 'node-tar/links-strip.tar', 'node-tar/long-paths.tar', 'node-tar/null-byte.tar', 'node-tar/trailing-slash-corner-case.tar']);

function archivesUnder(sub: string): string[] {
  return readdirSync(path.join(DIR, sub))
    .filter((n) => detectArchiveFormat(n) !== null)
    .map((n) => `${sub}/${n}`)
    .sort();
}
const ALL = [...archivesUnder('snyk-zip-slip'), ...archivesUnder('node-tar'), ...archivesUnder('jwilk-layouts-derived'), ...archivesUnder('yauzl-failure/test/failure')];
const REFUSED = ALL.filter((f) => !BENIGN.has(f));

/** Paths the traversal vectors aim at, outside the destination. */
const TARGETS = ['/tmp/moo', '/tmp/evil.txt', '/tmp/secret.txt', '/secret.txt', '/some/absolute/path'];

let tmp: { dir: string; cleanup: () => Promise<void> };
beforeEach(async () => {
  tmp = await tempDir();
});
afterEach(async () => tmp.cleanup());

async function outsideState(): Promise<string> {
  const seen: string[] = [];
  for (const t of TARGETS) {
    const st = await fsp.lstat(t).catch(() => null);
    seen.push(st === null ? `${t}: absent` : `${t}: ${st.mtimeMs} ${st.size}`);
  }
  return seen.join('\n');
}

describe('malicious-archives vectors', () => {
  it('covers every archive in the folder (24 yauzl failures, zip-slip, node-tar, jwilk layouts)', () => {
    expect(archivesUnder('yauzl-failure/test/failure')).toHaveLength(24);
    expect(ALL.length).toBe(REFUSED.length + BENIGN.size);
    expect(REFUSED.length).toBeGreaterThanOrEqual(24 + 4 + 3 + 17);
  });

  it.each(REFUSED)('%s is refused with ERR_UNSAFE_ARCHIVE and leaves nothing behind', async (rel) => {
    // A deep destination so '../' chains of any length stay inside the sandbox if they escaped.
    const sandbox = path.join(tmp.dir, 'sandbox');
    const dest = path.join(sandbox, 'a', 'b', 'c', 'd', 'e', 'f', 'dest');
    await fsp.mkdir(path.dirname(dest), { recursive: true });
    await fsp.writeFile(path.join(sandbox, 'a', 'sentinel'), 'untouched');
    const before = await snapshot(sandbox);
    const outside = await outsideState();

    const file = path.join(DIR, rel);
    const format = detectArchiveFormat(file)!;
    const err = await errorOf(extractArchive(file, dest, { format }));
    expect(err.code, err.message).toBe('ERR_UNSAFE_ARCHIVE');
    expect(err.message).toContain(path.basename(file));

    await expect(fsp.lstat(dest)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await snapshot(sandbox)).toEqual(before);
    expect(await outsideState()).toBe(outside);
  });

  it('a refused archive empties a destination that existed before, and keeps the directory', async () => {
    const dest = path.join(tmp.dir, 'dest');
    await fsp.mkdir(dest);
    const err = await errorOf(extractArchive(path.join(DIR, 'snyk-zip-slip/zip-slip.tar'), dest, { format: 'tar' }));
    expect(err.code).toBe('ERR_UNSAFE_ARCHIVE');
    // good.txt came first and was written; the refusal removed it again.
    expect(err.message).toContain('".." segment');
    expect(await fsp.readdir(dest)).toEqual([]);
  });

  it('names the reason: traversal, absolute link, link chain, yauzl\'s own message', async () => {
    const reason = async (rel: string) => (await errorOf(extractArchive(path.join(DIR, rel), path.join(tmp.dir, rel.replace(/\W/g, '_')), { format: detectArchiveFormat(rel)! }))).message;
    expect(await reason('jwilk-layouts-derived/relative2.tar')).toMatch(/"tmp\/\.\.\/\.\.\/moo": "\.\." segment/);
    expect(await reason('jwilk-layouts-derived/absolute2.tar')).toMatch(/absolute path/);
    expect(await reason('jwilk-layouts-derived/dirsymlink.tar')).toMatch(/"tmp": symbolic link target "\/tmp": absolute target/);
    expect(await reason('jwilk-layouts-derived/dirsymlink2a.tar')).toMatch(/written through the symbolic link "par"/);
    expect(await reason('jwilk-layouts-derived/dirsymlink2b.zip')).toMatch(/written through the symbolic link "cur"/);
    expect(await reason('jwilk-layouts-derived/node-tar-ghsa-8qq5-rm4j-mr97-entries.tar')).toMatch(/hard link target "\/tmp\/secret.txt"/);
    expect(await reason('snyk-zip-slip/zip-slip-win.tar')).toMatch(/backslash/);
    expect(await reason('node-tar/bad-cksum.tar')).toMatch(/malformed tar \(checksum failure\)/);
    expect(await reason('node-tar/path-missing.tar')).toMatch(/malformed tar/);
    expect(await reason('yauzl-failure/test/failure/invalid code lengths set.zip')).toMatch(/invalid code lengths set/);
  });
});

describe('benign node-tar fixtures', () => {
  it('links.tar: the hard link becomes a copy, the symlink stays a link to it', async () => {
    const dest = path.join(tmp.dir, 'out');
    const entries = await extractArchive(path.join(DIR, 'node-tar/links.tar'), dest, { format: 'tar' });
    const one = await fsp.readFile(path.join(dest, 'hardlink-1'));
    expect(one.length).toBe(26);
    expect(entries).toEqual([
      { path: 'hardlink-1', type: 'file', size: 26, mode: 0o644, sha256: sha256Hex(one) },
      { path: 'hardlink-2', type: 'file', size: 26, mode: 0o644, sha256: sha256Hex(one) },
      { path: 'symlink', type: 'symlink', size: 0, mode: 0o777, target: 'hardlink-2' },
    ]);
    expect(await fsp.readFile(path.join(dest, 'hardlink-2'))).toEqual(one);
    const st1 = await fsp.stat(path.join(dest, 'hardlink-1'));
    const st2 = await fsp.stat(path.join(dest, 'hardlink-2'));
    expect(st1.ino).not.toBe(st2.ino);
    expect(await fsp.readlink(path.join(dest, 'symlink'))).toBe('hardlink-2');
  });

  it('links-strip.tar with stripComponents 1: hard links resolve after stripping, parents are implicit', async () => {
    const dest = path.join(tmp.dir, 'out');
    const entries = await extractArchive(path.join(DIR, 'node-tar/links-strip.tar'), dest, { format: 'tar', stripComponents: 1 });
    expect(entries.map((e) => `${e.type} ${e.path}`)).toEqual([
      'file hardlink-1',
      'file hardlink-2',
      'directory 1',
      'directory 1/2',
      'directory 1/2/3',
      'file 1/2/3/hardlink-3',
      'symlink symlink',
    ]);
    const data = await fsp.readFile(path.join(dest, 'hardlink-1'));
    expect(await fsp.readFile(path.join(dest, '1/2/3/hardlink-3'))).toEqual(data);
  });

  it('long-paths.tar, trailing-slash-corner-case.tar and null-byte.tar extract every file with its size', async () => {
    for (const name of ['long-paths.tar', 'trailing-slash-corner-case.tar', 'null-byte.tar']) {
      const dest = path.join(tmp.dir, name);
      const entries = await extractArchive(path.join(DIR, 'node-tar', name), dest, { format: 'tar' });
      const files = entries.filter((e) => e.type === 'file');
      expect(files.length).toBeGreaterThan(0);
      for (const f of files) {
        const bytes = await fsp.readFile(path.join(dest, f.path));
        expect(bytes.length).toBe(f.size);
        expect(sha256Hex(bytes)).toBe(f.sha256);
      }
    }
  });
});
