/**
 * Release manifests in the shape of seed 000 (ThemisDB's `GET /api/updates/manifests/:version`),
 * published as a release asset (`manifest_asset: manifest.json` of a `github` feed):
 *
 *   { version, tag_name?, release_notes?, is_critical?, build_commit?,
 *     files: [{ path, type, sha256_hash, size_bytes, platform, architecture, download_url }],
 *     manifest_hash?, signature? }
 *
 * `manifest_hash` is the lowercase hex SHA-256 of the manifest's canonical bytes, and `signature`
 * a base64 DER CMS/PKCS#7 detached signature over the same bytes. The canonical bytes are the
 * manifest object without `manifest_hash` and `signature`, serialised as RFC 8785 (JCS) JSON:
 * object keys sorted by UTF-16 code units, no insignificant whitespace. Seed 000 names both fields
 * without saying what they cover; this is the rule Upkeep publishes and checks.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { VerificationError } from '../../../src-shared/errors';
import { assertSafeRelativePath } from '../trust/paths';
import { isValidVersion } from '../trust/versions';

const hex64 = z.string().regex(/^[0-9a-fA-F]{64}$/, 'expected 64 hex digits');

export const SeedManifestFileSchema = z.object({
  path: z.string().min(1),
  type: z.enum(['file', 'executable', 'library', 'config', 'data']).default('file'),
  sha256_hash: hex64,
  size_bytes: z.number().int().nonnegative(),
  platform: z.string().default('any'),
  architecture: z.string().default('any'),
  download_url: z.string().min(1),
});

export const SeedManifestSchema = z.object({
  version: z.string(),
  tag_name: z.string().optional(),
  release_notes: z.string().default(''),
  is_critical: z.boolean().default(false),
  build_commit: z.string().optional(),
  files: z.array(SeedManifestFileSchema),
  manifest_hash: hex64.optional(),
  signature: z.string().optional(),
}).passthrough();
export type SeedManifest = z.infer<typeof SeedManifestSchema>;

/**
 * RFC 8785 canonical JSON of a parsed JSON value (strings escaped as JSON.stringify does, which
 * matches JCS for all strings; numbers must be safe integers here — a manifest has no others).
 * Own code: ~20 lines, and the JCS packages on npm are unmaintained or pull in number formatting
 * this format never needs.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new VerificationError('ERR_METADATA_INVALID', `Canonical JSON: ${value} is not a safe integer`);
    return String(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object') {
    const o = value as Record<string, unknown>;
    const keys = Object.keys(o).filter((k) => o[k] !== undefined).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(',')}}`;
  }
  throw new VerificationError('ERR_METADATA_INVALID', `Canonical JSON: unsupported ${typeof value}`);
}

/** The bytes `manifest_hash` and `signature` cover: the manifest without those two fields, canonical. */
export function signedBytesOf(raw: Record<string, unknown>): Buffer {
  const { manifest_hash: _h, signature: _s, ...rest } = raw;
  return Buffer.from(canonicalJson(rest), 'utf8');
}

export interface ParsedSeedManifest {
  manifest: SeedManifest;
  /** The canonical bytes covered by manifest_hash and signature. */
  signedBytes: Buffer;
  /** True when `manifest_hash` is present (and matched). */
  hashChecked: boolean;
  /** The CMS signature's DER bytes, or null. */
  signature: Buffer | null;
}

/**
 * Parses and checks a seed-000 manifest: schema, SemVer version equal to `expectedVersion`, safe
 * relative paths, and `manifest_hash` (constant-time compare) when present. Throws
 * VerificationError ERR_METADATA_INVALID (shape), ERR_VERSION_MISMATCH, ERR_UNSAFE_PATH,
 * ERR_HASH_MISMATCH (manifest_hash differs). The CMS signature is only decoded here; the caller
 * verifies it with the configured certificates.
 */
export function parseSeedManifest(bytes: Uint8Array, expectedVersion: string): ParsedSeedManifest {
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    throw new VerificationError('ERR_METADATA_INVALID', 'Release manifest is not JSON');
  }
  const parsed = SeedManifestSchema.safeParse(raw);
  if (!parsed.success) {
    const i = parsed.error.issues[0];
    throw new VerificationError('ERR_METADATA_INVALID', `Release manifest: ${i?.path.join('.') ?? ''}: ${i?.message ?? ''}`);
  }
  const m = parsed.data;
  if (!isValidVersion(m.version)) throw new VerificationError('ERR_METADATA_INVALID', `Release manifest version ${JSON.stringify(m.version)} is not SemVer`);
  if (m.version !== expectedVersion) {
    throw new VerificationError('ERR_VERSION_MISMATCH', `Release manifest says ${m.version}, the release is ${expectedVersion}`, { expected: expectedVersion, actual: m.version });
  }
  for (const f of m.files) assertSafeRelativePath(f.path);
  const signedBytes = signedBytesOf(raw as Record<string, unknown>);
  let hashChecked = false;
  if (m.manifest_hash !== undefined) {
    const actual = createHash('sha256').update(signedBytes).digest();
    const expected = Buffer.from(m.manifest_hash, 'hex');
    if (!timingSafeEqual(actual, expected)) {
      throw new VerificationError('ERR_HASH_MISMATCH', 'Release manifest: manifest_hash does not match its contents', { expected: m.manifest_hash, actual: actual.toString('hex') });
    }
    hashChecked = true;
  }
  let signature: Buffer | null = null;
  if (m.signature !== undefined && m.signature !== '') {
    signature = Buffer.from(m.signature, 'base64');
    if (signature.length === 0) throw new VerificationError('ERR_SIGNATURE_INVALID', 'Release manifest: signature is not base64');
  }
  return { manifest: m, signedBytes, hashChecked, signature };
}
