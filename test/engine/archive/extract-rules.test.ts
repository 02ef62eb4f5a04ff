/**
 * The archive extractor on archives built here: real trees packed with node-tar, GNU tar, xz and
 * Python's zipfile extract byte for byte (modes, links, hashes); crafted entries exercise each
 * refusal (link chains, devices, duplicates, hard links, bounds, corrupt streams, cancellation).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { create as tarCreate } from 'tar';
import { detectArchiveFormat, extractArchive, type ArchiveFormat } from '../../../src-main/engine/archive/extract';
import { snapshot, writeTree } from '../../helpers/tree';
import { errorOf, pythonZip, rawTar, sha256Hex, tempDir, type RawEntry } from './archive-helpers';

let tmp: { dir: string; cleanup: () => Promise<void> };
beforeEach(async () => {
  tmp = await tempDir();
});
afterEach(async () => tmp.cleanup());

const out = (name = 'out') => path.join(tmp.dir, name);

async function writeRaw(entries: RawEntry[], gzip = false): Promise<string> {
  const file = path.join(tmp.dir, gzip ? 'raw.tar.gz' : 'raw.tar');
  const bytes = rawTar(entries);
  await fsp.writeFile(file, gzip ? gzipSync(bytes) : bytes);
  return file;
}

async function refusal(file: string, format: ArchiveFormat, extra: Parameters<typeof extractArchive>[2] extends infer O ? Partial<O> : never = {}) {
  const dest = out(`refused-${Math.random().toString(36).slice(2)}`);
  const err = await errorOf(extractArchive(file, dest, { format, ...extra }));
  await expect(fsp.lstat(dest)).rejects.toMatchObject({ code: 'ENOENT' });
  return err;
}

/** A release-like tree: nested dirs, an executable, a relative symlink, an empty file. */
async function buildTree(root: string): Promise<void> {
  await writeTree(root, {
    'app/bin/tool': { data: '#!/bin/sh\necho tool\n', mode: 0o755 },
    'app/lib/libfoo.so.1.2': { data: Buffer.alloc(70_000, 7), mode: 0o644 },
    'app/share/doc/README.md': { data: '# readme\n', mode: 0o640 },
    'app/empty': { data: '', mode: 0o600 },
  });
  await fsp.symlink('libfoo.so.1.2', path.join(root, 'app/lib/libfoo.so'));
  await fsp.symlink('../lib/libfoo.so', path.join(root, 'app/bin/libfoo-link'));
  await fsp.chmod(path.join(root, 'app/share'), 0o750);
}

describe('archives made by real tools extract byte for byte', () => {
  const cases: Array<[string, ArchiveFormat, (src: string, file: string) => Promise<void>]> = [
    ['node-tar .tar', 'tar', (src, file) => tarCreate({ file, cwd: src, portable: true }, ['app'])],
    ['node-tar .tgz', 'tar.gz', (src, file) => tarCreate({ file, cwd: src, gzip: true, portable: true }, ['app'])],
    ['GNU tar .tar.gz with ./ prefix', 'tar.gz', async (src, file) => void execFileSync('tar', ['-czf', file, '-C', src, '.'])],
    ['GNU tar + xz .tar.xz', 'tar.xz', async (src, file) => void execFileSync('tar', ['-cJf', file, '-C', src, 'app'])],
    ['Info-ZIP .zip with links (zip -y)', 'zip', async (src, file) => void execFileSync('zip', ['-q', '-r', '-y', file, 'app'], { cwd: src })],
  ];
  it.each(cases)('%s', async (_label, format, make) => {
    const src = path.join(tmp.dir, 'src');
    await buildTree(src);
    const file = path.join(tmp.dir, `archive.${format}`);
    await make(src, file);
    const dest = out();
    const entries = await extractArchive(file, dest, { format });
    expect(await snapshot(dest)).toEqual(await snapshot(src));
    const byPath = new Map(entries.map((e) => [e.path, e]));
    const lib = await fsp.readFile(path.join(src, 'app/lib/libfoo.so.1.2'));
    expect(byPath.get('app/lib/libfoo.so.1.2')).toEqual({ path: 'app/lib/libfoo.so.1.2', type: 'file', size: 70_000, mode: 0o644, sha256: sha256Hex(lib) });
    expect(byPath.get('app/bin/tool')?.mode).toBe(0o755);
    expect(byPath.get('app/empty')).toMatchObject({ size: 0, sha256: sha256Hex('') });
    expect(byPath.get('app/bin/libfoo-link')).toEqual({ path: 'app/bin/libfoo-link', type: 'symlink', size: 0, mode: 0o777, target: '../lib/libfoo.so' });
    expect(byPath.get('app/share')).toMatchObject({ type: 'directory', mode: 0o750 });
    expect(entries.filter((e) => e.type === 'file')).toHaveLength(4);
  });

  it('stripComponents drops leading segments (GitHub-style top folder) and entries consumed by it', async () => {
    const src = path.join(tmp.dir, 'src');
    await buildTree(src);
    const file = path.join(tmp.dir, 'a.tar.gz');
    await tarCreate({ file, cwd: src, gzip: true }, ['app']);
    const entries = await extractArchive(file, out(), { format: 'tar.gz', stripComponents: 1 });
    expect(entries.map((e) => e.path)).not.toContain('app');
    expect(await snapshot(out())).toEqual(await snapshot(path.join(src, 'app')));
  });

  it('detectArchiveFormat maps extensions (case-insensitive), URLs too', () => {
    expect(detectArchiveFormat('myapp-1.2.0-linux-x64.tar.gz')).toBe('tar.gz');
    expect(detectArchiveFormat('MYAPP.TGZ')).toBe('tar.gz');
    expect(detectArchiveFormat('x.tar.xz')).toBe('tar.xz');
    expect(detectArchiveFormat('x.txz')).toBe('tar.xz');
    expect(detectArchiveFormat('x.tar')).toBe('tar');
    expect(detectArchiveFormat('x.zip')).toBe('zip');
    expect(detectArchiveFormat('https://h/dl/x.zip?token=1#f')).toBe('zip');
    expect(detectArchiveFormat('x.tar.bz2')).toBeNull();
    expect(detectArchiveFormat('SHA256SUMS')).toBeNull();
    expect(detectArchiveFormat('zip')).toBeNull();
  });
});

describe('modes', () => {
  it('setuid, setgid, sticky and world-writable bits are cleared; owner keeps read (files) and rwx (dirs)', async () => {
    const file = await writeRaw([
      { path: 'd/', type: 'Directory', mode: 0o1777 },
      { path: 'd/suid', data: 'x', mode: 0o4755 },
      { path: 'd/sgid', data: 'x', mode: 0o2750 },
      { path: 'd/ww', data: 'x', mode: 0o666 },
      { path: 'd/none', data: 'x', mode: 0o000 },
      { path: 'ro/', type: 'Directory', mode: 0o555 },
      { path: 'ro/f', data: 'y', mode: 0o444 },
    ]);
    const entries = await extractArchive(file, out(), { format: 'tar' });
    const modes = Object.fromEntries(entries.map((e) => [e.path, e.mode.toString(8)]));
    expect(modes).toEqual({ d: '775', 'd/suid': '755', 'd/sgid': '750', 'd/ww': '664', 'd/none': '400', ro: '755', 'ro/f': '444' });
    for (const e of entries) expect(((await fsp.lstat(path.join(out(), e.path))).mode & 0o7777).toString(8)).toBe(e.mode.toString(8));
  });

  it('zip entries made on Unix keep their modes; setuid is cleared there too', async () => {
    const file = path.join(tmp.dir, 'm.zip');
    pythonZip(file, [
      { name: 'bin/', unixMode: 0o040755 },
      { name: 'bin/run', data: 'run', unixMode: 0o104755 },
      { name: 'conf', data: 'c', unixMode: 0o100600 },
    ]);
    const entries = await extractArchive(file, out(), { format: 'zip' });
    expect(entries.map((e) => [e.path, e.mode.toString(8)])).toEqual([['bin', '755'], ['bin/run', '755'], ['conf', '600']]);
  });
});

describe('links', () => {
  it('refuses a link chain that leaves the root through an earlier link (cur -> ., par -> cur/..)', async () => {
    const file = await writeRaw([
      { path: 'cur', type: 'SymbolicLink', linkpath: '.' },
      { path: 'par', type: 'SymbolicLink', linkpath: 'cur/..' },
    ]);
    expect((await refusal(file, 'tar')).message).toMatch(/"par": symbolic link to "cur\/\.\." leaves the extraction root/);
  });

  it('refuses an earlier link that a later link turns into an escape (a -> b/x, then b -> ..)', async () => {
    const file = await writeRaw([
      { path: 'a', type: 'SymbolicLink', linkpath: 'b/x' },
      { path: 'b', type: 'SymbolicLink', linkpath: '..' },
    ]);
    expect((await refusal(file, 'tar')).message).toMatch(/leaves the extraction root/);
  });

  it('refuses link loops, escaping relative links and Windows-style targets', async () => {
    const loop = await writeRaw([
      { path: 'x', type: 'SymbolicLink', linkpath: 'y/z' },
      { path: 'y', type: 'SymbolicLink', linkpath: 'x' },
    ]);
    expect((await refusal(loop, 'tar')).message).toMatch(/more than 40 links/);
    const up = await writeRaw([{ path: 'lib/a', type: 'SymbolicLink', linkpath: '../../etc/passwd' }]);
    expect((await refusal(up, 'tar')).message).toMatch(/leaves the extraction root/);
    const win = await writeRaw([{ path: 'w', type: 'SymbolicLink', linkpath: 'C:/Windows' }]);
    expect((await refusal(win, 'tar')).message).toMatch(/drive letter/);
  });

  it('accepts links that stay inside, also through other links and dangling ones', async () => {
    const file = await writeRaw([
      { path: 'lib/libz.so.1.3', data: 'z' },
      { path: 'lib/libz.so.1', type: 'SymbolicLink', linkpath: 'libz.so.1.3' },
      { path: 'lib/libz.so', type: 'SymbolicLink', linkpath: 'libz.so.1' },
      { path: 'bin/libz', type: 'SymbolicLink', linkpath: '../lib/./libz.so' },
      { path: 'cur', type: 'SymbolicLink', linkpath: '.' },
      { path: 'later', type: 'SymbolicLink', linkpath: 'not-in-archive' },
    ]);
    const entries = await extractArchive(file, out(), { format: 'tar' });
    expect(entries.filter((e) => e.type === 'symlink').map((e) => e.target)).toEqual(['libz.so.1.3', 'libz.so.1', '../lib/./libz.so', '.', 'not-in-archive']);
    expect(await fsp.readFile(path.join(out(), 'bin/libz'), 'utf8')).toBe('z');
  });

  it('hard links: only to a file extracted earlier; never to a link, a directory, a later entry or outside', async () => {
    for (const [entries, why] of [
      [[{ path: 'h', type: 'Link', linkpath: 'later' }, { path: 'later', data: 'x' }], /not a file extracted earlier/],
      [[{ path: 'd/', type: 'Directory' }, { path: 'h', type: 'Link', linkpath: 'd' }], /not a file extracted earlier/],
      [[{ path: 's', type: 'SymbolicLink', linkpath: 'f' }, { path: 'h', type: 'Link', linkpath: 's' }], /not a file extracted earlier/],
      [[{ path: 'h', type: 'Link', linkpath: '../../etc/passwd' }], /hard link target .* is unsafe/],
    ] as Array<[RawEntry[], RegExp]>) {
      expect((await refusal(await writeRaw(entries), 'tar')).message).toMatch(why);
    }
  });

  it('zip: a symlink entry is a link; writing through it is refused', async () => {
    const file = path.join(tmp.dir, 'l.zip');
    pythonZip(file, [
      { name: 'real/f', data: 'f' },
      { name: 'alias', data: 'real', unixMode: 0o120777 },
      { name: 'alias/g', data: 'g' },
    ]);
    expect((await refusal(file, 'zip')).message).toMatch(/"alias\/g": written through the symbolic link "alias"/);
  });
});

describe('entry kinds, names and duplicates', () => {
  it.each(['CharacterDevice', 'BlockDevice', 'FIFO'] as const)('a %s entry is refused', async (type) => {
    const file = await writeRaw([{ path: 'ok', data: 'ok' }, { path: 'dev', type }]);
    expect((await refusal(file, 'tar')).message).toMatch(new RegExp(`entry type ${type} is not allowed`));
  });

  it('a zip entry with a device or FIFO mode is refused', async () => {
    const file = path.join(tmp.dir, 'dev.zip');
    pythonZip(file, [{ name: 'fifo', unixMode: 0o010644 }]);
    expect((await refusal(file, 'zip')).message).toMatch(/entry type 0o10000 is not allowed/);
  });

  it('refuses a second entry at the same path (file after link: the classic overwrite-through-link) and case collisions', async () => {
    const dup = await writeRaw([{ path: 'moo', type: 'SymbolicLink', linkpath: 'x' }, { path: 'moo', data: 'moo' }]);
    expect((await refusal(dup, 'tar')).message).toMatch(/a second entry for "moo"/);
    const cased = await writeRaw([{ path: 'README', data: 'a' }, { path: 'readme', data: 'b' }]);
    expect((await refusal(cased, 'tar')).message).toMatch(/collides with "README" on a case-insensitive file system/);
    const under = await writeRaw([{ path: 'f', data: 'a' }, { path: 'f/g', data: 'b' }]);
    expect((await refusal(under, 'tar')).message).toMatch(/"f" is a file, not a directory/);
    // One name in NFC and NFD (macOS writes NFD) and directories differing in case only: one path on APFS, NTFS and exFAT.
    const nfd = await writeRaw([{ path: 'caf\u00e9.txt', data: 'a' }, { path: 'cafe\u0301.txt', data: 'b' }]);
    expect((await refusal(nfd, 'tar')).message).toMatch(/collides with "caf\u00e9\.txt" on a case-insensitive file system/);
    const dirs = await writeRaw([{ path: 'Lib/a.js', data: 'a' }, { path: 'lib/b.js', data: 'b' }]);
    expect((await refusal(dirs, 'tar')).message).toMatch(/collides with "Lib" on a case-insensitive file system/);
  });

  it('repeated directory entries merge; names unsafe on any platform are refused', async () => {
    const ok = await writeRaw([{ path: 'd/', type: 'Directory' }, { path: 'd/', type: 'Directory', mode: 0o700 }, { path: 'd/f', data: '1' }]);
    expect((await extractArchive(ok, out(), { format: 'tar' })).map((e) => `${e.path} ${e.mode.toString(8)}`)).toEqual(['d 700', 'd/f 644']);
    for (const [name, why] of [['a/CON', /reserved Windows device name/], ['a/b:c', /character Windows forbids/], ['x\u202egnp.exe', /control or invisible/]] as const) {
      expect((await refusal(await writeRaw([{ path: name, data: 'x' }]), 'tar')).message).toMatch(why);
    }
  });

  it('a name valid alone but too long for PATH_MAX under the destination is refused (never a raw ENAMETOOLONG)', async () => {
    // 20 directories and a short file name: 4,078 bytes, a valid manifest path (at most 4,096).
    const name = `${Array.from({ length: 19 }, (_, i) => String(i % 10).repeat(200)).join('/')}/${'d'.repeat(250)}/file.txt`;
    expect(name.length).toBeLessThanOrEqual(4096);
    const file = path.join(tmp.dir, 'deep.zip');
    pythonZip(file, [{ name: 'ok.txt', data: 'ok' }, { name, data: 'deep' }]);
    const err = await refusal(file, 'zip');
    expect(err.code).toBe('ERR_UNSAFE_ARCHIVE');
    expect(err.message).toMatch(/the full path would be \d+ bytes; this system allows at most 4095 \(PATH_MAX\)/);
  });
});

describe('bounds', () => {
  it('more entries than maxEntries is refused (tar while reading, zip from the central directory)', async () => {
    const entries = Array.from({ length: 6 }, (_, i) => ({ path: `f${i}`, data: String(i) }));
    expect((await refusal(await writeRaw(entries), 'tar', { limits: { maxEntries: 5 } })).message).toMatch(/more than 5 entries/);
    const zip = path.join(tmp.dir, 'many.zip');
    pythonZip(zip, entries.map((e) => ({ name: e.path, data: e.data })));
    expect((await refusal(zip, 'zip', { limits: { maxEntries: 5 } })).message).toMatch(/6 entries, more than 5/);
    expect(await extractArchive(zip, out(), { format: 'zip', limits: { maxEntries: 6 } })).toHaveLength(6);
  });

  it('more bytes than maxTotalBytes is refused before the file is written (hard-link copies count)', async () => {
    const big = await writeRaw([{ path: 'a', data: Buffer.alloc(600) }, { path: 'b', data: Buffer.alloc(600) }]);
    expect((await refusal(big, 'tar', { limits: { maxTotalBytes: 1000 } })).message).toMatch(/"b": extracted files would exceed 1000 bytes/);
    const linked = await writeRaw([{ path: 'a', data: Buffer.alloc(600) }, { path: 'h', type: 'Link', linkpath: 'a' }]);
    expect((await refusal(linked, 'tar', { limits: { maxTotalBytes: 1000 } })).message).toMatch(/"h": extracted files would exceed/);
  });

  it('a gzip bomb (8 MiB of zeros) is refused by the ratio bound; a higher bound lets it through', async () => {
    const file = await writeRaw([{ path: 'zeros', data: Buffer.alloc(8 * 1024 * 1024) }], true);
    expect((await refusal(file, 'tar.gz')).message).toMatch(/decompresses to more than 200 times its size/);
    const entries = await extractArchive(file, out(), { format: 'tar.gz', limits: { maxRatio: 100_000 } });
    expect(entries[0]).toMatchObject({ path: 'zeros', size: 8 * 1024 * 1024 });
  });

  it('a zip bomb entry is refused from its declared sizes, before inflating', async () => {
    const file = path.join(tmp.dir, 'bomb.zip');
    pythonZip(file, [{ name: 'zeros', data: '\0'.repeat(4 * 1024 * 1024), deflate: true }]);
    expect((await refusal(file, 'zip')).message).toMatch(/"zeros": declares 4194304 bytes from \d+ compressed/);
  });
});

describe('corrupt streams and cancellation', () => {
  it('a truncated .tar.gz names gzip; a corrupt .tar.xz names xz; a non-tar is refused', async () => {
    const src = path.join(tmp.dir, 'src');
    await buildTree(src);
    const gz = path.join(tmp.dir, 't.tar.gz');
    execFileSync('tar', ['-czf', gz, '-C', src, 'app']);
    const bytes = await fsp.readFile(gz);
    await fsp.writeFile(gz, bytes.subarray(0, bytes.length - 40));
    expect((await refusal(gz, 'tar.gz')).message).toMatch(/gzip: unexpected end of file|malformed tar/);

    const xz = path.join(tmp.dir, 't.tar.xz');
    execFileSync('tar', ['-cJf', xz, '-C', src, 'app']);
    const xb = await fsp.readFile(xz);
    xb[Math.floor(xb.length / 2)]! ^= 0xff;
    await fsp.writeFile(xz, xb);
    expect((await refusal(xz, 'tar.xz')).message).toMatch(/xz: /);

    const junk = path.join(tmp.dir, 'junk.tar');
    await fsp.writeFile(junk, Buffer.alloc(4096, 'not a tar archive '));
    expect((await refusal(junk, 'tar')).message).toMatch(/malformed tar/);
  });

  it('without an xz program, .tar.xz fails with ERR_APPLY_FAILED naming xz (nothing left behind)', async () => {
    const src = path.join(tmp.dir, 'src');
    await buildTree(src);
    const xz = path.join(tmp.dir, 'ok.tar.xz');
    execFileSync('tar', ['-cJf', xz, '-C', src, 'app']);
    const saved = process.env.PATH;
    process.env.PATH = path.join(tmp.dir, 'no-bin');
    try {
      const err = await refusal(xz, 'tar.xz');
      expect(err.code).toBe('ERR_APPLY_FAILED');
      expect(err.message).toMatch(/xz program could not be started \(ENOENT\)/);
    } finally {
      process.env.PATH = saved;
    }
  });

  it('an aborted signal stops the extraction with ERR_CANCELLED and removes what was written', async () => {
    const file = await writeRaw(Array.from({ length: 50 }, (_, i) => ({ path: `f${i}`, data: Buffer.alloc(10_000, i) })));
    const ac = new AbortController();
    ac.abort();
    const err = await refusal(file, 'tar', { signal: ac.signal });
    expect(err.code).toBe('ERR_CANCELLED');
  });

  it('a destination that is not empty is a usage error and is left alone; a missing archive is ERR_NOT_FOUND', async () => {
    const dest = out('busy');
    await writeTree(dest, { keep: 'me' });
    const file = await writeRaw([{ path: 'a', data: 'a' }]);
    expect((await errorOf(extractArchive(file, dest, { format: 'tar' }))).code).toBe('ERR_USAGE');
    expect(await fsp.readFile(path.join(dest, 'keep'), 'utf8')).toBe('me');
    expect((await errorOf(extractArchive(path.join(tmp.dir, 'nope.tar'), out(), { format: 'tar' }))).code).toBe('ERR_NOT_FOUND');
  });
});
