import path from 'node:path';
import fc from 'fast-check';
import { describe, it, expect } from 'vitest';
import { VerificationError } from '../../../src-shared/errors';
import { under } from '../../../src-main/engine/apply/tree';
import { assertSafeRelativePath, checkManifestPaths, isSafeRelativePath, isStrictlyWithin, isWithin, pathCollisionKey, plainPosix } from '../../../src-main/engine/trust/paths';
import { codeOf } from './feed-fixtures';

/** The error checkManifestPaths throws, or undefined. */
function failure(paths: string[]): VerificationError | undefined {
  try {
    checkManifestPaths(paths);
  } catch (err) {
    return err as VerificationError;
  }
  return undefined;
}

describe('isSafeRelativePath', () => {
  it('accepts ordinary relative paths', () => {
    for (const p of ['bin/demo', 'a', 'lib/libfoo.so.1', 'share/doc/README.md', '.config/x', 'a/.hidden', 'a/b..c', 'données/été.txt', '日本/ファイル', 'x-y_z+1~2', 'CONFIG/console.log', 'com10', 'lpt10.txt', 'nulls/a']) {
      expect(isSafeRelativePath(p), p).toBe(true);
    }
  });

  it('refuses traversal, absolute, drive-letter, backslash, NUL and control-character paths', () => {
    const bad = [
      '../x',
      'a/../../x',
      '..',
      '.',
      './a',
      'a/./b',
      'a/..',
      '/etc/passwd',
      '/',
      'C:/x',
      'c:x',
      'C:',
      'a\\b',
      '..\\x',
      'a/b\u0000c',
      'a/b\nc',
      'a\u001b[31m',
      'a\u007f',
      'a\u0085b',
      '',
      'a//b',
      'a/',
      '//server/share',
    ];
    for (const p of bad) expect(isSafeRelativePath(p), JSON.stringify(p)).toBe(false);
  });

  it('refuses Windows reserved device names, forbidden characters and trailing dots/spaces', () => {
    const bad = ['CON', 'con', 'app/Nul', 'NUL.txt', 'aux.tar.gz', 'COM1', 'COM0', 'lpt0.txt', 'lpt9.log', 'COM\u00b9', 'CONIN$', 'con .txt', 'a/b.', 'a/b ', 'a./b', ' a', 'a:b', 'file.txt:stream', 'a<b', 'a>b', 'a"b', 'a|b', 'a?b', 'a*b'];
    for (const p of bad) expect(isSafeRelativePath(p), JSON.stringify(p)).toBe(false);
  });

  it('refuses invisible characters that file systems drop (.g\\u200cit) and bidi overrides', () => {
    expect(isSafeRelativePath('.g\u200cit/config')).toBe(false);
    expect(isSafeRelativePath('evil\u202etxt.exe')).toBe(false);
    expect(isSafeRelativePath('a\ufeffb')).toBe(false);
    expect(isSafeRelativePath('half\ud800')).toBe(false);
  });

  it('bounds path and segment length', () => {
    expect(isSafeRelativePath('a'.repeat(255))).toBe(true);
    expect(isSafeRelativePath('a'.repeat(256))).toBe(false);
    expect(isSafeRelativePath('é'.repeat(128))).toBe(false); // 256 UTF-8 bytes
    expect(isSafeRelativePath(Array.from({ length: 1300 }, () => 'ab').join('/'))).toBe(true);
    expect(isSafeRelativePath(Array.from({ length: 1400 }, () => 'ab').join('/'))).toBe(false);
  });

  it('assertSafeRelativePath throws ERR_UNSAFE_PATH naming the path', () => {
    expect(codeOf(() => assertSafeRelativePath('../etc/shadow'))).toBe('ERR_UNSAFE_PATH');
    expect(() => assertSafeRelativePath('../etc/shadow')).toThrow(/\.\.\/etc\/shadow/);
    expect(codeOf(() => assertSafeRelativePath('ok/path'))).toBe('no error');
  });
});

describe('checkManifestPaths', () => {
  it('accepts a normal tree', () => {
    expect(failure(['bin/demo', 'lib/a.so', 'lib/b.so', 'share/doc/README'])).toBeUndefined();
    expect(failure([])).toBeUndefined();
  });

  it.each([
    ['traversal', ['ok', '../x'], '../x'],
    ['nested traversal', ['a/../../x'], 'a/../../x'],
    ['absolute', ['/etc/passwd'], '/etc/passwd'],
    ['drive letter', ['C:/x'], 'C:/x'],
    ['drive-relative', ['c:x'], 'c:x'],
    ['backslash', ['a\\b'], 'a\\\\b'],
    ['duplicate', ['bin/x', 'lib/y', 'bin/x'], 'bin/x'],
    ['case collision', ['Bin/a', 'bin/A'], 'bin/A'],
    ['unicode normalisation collision', ['caf\u00e9', 'cafe\u0301'], 'cafe'],
    ['file and parent directory', ['a', 'a/b'], '"a"'],
    ['parent directory listed after', ['a/b/c', 'a/b'], 'a/b'],
    ['file/dir case collision', ['Lib', 'lib/x.so'], 'Lib'],
    // Pairs toLowerCase keeps apart but case-insensitive volumes fold together (exFAT's and
    // NTFS's upcase tables, APFS's case folding): final and medial sigma, long s, micro sign.
    ['final sigma collision', ['x\u03c3', 'x\u03c2'], 'x\u03c2'],
    ['long s collision', ['bin/s', 'bin/\u017f'], 'bin/\u017f'],
    ['micro sign collision', ['\u00b5s', '\u03bcs'], '\u03bcs'],
    ['Kelvin sign collision', ['k.txt', '\u212a.txt'], '\u212a.txt'],
    ['reserved name', ['bin/aux.exe'], 'bin/aux.exe'],
  ])('refuses %s with ERR_UNSAFE_PATH naming the path', (_name, paths, named) => {
    const err = failure(paths);
    expect(err).toBeInstanceOf(VerificationError);
    expect(err?.code).toBe('ERR_UNSAFE_PATH');
    expect(err?.message).toContain(named);
  });

  it('does not confuse a prefix with a parent directory', () => {
    expect(failure(['a', 'ab/c', 'a.d/e'])).toBeUndefined();
  });

  it('collision key is NFC + case folded (upper, then lower case)', () => {
    expect(pathCollisionKey('Cafe\u0301/X')).toBe('caf\u00e9/x');
    expect(pathCollisionKey('\u03a3\u03c2\u017f\u00b5')).toBe(pathCollisionKey('\u03c3\u03c3s\u03bc'));
  });

  it('collision key of an ASCII path (its fast path) is what NFC + upper + lower gives', () => {
    const full = (p: string): string => p.normalize('NFC').toUpperCase().toLowerCase().normalize('NFC');
    fc.assert(fc.property(fc.string({ unit: 'binary-ascii', maxLength: 40 }), (p) => pathCollisionKey(p) === full(p)), { numRuns: 2000 });
    fc.assert(fc.property(fc.string({ unit: 'grapheme', maxLength: 12 }), (p) => pathCollisionKey(p) === full(p)), { numRuns: 2000 });
  });
});

// The string fast paths (plainPosix) must answer exactly what resolving and path.relative answer.
const slowWithin = (root: string, p: string): boolean => {
  const rel = path.relative(path.resolve(root), path.resolve(p));
  return rel === '' || (rel !== '..' && !rel.startsWith('..' + path.sep) && !path.isAbsolute(rel));
};
const slowStrictlyWithin = (root: string, p: string): boolean => slowWithin(root, p) && path.resolve(root) !== path.resolve(p);
/** Segments mixing the awkward cases: empty, dot segments, look-alikes, backslashes, line terminators, unicode. */
const segment = fc.oneof(
  fc.constantFrom('', '.', '..', '...', '..a', 'a.', 'a', 'b', 'A', ' ', '\\', 'a\\..', 'C:', 'caf\u00e9', 'cafe\u0301', '\n', 'a\n', '\r', '\u2028', '\u2029', '\u0085'),
  fc.string({ maxLength: 3 }),
  fc.string({ unit: 'grapheme', maxLength: 3 }),
);
const absolute = fc.array(segment, { maxLength: 5 }).map((s) => `/${s.join('/')}`);

describe('containment fast paths against path.resolve / path.relative', () => {
  it('isWithin, isStrictlyWithin and under agree with the slow path for any absolute paths', () => {
    fc.assert(
      fc.property(absolute, absolute, fc.array(segment, { maxLength: 4 }), (root, other, relSegs) => {
        const rel = relSegs.join('/');
        for (const p of [other, `${root}/${rel}`, `${root}${rel}`]) {
          expect([root, p, isWithin(root, p)]).toEqual([root, p, slowWithin(root, p)]);
          expect([root, p, isStrictlyWithin(root, p)]).toEqual([root, p, slowStrictlyWithin(root, p)]);
        }
        expect([root, rel, under(root, rel)]).toEqual([root, rel, path.join(root, ...rel.split('/'))]);
        if (plainPosix(root)) expect(path.resolve(root)).toBe(root);
      }),
      { numRuns: 5000 },
    );
  });

  it('a trailing "/" after a line terminator is not normal form', () => {
    for (const root of ['/srv/a\n/', '/srv/a\r/', '/srv/a\u2028/', '/\n/']) {
      expect(plainPosix(root)).toBe(false);
      expect(isWithin(root, `${root}x`)).toBe(true);
      expect(isStrictlyWithin(root.slice(0, -1), root)).toBe(false);
      expect(under(root, 'x')).toBe(`${root}x`);
    }
  });
});
