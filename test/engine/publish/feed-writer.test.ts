import { describe, it, expect } from 'vitest';
import { checkManifestPaths, unsafePathReason } from '../../../src-main/engine/trust/paths';
import {
  assertChannel,
  assertRange,
  assertVersion,
  expiryFrom,
  isoSeconds,
  sortReleases,
} from '../../../src-main/engine/publish/feed-writer';

describe('feed-writer rules', () => {
  it('accepts only strict SemVer versions', () => {
    for (const v of ['1.0.0', '0.0.1-alpha.1', '10.20.30-rc.1.x-y']) expect(assertVersion(v)).toBe(v);
    expect(() => assertVersion('1.2.3+build.5')).toThrow(/build metadata/);
    for (const v of ['v1.0.0', '=1.0.0', '1.0', '1', '01.0.0', ' 1.0.0', '1.0.0 ', 'latest', '']) {
      expect(() => assertVersion(v), v).toThrow(expect.objectContaining({ code: 'ERR_USAGE' }));
    }
  });

  it('accepts SemVer ranges and file-safe channel names', () => {
    expect(assertRange('>=1.0.0 <2')).toBe('>=1.0.0 <2');
    expect(() => assertRange('>=banana')).toThrow(expect.objectContaining({ code: 'ERR_USAGE' }));
    expect(assertChannel('beta-2.x')).toBe('beta-2.x');
    for (const c of ['', '.', '..', 'a/b', 'a\\b', '-x', 'x.', 'é', 'a'.repeat(65)]) {
      expect(() => assertChannel(c), c).toThrow(expect.objectContaining({ code: 'ERR_USAGE' }));
    }
  });

  it('refuses every path a client would refuse', () => {
    expect(unsafePathReason('bin/demo')).toBeNull();
    expect(unsafePathReason('a b/c.d')).toBeNull();
    const bad = ['', '/etc/passwd', 'C:/x', 'c:x', 'a/../b', '..', './a', 'a//b', 'a/', 'a\\b', 'a\u0000b', 'a\nb'];
    for (const p of bad) expect(unsafePathReason(p), JSON.stringify(p)).toBeTypeOf('string');
    expect(() => checkManifestPaths(['a/B.txt', 'a/b.txt'])).toThrow(expect.objectContaining({ code: 'ERR_UNSAFE_PATH' }));
    expect(() => checkManifestPaths(['x', 'x'])).toThrow(expect.objectContaining({ code: 'ERR_UNSAFE_PATH' }));
    // NFC and NFD spellings of "é" are the same name on macOS.
    expect(() => checkManifestPaths(['caf\u00e9', 'cafe\u0301'])).toThrow(expect.objectContaining({ code: 'ERR_UNSAFE_PATH' }));
    expect(() => checkManifestPaths(['a', 'b/a', 'B/c'])).not.toThrow();
  });

  it('sorts releases newest first by SemVer precedence', () => {
    const e = (version: string) => ({ version, manifest: `manifests/${version}.json`, sha256: '0'.repeat(64), size: 1, is_critical: false });
    expect(sortReleases(['1.0.0', '1.0.0-rc.1', '1.0.0-rc.10', '1.0.0-rc.2', '0.9.9', 'junk'].map(e)).map((r) => r.version)).toEqual([
      '1.0.0',
      '1.0.0-rc.10',
      '1.0.0-rc.2',
      '1.0.0-rc.1',
      '0.9.9',
      'junk',
    ]);
  });

  it('writes dates as second-precision UTC and bounds the expiry', () => {
    const now = new Date('2026-03-01T12:34:56.789Z');
    expect(isoSeconds(now)).toBe('2026-03-01T12:34:56Z');
    expect(expiryFrom(now, undefined)).toBe('2026-03-31T12:34:56Z');
    expect(expiryFrom(now, 0.5)).toBe('2026-03-02T00:34:56Z');
    for (const d of [0, -1, Number.POSITIVE_INFINITY, 5000]) expect(() => expiryFrom(now, d)).toThrow(expect.objectContaining({ code: 'ERR_USAGE' }));
  });
});
