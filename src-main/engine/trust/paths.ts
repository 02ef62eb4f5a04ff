/**
 * Path safety of manifest files (FEED-FORMAT.md): every path is relative, '/'-separated and
 * normalised, and the set of paths installed together is unique even on case-insensitive file
 * systems. One rule set for every platform: a manifest written on Linux must not become an
 * escape or a collision when the same files land on Windows or macOS.
 *
 * Written here rather than taken from a library: node's `path` normalises instead of refusing,
 * and the Windows-name rules below are small, well documented (Microsoft "Naming Files, Paths,
 * and Namespaces") and need to be refusals with a reason, not sanitisation.
 *
 * The containment tests of local paths (`isWithin`, `isStrictlyWithin`) live here too, so the
 * publisher, the apply engine and the transaction share one definition of "inside".
 */
import path from 'node:path';
import { VerificationError } from '../../../src-shared/errors';

/** Longest path accepted, in UTF-16 code units (well above any real install tree). */
export const MAX_PATH_LENGTH = 4096;
/** Longest single segment, in UTF-8 bytes (NAME_MAX on Linux and macOS). */
export const MAX_SEGMENT_BYTES = 255;

/** Device names Windows reserves in every directory, with or without an extension. */
const WINDOWS_RESERVED = new Set([
  'CON', 'PRN', 'AUX', 'NUL', 'CONIN$', 'CONOUT$',
  ...[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, '\u00b9', '\u00b2', '\u00b3'].flatMap((n) => [`COM${n}`, `LPT${n}`]),
]);

/** Characters Windows refuses in names (':' also covers drive letters and NTFS streams). */
const WINDOWS_FORBIDDEN_CHARS = /[<>:"|?*\\]/;
/**
 * Control characters (C0, DEL, C1), invisible format characters (zero-width joiners, bidi
 * overrides: '.g\u200cit' is '.git' to HFS+) and lone surrogates.
 */
const INVISIBLE_OR_CONTROL = /[\p{Cc}\p{Cf}\p{Cs}]/u;

/**
 * Paths already found safe. The check is a pure function of the string and runs for every
 * record each time a manifest, installed.json, a journal or a point is read (10,000-file trees
 * read several times per operation), so safe answers are remembered, up to SAFE_MEMO_MAX paths.
 */
const safeMemo = new Set<string>();
const SAFE_MEMO_MAX = 200_000;

/** Why `p` is not a safe manifest path, or null when it is. */
export function unsafePathReason(p: unknown): string | null {
  if (typeof p === 'string' && safeMemo.has(p)) return null;
  const reason = unsafeReason(p);
  if (reason === null && typeof p === 'string') {
    if (safeMemo.size >= SAFE_MEMO_MAX) safeMemo.clear();
    safeMemo.add(p);
  }
  return reason;
}

function unsafeReason(p: unknown): string | null {
  if (typeof p !== 'string') return 'not a string';
  if (p.length === 0) return 'empty path';
  if (p.length > MAX_PATH_LENGTH) return `longer than ${MAX_PATH_LENGTH} characters`;
  if (p.includes('\0')) return 'contains NUL';
  if (p.includes('\\')) return 'contains a backslash (paths are "/"-separated)';
  if (p.startsWith('/')) return 'absolute path';
  if (/^[A-Za-z]:/.test(p)) return 'starts with a drive letter';
  if (INVISIBLE_OR_CONTROL.test(p)) return 'contains a control or invisible character';
  for (const seg of p.split('/')) {
    if (seg === '') return 'empty segment (leading, trailing or doubled "/")';
    if (seg === '.' || seg === '..') return `"${seg}" segment`;
    if (WINDOWS_FORBIDDEN_CHARS.test(seg)) return `segment "${seg}" contains a character Windows forbids (< > : " | ? *)`;
    if (seg.endsWith('.') || seg.endsWith(' ')) return `segment "${seg}" ends with a dot or space`;
    if (seg.startsWith(' ')) return `segment "${seg}" starts with a space`;
    const stem = seg.split('.')[0]!.trimEnd().toUpperCase();
    if (WINDOWS_RESERVED.has(stem)) return `segment "${seg}" is a reserved Windows device name`;
    if (Buffer.byteLength(seg, 'utf8') > MAX_SEGMENT_BYTES) return `segment longer than ${MAX_SEGMENT_BYTES} bytes`;
  }
  return null;
}

/**
 * True when `p` is relative, '/'-separated and normalised: no '.', '..' or empty segments, no
 * leading '/', no drive letter, no backslash, NUL, control or invisible characters, no Windows
 * reserved names or characters Windows forbids (< > : " | ? *), no segment starting with ' ' or
 * ending in '.' or ' ', at most MAX_PATH_LENGTH characters and MAX_SEGMENT_BYTES per segment.
 */
export function isSafeRelativePath(p: string): boolean {
  return unsafePathReason(p) === null;
}

/** A character outside ASCII. */
const NON_ASCII_RE = /[\u0080-\uffff]/;

/**
 * The key two paths collide under on a case-insensitive, normalising file system: NFC, then case
 * folded by upper-casing before lower-casing. Lower-casing alone keeps apart names that exFAT's
 * and NTFS's upcase tables and APFS's case folding treat as one (final and medial sigma `ς`/`σ`,
 * long s `ſ`/`s`, micro sign `µ`/`μ`); folding through upper case joins them. It may also join a
 * few names some volume keeps apart (`ß`/`ss`, dotless `ı`/`i`): refusing those is the safe side.
 */
export function pathCollisionKey(p: string): string {
  // Pure ASCII (nearly every path): NFC changes nothing and upper-then-lower equals lower.
  if (!NON_ASCII_RE.test(p)) return p.toLowerCase();
  return p.normalize('NFC').toUpperCase().toLowerCase().normalize('NFC');
}

/** The ERR_UNSAFE_PATH error for `path`, naming it and the reason. */
export function unsafePathError(path: string, reason: string): VerificationError {
  return new VerificationError('ERR_UNSAFE_PATH', `Unsafe path in manifest: ${JSON.stringify(path.slice(0, 200))} (${reason})`, {
    path: path.slice(0, 200),
    reason,
  });
}

/** Throws VerificationError ERR_UNSAFE_PATH (naming `p` and why) unless isSafeRelativePath(p). */
export function assertSafeRelativePath(p: string): void {
  const reason = unsafePathReason(p);
  if (reason !== null) throw unsafePathError(String(p), reason);
}

/**
 * Checks the paths of one install tree: each is safe (isSafeRelativePath), no two are equal, no
 * two are equal under pathCollisionKey (NFC + case folding), and no path is both a file and a parent
 * directory of another file ('a' and 'a/b'), case-insensitively. Throws VerificationError
 * ERR_UNSAFE_PATH naming the first offending path.
 */
export function checkManifestPaths(paths: readonly string[]): void {
  const files = new Map<string, string>();
  for (const p of paths) {
    const reason = unsafePathReason(p);
    if (reason !== null) throw unsafePathError(String(p), reason);
    const key = pathCollisionKey(p);
    const seen = files.get(key);
    if (seen !== undefined) {
      throw unsafePathError(p, seen === p ? 'duplicate path' : `collides with "${seen}" on a case-insensitive file system`);
    }
    files.set(key, p);
  }
  const dirs = new Map<string, string>();
  for (const [key, p] of files) {
    let i = key.indexOf('/');
    while (i !== -1) {
      const dirKey = key.slice(0, i);
      if (!dirs.has(dirKey)) dirs.set(dirKey, p);
      i = key.indexOf('/', i + 1);
    }
  }
  for (const [key, p] of files) {
    const child = dirs.get(key);
    if (child !== undefined) throw unsafePathError(p, `is a file and also the parent directory of "${child}"`);
  }
}

/**
 * True when the local path `p` is `root` itself or lies below it, compared lexically after
 * resolving both (no filesystem access: symlinks are the caller's concern). `..foo` is inside.
 */
export function isWithin(root: string, p: string): boolean {
  if (plainPosix(root) && plainPosix(p)) return p === root || p.startsWith(root === '/' ? '/' : `${root}/`);
  const rel = path.relative(path.resolve(root), path.resolve(p));
  return rel === '' || (rel !== '..' && !rel.startsWith('..' + path.sep) && !path.isAbsolute(rel));
}

/** True when the local path `p` lies below `root` (not `root` itself); see isWithin. */
export function isStrictlyWithin(root: string, p: string): boolean {
  if (plainPosix(root) && plainPosix(p)) return p !== root && p.startsWith(root === '/' ? '/' : `${root}/`);
  return isWithin(root, p) && path.resolve(root) !== path.resolve(p);
}

/**
 * `.` or `..` segments, repeated or trailing separators. The `s` flag: a trailing `/` after a line
 * terminator (`/srv/a\n/`, legal in POSIX names) is trailing too.
 */
const NOT_NORMAL_RE = /\/\/|\/\.\.?(\/|$)|.\/$/s;

/**
 * True for an absolute POSIX path already in normal form (no `.`/`..` segments, no repeated or
 * trailing `/`): the same string `path.resolve` would return, so the containment checks above can
 * compare prefixes instead of resolving (an apply makes hundreds of thousands of them).
 */
export function plainPosix(p: string): boolean {
  return path.sep === '/' && p.charCodeAt(0) === 47 && !NOT_NORMAL_RE.test(p);
}
