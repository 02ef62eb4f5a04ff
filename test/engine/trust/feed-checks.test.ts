import { describe, it, expect } from 'vitest';
import { VerificationError, UsageError } from '../../../src-shared/errors';
import { INDEX_PAYLOAD_TYPE, MANIFEST_PAYLOAD_TYPE } from '../../../src-shared/feed-schema';
import { parseTrust, verifyIndex, verifyManifest, type IndexCheckOptions } from '../../../src-main/engine/trust/feed-checks';
import { sha256Hex } from '../../../src-main/engine/trust/digest';
import { checkUpgradePolicy } from '../../../src-main/engine/trust/select';
import { generateKeyPair } from '../../../src-main/engine/trust/keys';
import {
  NOW,
  codeOf,
  entryFor,
  indexPayload,
  manifestPayload,
  newKey,
  signedBytes,
  signedIndex,
  signedManifest,
  trustIn,
} from './feed-fixtures';

const k1 = newKey();
const k2 = newKey();
const k3 = newKey();
const stranger = newKey();

function indexOpts(overrides: Partial<IndexCheckOptions> = {}): IndexCheckOptions {
  return { trust: trustIn([k1]), product: 'demo', channel: 'stable', rememberedSequence: null, now: NOW, ...overrides };
}

/** Re-serialises an envelope after `edit` (signatures untouched unless edit changes them). */
function editEnvelope(bytes: Buffer, edit: (env: { payloadType: string; payload: string; signatures: { keyid: string; sig: string }[] }) => void): Buffer {
  const env = JSON.parse(bytes.toString('utf8'));
  edit(env);
  return Buffer.from(JSON.stringify(env), 'utf8');
}

describe('sha256Hex', () => {
  it('is the lowercase hex SHA-256 (FIPS 180-2 "abc" vector)', () => {
    expect(sha256Hex(Buffer.from('abc'))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });
});

describe('parseTrust', () => {
  it('parses keys and a threshold', () => {
    const a = generateKeyPair();
    const b = generateKeyPair();
    const t = parseTrust({ keys: [a.publicLine, b.publicLine], threshold: 2 });
    expect(t.threshold).toBe(2);
    expect(t.keys.map((k) => k.keyid)).toEqual([a.keyid, b.keyid]);
  });

  it('refuses malformed keys, repeated keys, no keys and impossible thresholds with ERR_KEY_INVALID', () => {
    const a = generateKeyPair().publicLine;
    expect(codeOf(() => parseTrust({ keys: ['ed25519:notbase64!!'], threshold: 1 }))).toBe('ERR_KEY_INVALID');
    expect(codeOf(() => parseTrust({ keys: ['ed25519:' + Buffer.alloc(31).toString('base64')], threshold: 1 }))).toBe('ERR_KEY_INVALID');
    expect(codeOf(() => parseTrust({ keys: [a, a], threshold: 2 }))).toBe('ERR_KEY_INVALID');
    expect(codeOf(() => parseTrust({ keys: [], threshold: 1 }))).toBe('ERR_KEY_INVALID');
    expect(codeOf(() => parseTrust({ keys: [a], threshold: 0 }))).toBe('ERR_KEY_INVALID');
    expect(codeOf(() => parseTrust({ keys: [a], threshold: 2 }))).toBe('ERR_KEY_INVALID');
    expect(codeOf(() => parseTrust({ keys: [a], threshold: 1.5 }))).toBe('ERR_KEY_INVALID');
    expect(() => parseTrust({ keys: [a], threshold: 0 })).toThrow(UsageError);
  });
});

describe('verifyIndex', () => {
  it('accepts a well-signed, current index and returns its payload with defaults applied', () => {
    const idx = verifyIndex(signedIndex(indexPayload(), [k1]), indexOpts({ rememberedSequence: 12 }));
    expect(idx.sequence).toBe(12);
    expect(idx.releases.map((r) => r.version)).toEqual(['1.0.0', '1.1.0']);
    expect(idx.releases[0]!.is_critical).toBe(false);
    expect(idx.releases[1]!.rollout?.percent).toBe(25);
  });

  it('refuses an unsigned index (empty signatures): ERR_SIGNATURE_INVALID', () => {
    const bytes = editEnvelope(signedIndex(indexPayload(), [k1]), (e) => {
      e.signatures = [];
    });
    expect(codeOf(() => verifyIndex(bytes, indexOpts()))).toBe('ERR_SIGNATURE_INVALID');
  });

  it('refuses an index signed by an untrusted key: ERR_SIGNATURE_INVALID', () => {
    expect(codeOf(() => verifyIndex(signedIndex(indexPayload(), [stranger]), indexOpts()))).toBe('ERR_SIGNATURE_INVALID');
  });

  it('refuses a stranger signature relabelled with a trusted keyid: ERR_SIGNATURE_INVALID', () => {
    const bytes = editEnvelope(signedIndex(indexPayload(), [stranger]), (e) => {
      e.signatures[0]!.keyid = k1.publicKey.keyid;
    });
    expect(codeOf(() => verifyIndex(bytes, indexOpts()))).toBe('ERR_SIGNATURE_INVALID');
  });

  it('refuses a payload changed after signing: ERR_SIGNATURE_INVALID', () => {
    const good = signedIndex(indexPayload({ sequence: 12 }), [k1]);
    const bytes = editEnvelope(good, (e) => {
      e.payload = Buffer.from(JSON.stringify(indexPayload({ sequence: 99 }))).toString('base64');
    });
    expect(codeOf(() => verifyIndex(bytes, indexOpts()))).toBe('ERR_SIGNATURE_INVALID');
  });

  it('refuses fewer valid signatures than the threshold: ERR_SIGNATURE_THRESHOLD', () => {
    const trust = trustIn([k1, k2, k3], 2);
    expect(codeOf(() => verifyIndex(signedIndex(indexPayload(), [k1]), indexOpts({ trust })))).toBe('ERR_SIGNATURE_THRESHOLD');
    expect(verifyIndex(signedIndex(indexPayload(), [k1, k3]), indexOpts({ trust })).sequence).toBe(12);
  });

  it('counts duplicate signatures of one key once (still below threshold): ERR_SIGNATURE_THRESHOLD', () => {
    const trust = trustIn([k1, k2], 2);
    const bytes = signedIndex(indexPayload(), [k1, k1, k1]);
    expect(JSON.parse(bytes.toString()).signatures).toHaveLength(3);
    expect(codeOf(() => verifyIndex(bytes, indexOpts({ trust })))).toBe('ERR_SIGNATURE_THRESHOLD');
  });

  it('ignores untrusted signers when counting: 1 trusted + 2 strangers of 2 required is refused', () => {
    const trust = trustIn([k1, k2], 2);
    expect(codeOf(() => verifyIndex(signedIndex(indexPayload(), [k1, stranger, newKey()]), indexOpts({ trust })))).toBe('ERR_SIGNATURE_THRESHOLD');
  });

  it('refuses a manifest envelope offered as an index: ERR_PAYLOAD_TYPE', () => {
    const bytes = signedBytes(MANIFEST_PAYLOAD_TYPE, indexPayload(), [k1]);
    expect(codeOf(() => verifyIndex(bytes, indexOpts()))).toBe('ERR_PAYLOAD_TYPE');
  });

  it('binds the signature to the payload type: relabelling a manifest envelope as an index breaks it', () => {
    const bytes = editEnvelope(signedBytes(MANIFEST_PAYLOAD_TYPE, indexPayload(), [k1]), (e) => {
      e.payloadType = INDEX_PAYLOAD_TYPE;
    });
    expect(codeOf(() => verifyIndex(bytes, indexOpts()))).toBe('ERR_SIGNATURE_INVALID');
  });

  it('checks the type before the signature (an unsigned wrong-type envelope is a type error)', () => {
    const bytes = editEnvelope(signedBytes(MANIFEST_PAYLOAD_TYPE, indexPayload(), [stranger]), (e) => {
      e.signatures = [];
    });
    expect(codeOf(() => verifyIndex(bytes, indexOpts()))).toBe('ERR_PAYLOAD_TYPE');
  });

  it('refuses invalid JSON: ERR_METADATA_INVALID (envelope and payload)', () => {
    expect(codeOf(() => verifyIndex(Buffer.from('{"payloadType": '), indexOpts()))).toBe('ERR_METADATA_INVALID');
    expect(codeOf(() => verifyIndex(Buffer.from('[]'), indexOpts()))).toBe('ERR_METADATA_INVALID');
    expect(codeOf(() => verifyIndex(signedIndex('{"schema": "upkeep.index/1",', [k1]), indexOpts()))).toBe('ERR_METADATA_INVALID');
  });

  it('refuses schema violations: ERR_METADATA_INVALID', () => {
    const bad: Record<string, unknown>[] = [
      indexPayload({ schema: 'upkeep.index/2' }),
      indexPayload({ sequence: -1 }),
      indexPayload({ sequence: 1.5 }),
      indexPayload({ expires: 'never' }),
      indexPayload({ releases: 'all of them' }),
      indexPayload({ releases: [{ version: '1.0.0', manifest: 'm.json', sha256: 'A'.repeat(64), size: 1 }] }),
      indexPayload({ releases: [{ version: '1.0.0', manifest: 'm.json', sha256: 'a'.repeat(64), size: -1 }] }),
      indexPayload({ releases: [{ version: '1.0.0', manifest: 'm.json', sha256: 'a'.repeat(64), size: 1, rollout: { percent: 101 } }] }),
      (() => {
        const p = indexPayload();
        delete p.product;
        return p;
      })(),
    ];
    for (const p of bad) expect(codeOf(() => verifyIndex(signedIndex(p, [k1]), indexOpts())), JSON.stringify(p).slice(0, 120)).toBe('ERR_METADATA_INVALID');
  });

  it('refuses entries whose version is not strict SemVer, and duplicate versions: ERR_METADATA_INVALID', () => {
    const entry = (version: string) => ({ version, manifest: `manifests/${version}.json`, sha256: 'a'.repeat(64), size: 1 });
    for (const v of ['v1.0.0', '1.0', '01.0.0', '1.0.0 ', 'latest']) {
      expect(codeOf(() => verifyIndex(signedIndex(indexPayload({ releases: [entry(v)] }), [k1]), indexOpts())), v).toBe('ERR_METADATA_INVALID');
    }
    expect(codeOf(() => verifyIndex(signedIndex(indexPayload({ releases: [entry('1.0.0'), entry('1.0.0')] }), [k1]), indexOpts()))).toBe('ERR_METADATA_INVALID');
    // equal precedence: build metadata does not make two releases different
    expect(codeOf(() => verifyIndex(signedIndex(indexPayload({ releases: [entry('1.0.0+a'), entry('1.0.0+b')] }), [k1]), indexOpts()))).toBe('ERR_METADATA_INVALID');
  });

  it('refuses another product or channel: ERR_PRODUCT_MISMATCH', () => {
    expect(codeOf(() => verifyIndex(signedIndex(indexPayload({ product: 'other' }), [k1]), indexOpts()))).toBe('ERR_PRODUCT_MISMATCH');
    expect(codeOf(() => verifyIndex(signedIndex(indexPayload({ channel: 'beta' }), [k1]), indexOpts()))).toBe('ERR_PRODUCT_MISMATCH');
  });

  it('refuses a lower sequence than remembered (replay): ERR_ROLLBACK_ATTACK; equal and higher are fine', () => {
    const bytes = signedIndex(indexPayload({ sequence: 11 }), [k1]);
    expect(codeOf(() => verifyIndex(bytes, indexOpts({ rememberedSequence: 12 })))).toBe('ERR_ROLLBACK_ATTACK');
    expect(verifyIndex(bytes, indexOpts({ rememberedSequence: 11 })).sequence).toBe(11);
    expect(verifyIndex(bytes, indexOpts({ rememberedSequence: 3 })).sequence).toBe(11);
    expect(verifyIndex(bytes, indexOpts({ rememberedSequence: null })).sequence).toBe(11);
  });

  it('refuses an expired index: ERR_METADATA_EXPIRED (at and after the instant)', () => {
    const bytes = signedIndex(indexPayload({ expires: '2026-06-01T00:00:00Z' }), [k1]);
    expect(codeOf(() => verifyIndex(bytes, indexOpts({ now: new Date('2026-06-01T00:00:00Z') })))).toBe('ERR_METADATA_EXPIRED');
    expect(codeOf(() => verifyIndex(bytes, indexOpts({ now: new Date('2027-01-01T00:00:00Z') })))).toBe('ERR_METADATA_EXPIRED');
    expect(verifyIndex(bytes, indexOpts({ now: new Date('2026-05-31T23:59:59Z') })).sequence).toBe(12);
  });

  it('runs the checks in the documented order', () => {
    // a replayed AND expired index reports the replay (sequence comes before expiry)
    const old = signedIndex(indexPayload({ sequence: 1, expires: '2020-01-01T00:00:00Z' }), [k1]);
    expect(codeOf(() => verifyIndex(old, indexOpts({ rememberedSequence: 5 })))).toBe('ERR_ROLLBACK_ATTACK');
    // wrong product AND expired reports the product
    const other = signedIndex(indexPayload({ product: 'x', expires: '2020-01-01T00:00:00Z' }), [k1]);
    expect(codeOf(() => verifyIndex(other, indexOpts()))).toBe('ERR_PRODUCT_MISMATCH');
    // a schema violation signed by a stranger reports the signature (threshold before schema)
    expect(codeOf(() => verifyIndex(signedIndex({ nonsense: true }, [stranger]), indexOpts()))).toBe('ERR_SIGNATURE_INVALID');
  });

  it('refuses an index larger than the configured bound: ERR_SIZE_MISMATCH', () => {
    const bytes = signedIndex(indexPayload(), [k1]);
    expect(codeOf(() => verifyIndex(bytes, indexOpts({ limits: { maxIndexBytes: bytes.length - 1 } })))).toBe('ERR_SIZE_MISMATCH');
    expect(verifyIndex(bytes, indexOpts({ limits: { maxIndexBytes: bytes.length } })).sequence).toBe(12);
  });

  it('throws VerificationError instances (kind security)', () => {
    try {
      verifyIndex(signedIndex(indexPayload(), [stranger]), indexOpts());
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(VerificationError);
      expect((err as VerificationError).kind).toBe('security');
    }
  });
});

describe('verifyManifest', () => {
  const trust = trustIn([k1]);
  const check = (bytes: Buffer, entry = entryFor(bytes), product = 'demo') => verifyManifest(bytes, { entry, trust, product, now: NOW });

  it('accepts a manifest reached from its index entry and applies defaults', () => {
    const m = check(signedManifest(manifestPayload(), [k1]));
    expect(m.version).toBe('1.1.0');
    expect(m.files[1]).toMatchObject({ path: 'share/readme.txt', platform: 'any', arch: 'any' });
  });

  it('refuses a manifest whose bytes do not hash to the index entry (mix-and-match): ERR_HASH_MISMATCH', () => {
    const bytes = signedManifest(manifestPayload(), [k1]);
    const other = signedManifest(manifestPayload({ release_notes: 'different' }), [k1]);
    expect(codeOf(() => check(bytes, { ...entryFor(other), size: bytes.length + 100 }))).toBe('ERR_HASH_MISMATCH');
    expect(codeOf(() => check(bytes, { ...entryFor(bytes), sha256: '0'.repeat(64) }))).toBe('ERR_HASH_MISMATCH');
  });

  it('refuses a manifest larger than the entry size before hashing: ERR_SIZE_MISMATCH', () => {
    const bytes = signedManifest(manifestPayload(), [k1]);
    expect(codeOf(() => check(bytes, { ...entryFor(bytes), size: bytes.length - 1 }))).toBe('ERR_SIZE_MISMATCH');
  });

  it('refuses an index envelope offered as a manifest: ERR_PAYLOAD_TYPE', () => {
    const bytes = signedBytes(INDEX_PAYLOAD_TYPE, manifestPayload(), [k1]);
    expect(codeOf(() => check(bytes))).toBe('ERR_PAYLOAD_TYPE');
  });

  it('refuses unsigned, wrongly signed and below-threshold manifests', () => {
    const unsigned = editEnvelope(signedManifest(manifestPayload(), [k1]), (e) => {
      e.signatures = [];
    });
    expect(codeOf(() => check(unsigned))).toBe('ERR_SIGNATURE_INVALID');
    expect(codeOf(() => check(signedManifest(manifestPayload(), [stranger])))).toBe('ERR_SIGNATURE_INVALID');
    const t2 = trustIn([k1, k2, k3], 2);
    const dup = signedManifest(manifestPayload(), [k2, k2]);
    expect(codeOf(() => verifyManifest(dup, { entry: entryFor(dup), trust: t2, product: 'demo', now: NOW }))).toBe('ERR_SIGNATURE_THRESHOLD');
    const two = signedManifest(manifestPayload(), [k2, stranger, k3]);
    expect(verifyManifest(two, { entry: entryFor(two), trust: t2, product: 'demo', now: NOW }).version).toBe('1.1.0');
  });

  it('refuses invalid JSON and schema violations: ERR_METADATA_INVALID', () => {
    expect(codeOf(() => check(Buffer.from('not json at all')))).toBe('ERR_METADATA_INVALID');
    expect(codeOf(() => check(signedManifest('{"schema":', [k1])))).toBe('ERR_METADATA_INVALID');
    const file = (over: Record<string, unknown>) => ({ path: 'bin/x', sha256: 'e'.repeat(64), size: 1, url: 'x', ...over });
    const bad: Record<string, unknown>[] = [
      manifestPayload({ schema: 'upkeep.index/1' }),
      manifestPayload({ version: 'v1.1.0' }),
      manifestPayload({ files: [file({ type: 'symlink' })] }),
      manifestPayload({ files: [file({ platform: 'freebsd' })] }),
      manifestPayload({ files: [file({ arch: 'ia32' })] }),
      manifestPayload({ files: [file({ sha256: 'xyz' })] }),
      manifestPayload({ files: [file({ size: -5 })] }),
      manifestPayload({ files: [file({ mode: 0o10000 })] }),
      manifestPayload({ files: [file({ url: '' })] }),
      manifestPayload({ files: undefined }),
      manifestPayload({ min_upgrade_from: 'not a range !!' }),
      manifestPayload({ released_at: 'yesterday' }),
    ];
    for (const p of bad) {
      const bytes = signedManifest(p, [k1]);
      expect(codeOf(() => check(bytes, entryFor(bytes, String(p.version)))), JSON.stringify(p).slice(0, 160)).toBe('ERR_METADATA_INVALID');
    }
  });

  it('refuses a version other than the index entry: ERR_VERSION_MISMATCH', () => {
    const bytes = signedManifest(manifestPayload({ version: '1.0.9' }), [k1]);
    expect(codeOf(() => check(bytes, entryFor(bytes, '1.1.0')))).toBe('ERR_VERSION_MISMATCH');
    const build = signedManifest(manifestPayload({ version: '1.1.0+other' }), [k1]);
    expect(codeOf(() => check(build, entryFor(build, '1.1.0')))).toBe('ERR_VERSION_MISMATCH');
  });

  it('refuses another product: ERR_PRODUCT_MISMATCH', () => {
    const bytes = signedManifest(manifestPayload({ product: 'evil' }), [k1]);
    expect(codeOf(() => check(bytes))).toBe('ERR_PRODUCT_MISMATCH');
  });

  it('refuses a manifest past its own expires: ERR_METADATA_EXPIRED', () => {
    const bytes = signedManifest(manifestPayload({ expires: '2026-01-01T00:00:00Z' }), [k1]);
    expect(codeOf(() => check(bytes))).toBe('ERR_METADATA_EXPIRED');
    const later = signedManifest(manifestPayload({ expires: '2027-01-01T00:00:00Z' }), [k1]);
    expect(check(later).expires).toBe('2027-01-01T00:00:00Z');
  });

  it('refuses every unsafe file path: ERR_UNSAFE_PATH naming the path', () => {
    const file = (path: string, over: Record<string, unknown> = {}) => ({ path, sha256: 'e'.repeat(64), size: 1, url: 'https://x.example/f', ...over });
    const cases: { files: unknown[]; names: string }[] = [
      { files: [file('../x')], names: '../x' },
      { files: [file('a/../../x')], names: 'a/../../x' },
      { files: [file('/etc/passwd')], names: '/etc/passwd' },
      { files: [file('C:/x')], names: 'C:/x' },
      { files: [file('c:x')], names: 'c:x' },
      { files: [file('a\\b')], names: 'a\\\\b' },
      { files: [file('a/./b')], names: 'a/./b' },
      { files: [file('a//b')], names: 'a//b' },
      { files: [file('a/b\u0000')], names: 'a/b' },
      { files: [file('bin/x'), file('bin/x')], names: 'bin/x' },
      { files: [file('Bin/a'), file('bin/A')], names: 'bin/A' },
      { files: [file('lib'), file('lib/x.so')], names: 'lib' },
      { files: [file('bin/x', { platform: 'linux' }), file('bin/x', { platform: 'linux' })], names: 'bin/x' },
      { files: [file('app/CON.txt')], names: 'app/CON.txt' },
      { files: [file('bin/demo. ')], names: 'bin/demo' },
    ];
    for (const c of cases) {
      const bytes = signedManifest(manifestPayload({ files: c.files }), [k1]);
      let err: unknown;
      try {
        check(bytes);
      } catch (e) {
        err = e;
      }
      expect((err as VerificationError | undefined)?.code, c.names).toBe('ERR_UNSAFE_PATH');
      expect((err as Error).message).toContain(c.names);
    }
  });

  it('allows one path per platform/arch, and an any file overridden by a specific one', () => {
    const file = (path: string, platform: string, arch = 'any') => ({ path, platform, arch, sha256: 'e'.repeat(64), size: 1, url: 'https://x.example/f' });
    const bytes = signedManifest(
      manifestPayload({ files: [file('bin/demo', 'linux'), file('bin/demo', 'darwin'), file('bin/demo', 'win32', 'x64'), file('bin/demo', 'any'), file('Bin/Other', 'linux'), file('bin/other', 'darwin')] }),
      [k1],
    );
    expect(check(bytes).files).toHaveLength(6);
  });

  it('refuses more files than the bound: ERR_METADATA_INVALID', () => {
    const files = Array.from({ length: 3 }, (_, i) => ({ path: `f${i}`, sha256: 'e'.repeat(64), size: 1, url: 'u' }));
    const bytes = signedManifest(manifestPayload({ files }), [k1]);
    const o = { entry: entryFor(bytes), trust, product: 'demo', now: NOW };
    expect(codeOf(() => verifyManifest(bytes, { ...o, limits: { maxManifestFiles: 2 } }))).toBe('ERR_METADATA_INVALID');
    expect(verifyManifest(bytes, { ...o, limits: { maxManifestFiles: 3 } }).files).toHaveLength(3);
  });

  it('checks size and hash before anything else (a tampered unsigned manifest is a hash mismatch)', () => {
    const good = signedManifest(manifestPayload(), [k1]);
    const entry = entryFor(good);
    const swapped = signedManifest(manifestPayload({ product: 'evil', files: [{ path: '../../etc/passwd', sha256: 'e'.repeat(64), size: 1, url: 'u' }] }), [stranger]);
    expect(codeOf(() => check(swapped, { ...entry, size: swapped.length }))).toBe('ERR_HASH_MISMATCH');
  });

  it('min_upgrade_from and downgrade policy apply to the verified manifest', () => {
    const bytes = signedManifest(manifestPayload({ version: '1.2.0', min_upgrade_from: '>=1.0.0' }), [k1]);
    const m = check(bytes, entryFor(bytes, '1.2.0'));
    let err: unknown;
    try {
      checkUpgradePolicy({ current: '0.9.0', target: m, allowDowngrade: false });
    } catch (e) {
      err = e;
    }
    expect((err as { code: string }).code).toBe('ERR_INCOMPATIBLE_UPGRADE');
    expect((err as Error).message).toBe('Incompatible upgrade from 0.9.0 to 1.2.0');
    expect(codeOf(() => checkUpgradePolicy({ current: '1.3.0', target: m, allowDowngrade: false }))).toBe('ERR_DOWNGRADE');
    expect(codeOf(() => checkUpgradePolicy({ current: '1.0.5', target: m, allowDowngrade: false }))).toBe('no error');
  });

  it('a key rotated out of the config no longer verifies; the new key does', () => {
    const oldKey = newKey();
    const newer = newKey();
    const bytes = signedManifest(manifestPayload(), [oldKey, newer]);
    expect(verifyManifest(bytes, { entry: entryFor(bytes), trust: trustIn([oldKey, newer], 2), product: 'demo', now: NOW }).version).toBe('1.1.0');
    const rotated = verifyManifest(bytes, { entry: entryFor(bytes), trust: trustIn([newer]), product: 'demo', now: NOW });
    expect(rotated.version).toBe('1.1.0');
    const onlyOld = signedManifest(manifestPayload(), [oldKey]);
    expect(codeOf(() => verifyManifest(onlyOld, { entry: entryFor(onlyOld), trust: trustIn([newer]), product: 'demo', now: NOW }))).toBe('ERR_SIGNATURE_INVALID');
  });
});
