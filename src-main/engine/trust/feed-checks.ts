/**
 * The trust checks of FEED-FORMAT.md "Client checks, in order", as pure functions over the bytes
 * a fetcher returned (the model is python-tuf's trusted_metadata_set: no I/O here, so every
 * malicious case is a unit test). Each step has its own error code and the steps run in the
 * documented order, so the first failing check is the one reported.
 */
import { sha256Hex } from './digest';
import type { z } from 'zod';
import { UsageError, VerificationError } from '../../../src-shared/errors';
import {
  ChannelIndexSchema,
  INDEX_PAYLOAD_TYPE,
  MANIFEST_PAYLOAD_TYPE,
  ReleaseManifestSchema,
  type ChannelIndex,
  type IndexEntry,
  type ReleaseManifest,
} from '../../../src-shared/feed-schema';
import { DEFAULT_LIMITS, type Limits } from '../limits';
import { verifyEnvelope } from './dsse';
import { parsePublicKey, type PublicKey } from './keys';
import { isValidRange, isValidVersion } from './versions';
import { checkInstallTrees } from './select';

/** The locally configured keys and how many distinct ones must sign. */
export interface Trust {
  keys: PublicKey[];
  threshold: number;
}

/**
 * Parses a target's trust configuration (`ed25519:<base64>` lines and a threshold). Throws
 * UsageError ERR_KEY_INVALID for a malformed or repeated key, no keys, or a threshold that is not
 * an integer between 1 and the number of keys (such a threshold could never be met).
 */
export function parseTrust(cfg: { keys: string[]; threshold: number }): Trust {
  if (!Array.isArray(cfg.keys) || cfg.keys.length === 0) throw new UsageError('ERR_KEY_INVALID', 'At least one trusted public key is required');
  const keys = cfg.keys.map((k) => parsePublicKey(k));
  const ids = new Set<string>();
  for (const k of keys) {
    if (ids.has(k.keyid)) throw new UsageError('ERR_KEY_INVALID', `Trusted key ${k.keyid.slice(0, 16)}… is listed twice`, { keyid: k.keyid });
    ids.add(k.keyid);
  }
  const t = cfg.threshold;
  if (!Number.isInteger(t) || t < 1 || t > keys.length) {
    throw new UsageError('ERR_KEY_INVALID', `The signature threshold must be an integer from 1 to ${keys.length} (the number of trusted keys), got ${String(t)}`, { threshold: t });
  }
  return { keys, threshold: t };
}

function describeIssue(err: z.ZodError): string {
  const issue = err.issues[0];
  if (!issue) return 'invalid';
  const where = issue.path.length > 0 ? issue.path.map(String).join('.') : '(root)';
  return `${where}: ${issue.message}`;
}

function parsePayloadJson(payload: Buffer, what: string): unknown {
  try {
    return JSON.parse(payload.toString('utf8'));
  } catch {
    throw new VerificationError('ERR_METADATA_INVALID', `The ${what} payload is not valid JSON`);
  }
}

function isExpired(expires: string, now: Date): boolean {
  return Date.parse(expires) <= now.getTime();
}

export interface IndexCheckOptions {
  trust: Trust;
  product: string;
  channel: string;
  /** Highest sequence accepted before for this feed and channel; null on first contact. */
  rememberedSequence: number | null;
  now: Date;
  /** Bounds (defaults: DEFAULT_LIMITS); only maxIndexBytes is used. */
  limits?: Pick<Limits, 'maxIndexBytes'>;
}

/**
 * Verifies a channel index envelope and returns its payload. In order: size bound
 * (ERR_SIZE_MISMATCH) → envelope type (ERR_PAYLOAD_TYPE) → signature threshold
 * (ERR_SIGNATURE_INVALID / ERR_SIGNATURE_THRESHOLD) → schema, strict SemVer versions and no two
 * entries of equal precedence (ERR_METADATA_INVALID) → product and channel (ERR_PRODUCT_MISMATCH)
 * → sequence ≥ remembered (ERR_ROLLBACK_ATTACK) → not expired (ERR_METADATA_EXPIRED).
 */
export function verifyIndex(bytes: Uint8Array, o: IndexCheckOptions): ChannelIndex {
  const maxBytes = (o.limits ?? DEFAULT_LIMITS).maxIndexBytes;
  if (bytes.length > maxBytes) {
    throw new VerificationError('ERR_SIZE_MISMATCH', `The channel index is ${bytes.length} bytes, more than the ${maxBytes} allowed`, { size: bytes.length, limit: maxBytes });
  }
  const { payload } = verifyEnvelope(bytes, INDEX_PAYLOAD_TYPE, o.trust.keys, o.trust.threshold, 'channel index');

  const parsed = ChannelIndexSchema.safeParse(parsePayloadJson(payload, 'channel index'));
  if (!parsed.success) throw new VerificationError('ERR_METADATA_INVALID', `The channel index does not match upkeep.index/1: ${describeIssue(parsed.error)}`);
  const index = parsed.data;
  const seen = new Map<string, string>();
  for (const entry of index.releases) {
    if (!isValidVersion(entry.version)) {
      throw new VerificationError('ERR_METADATA_INVALID', `The channel index lists ${JSON.stringify(entry.version.slice(0, 80))}, which is not a SemVer 2.0 version`);
    }
    // Equal precedence (e.g. 1.0.0+a and 1.0.0+b) would make "the newest" ambiguous.
    const key = entry.version.split('+')[0]!;
    const other = seen.get(key);
    if (other !== undefined) throw new VerificationError('ERR_METADATA_INVALID', `The channel index lists version ${entry.version} twice (${other})`, { version: entry.version });
    seen.set(key, entry.version);
  }

  if (index.product !== o.product) {
    throw new VerificationError('ERR_PRODUCT_MISMATCH', `The channel index is for product "${index.product}", expected "${o.product}"`, { expected: o.product, actual: index.product });
  }
  if (index.channel !== o.channel) {
    throw new VerificationError('ERR_PRODUCT_MISMATCH', `The channel index is for channel "${index.channel}", expected "${o.channel}"`, { expected: o.channel, actual: index.channel });
  }
  if (o.rememberedSequence !== null && index.sequence < o.rememberedSequence) {
    throw new VerificationError(
      'ERR_ROLLBACK_ATTACK',
      `The channel index has sequence ${index.sequence}, lower than ${o.rememberedSequence} already accepted (replayed or rolled-back feed)`,
      { sequence: index.sequence, remembered: o.rememberedSequence },
    );
  }
  if (isExpired(index.expires, o.now)) {
    throw new VerificationError('ERR_METADATA_EXPIRED', `The channel index expired at ${index.expires}`, { expires: index.expires });
  }
  return index;
}

export interface ManifestCheckOptions {
  /** The verified index entry the manifest was reached from. */
  entry: IndexEntry;
  trust: Trust;
  product: string;
  now: Date;
  /** Bounds (defaults: DEFAULT_LIMITS); only maxManifestFiles is used. */
  limits?: Pick<Limits, 'maxManifestFiles'>;
}

/**
 * Verifies a release manifest envelope against the index entry it was reached from and returns
 * its payload. In order: size ≤ entry.size (ERR_SIZE_MISMATCH) → sha256 = entry.sha256
 * (ERR_HASH_MISMATCH) → envelope type (ERR_PAYLOAD_TYPE) → signature threshold → schema, strict
 * SemVer version, valid min_upgrade_from range (ERR_METADATA_INVALID) → version = entry.version
 * (ERR_VERSION_MISMATCH) → product (ERR_PRODUCT_MISMATCH) → expires not past
 * (ERR_METADATA_EXPIRED) → file count ≤ maxManifestFiles (ERR_METADATA_INVALID) → path safety of
 * every file and of each platform/arch install tree (ERR_UNSAFE_PATH).
 * The manifest's `channel` is not compared: one version may be promoted through several channels.
 */
export function verifyManifest(bytes: Uint8Array, o: ManifestCheckOptions): ReleaseManifest {
  const { entry } = o;
  if (bytes.length > entry.size) {
    throw new VerificationError('ERR_SIZE_MISMATCH', `The manifest of ${entry.version} is ${bytes.length} bytes, more than the ${entry.size} the index declares`, {
      version: entry.version,
      expected: entry.size,
      actual: bytes.length,
    });
  }
  const digest = sha256Hex(bytes);
  if (digest !== entry.sha256.toLowerCase()) {
    throw new VerificationError('ERR_HASH_MISMATCH', `The manifest of ${entry.version} does not match the SHA-256 in the channel index`, {
      version: entry.version,
      expected: entry.sha256,
      actual: digest,
    });
  }
  const { payload } = verifyEnvelope(bytes, MANIFEST_PAYLOAD_TYPE, o.trust.keys, o.trust.threshold, 'release manifest');

  const parsed = ReleaseManifestSchema.safeParse(parsePayloadJson(payload, 'release manifest'));
  if (!parsed.success) throw new VerificationError('ERR_METADATA_INVALID', `The release manifest does not match upkeep.manifest/1: ${describeIssue(parsed.error)}`);
  const m = parsed.data;
  if (!isValidVersion(m.version)) throw new VerificationError('ERR_METADATA_INVALID', `The release manifest version ${JSON.stringify(m.version.slice(0, 80))} is not SemVer 2.0`);
  if (m.min_upgrade_from !== undefined && !isValidRange(m.min_upgrade_from)) {
    throw new VerificationError('ERR_METADATA_INVALID', `The release manifest's min_upgrade_from ${JSON.stringify(m.min_upgrade_from.slice(0, 80))} is not a SemVer range`);
  }

  if (m.version !== entry.version) {
    throw new VerificationError('ERR_VERSION_MISMATCH', `The manifest says version ${m.version} but the channel index entry is ${entry.version}`, { expected: entry.version, actual: m.version });
  }
  if (m.product !== o.product) {
    throw new VerificationError('ERR_PRODUCT_MISMATCH', `The manifest is for product "${m.product}", expected "${o.product}"`, { expected: o.product, actual: m.product });
  }
  if (m.expires !== undefined && isExpired(m.expires, o.now)) {
    throw new VerificationError('ERR_METADATA_EXPIRED', `The manifest of ${m.version} expired at ${m.expires}`, { expires: m.expires });
  }
  // Counted before the path checks so their work is bounded (the byte size already bounds it too).
  const maxFiles = (o.limits ?? DEFAULT_LIMITS).maxManifestFiles;
  if (m.files.length > maxFiles) {
    throw new VerificationError('ERR_METADATA_INVALID', `The manifest lists ${m.files.length} files, more than the ${maxFiles} allowed`, { files: m.files.length, limit: maxFiles });
  }
  checkInstallTrees(m);
  return m;
}
