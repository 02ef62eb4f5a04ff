/**
 * Fuzzing (fast-check) of the path rules and of manifest parsing: no input crashes them with
 * anything but a stable Upkeep error, every path they accept stays inside the install dir, and
 * every path built to be unsafe is refused. UPKEEP_FUZZ_RUNS sets the runs per property
 * (default 300; `npm run test:soak` uses many more).
 */
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isErrorCode } from '../../src-shared/errors';
import { MANIFEST_PAYLOAD_TYPE } from '../../src-shared/feed-schema';
import { checkManifestPaths, isWithin, unsafePathReason } from '../../src-main/engine/trust/paths';
import { verifyManifest } from '../../src-main/engine/trust/feed-checks';
import { NOW, entryFor, manifestPayload, newKey, signedBytes, trustIn } from '../engine/trust/feed-fixtures';

const RUNS = Math.max(1, Number(process.env.UPKEEP_FUZZ_RUNS ?? 300) || 300);
const ROOT = path.resolve('/srv/install');

/** Characters that matter to path rules, plus ordinary and exotic ones. */
const pathChar = fc.oneof(
  fc.constantFrom('/', '.', '..', '\\', ':', '\0', ' ', '~', 'a', 'B', 'z', '0', '-', '_', 'é', 'e\u0301', '\u200c', '\u202e', 'CON', 'nul', '*', '?', '"', '<', '|', '\n', '\u00ff'),
  fc.string({ minLength: 1, maxLength: 3 }),
);
const anyPath = fc.array(pathChar, { maxLength: 12 }).map((parts) => parts.join(''));
const safeSegment = fc.stringMatching(/^[a-z0-9][a-z0-9_-]{0,11}(\.[a-z]{1,4})?$/);
const safePath = fc.array(safeSegment, { minLength: 1, maxLength: 6 }).map((s) => s.join('/'));

/** Ways to make a safe path unsafe, each one the rules must refuse. */
const unsafePath = fc.tuple(safePath, fc.nat(), fc.constantFrom('dotdot', 'absolute', 'drive', 'backslash', 'nul', 'empty-seg', 'dot', 'trailing-dot', 'reserved', 'control')).map(([p, n, how]) => {
  const segs = p.split('/');
  const at = n % (segs.length + 1);
  switch (how) {
    case 'dotdot': segs.splice(at, 0, '..'); return segs.join('/');
    case 'absolute': return '/' + p;
    case 'drive': return 'C:' + p;
    case 'backslash': return segs.join('\\') + '\\x';
    case 'nul': return p + '\0';
    case 'empty-seg': segs.splice(at, 0, ''); return segs.join('/');
    case 'dot': segs.splice(at, 0, '.'); return segs.join('/');
    case 'trailing-dot': return p + '.';
    case 'reserved': segs.splice(at, 0, 'aux.txt'); return segs.join('/');
    default: return p + '\u0007';
  }
});

describe('path rules (fuzzed)', () => {
  it('never throw, and every accepted path is normalised and resolves inside the install dir', () => {
    fc.assert(
      fc.property(anyPath, (p) => {
        const reason = unsafePathReason(p);
        if (reason !== null) return;
        expect(path.posix.normalize(p)).toBe(p);
        expect(p.startsWith('/') || p.includes('\\') || p.includes('\0')).toBe(false);
        expect(p.split('/')).not.toContain('..');
        expect(isWithin(ROOT, path.resolve(ROOT, p))).toBe(true);
        expect(path.resolve(ROOT, p)).not.toBe(ROOT);
      }),
      { numRuns: RUNS * 10 },
    );
  });

  it('refuse every path made unsafe, alone and inside a list', () => {
    fc.assert(
      fc.property(unsafePath, fc.array(safePath, { maxLength: 5 }), (bad, others) => {
        expect(unsafePathReason(bad), JSON.stringify(bad)).not.toBeNull();
        expect(() => checkManifestPaths([...others, bad])).toThrow(expect.objectContaining({ code: 'ERR_UNSAFE_PATH' }));
      }),
      { numRuns: RUNS * 10 },
    );
  });

  it('refuse duplicates and case/normalisation collisions in a list', () => {
    fc.assert(
      fc.property(safePath, (p) => {
        expect(() => checkManifestPaths([p, p])).toThrow(expect.objectContaining({ code: 'ERR_UNSAFE_PATH' }));
        if (p !== p.toUpperCase()) expect(() => checkManifestPaths([p, p.toUpperCase()])).toThrow(expect.objectContaining({ code: 'ERR_UNSAFE_PATH' }));
      }),
      { numRuns: RUNS },
    );
  });
});

describe('manifest parsing (fuzzed)', () => {
  const key = newKey();
  const trust = trustIn([key]);

  /** Runs verifyManifest; returns the manifest or the stable code it threw (anything else fails the test). */
  function verify(bytes: Buffer): { ok: true; files: string[] } | { ok: false; code: string } {
    try {
      const m = verifyManifest(bytes, { entry: entryFor(bytes), trust, product: 'demo', now: NOW });
      return { ok: true, files: m.files.map((f) => f.path) };
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (!isErrorCode(code)) throw err;
      return { ok: false, code };
    }
  }

  it('random bytes are refused with a stable code, never a crash', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (raw) => {
        expect(verify(Buffer.from(raw)).ok).toBe(false);
      }),
      { numRuns: RUNS },
    );
  });

  it('signed manifests with fuzzed fields: accepted only with safe paths, otherwise a stable code', () => {
    const field = fc.oneof(fc.string({ maxLength: 20 }), fc.integer(), fc.constant(null), fc.boolean(), fc.array(fc.string({ maxLength: 5 }), { maxLength: 3 }));
    fc.assert(
      fc.property(
        fc.array(fc.oneof(anyPath, safePath, unsafePath), { minLength: 1, maxLength: 4 }),
        fc.dictionary(fc.constantFrom('version', 'product', 'channel', 'min_upgrade_from', 'expires', 'is_critical', 'schema', 'files', 'released_at'), field, { maxKeys: 2 }),
        (paths, overrides) => {
          const files = paths.map((p, i) => ({ path: p, type: 'data', sha256: String(i % 10).repeat(64), size: i, url: `../blobs/sha256/${String(i % 10).repeat(64)}` }));
          const bytes = signedBytes(MANIFEST_PAYLOAD_TYPE, manifestPayload({ files, ...overrides }), [key]);
          const r = verify(bytes);
          if (r.ok) {
            expect(() => checkManifestPaths(r.files)).not.toThrow();
            for (const f of r.files) expect(isWithin(ROOT, path.resolve(ROOT, f))).toBe(true);
          } else if (Object.keys(overrides).length === 0 && paths.some((p) => unsafePathReason(p) !== null)) {
            expect(r.code).toBe('ERR_UNSAFE_PATH');
          }
        },
      ),
      { numRuns: RUNS },
    );
  });
});
