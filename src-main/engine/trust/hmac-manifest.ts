/**
 * HMAC-signed release manifests of the "Updates & Rollout" control plane (seed 003): a JSON object
 * with, in this order, `version` (SemVer), `sha` (git commit), `channel`, `migrations_required`
 * (boolean), `breaking_changes` (string or null), `released_at` (ISO 8601 timestamp) and
 * `signature` (lowercase hex HMAC-SHA256).
 *
 * The signed bytes are the UTF-8 of `JSON.stringify` of the six fields in that order (no spaces),
 * the way a Node generator script signs the object it is about to write; the file is that object
 * plus `signature`, pretty-printed with two spaces and a final newline. Verification recomputes
 * the signed bytes from the parsed values, so whitespace and key order in the file do not matter,
 * and compares digests with crypto.timingSafeEqual. A shared secret is NOT public-key security:
 * whoever can verify can also sign (see HMAC_SHARED_SECRET_WARNING).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { UsageError, VerificationError } from '../../../src-shared/errors';
import { isValidVersion } from './versions';

export interface HmacReleaseFields {
  version: string;
  sha: string;
  channel: string;
  migrations_required: boolean;
  breaking_changes: string | null;
  released_at: string;
}

export interface HmacReleaseManifest extends HmacReleaseFields {
  signature: string;
}

/** The signed fields, in the order they are serialised and signed. */
export const HMAC_MANIFEST_FIELDS = ['version', 'sha', 'channel', 'migrations_required', 'breaking_changes', 'released_at'] as const;

export const HMAC_SHARED_SECRET_WARNING =
  'release manifest verified with a shared HMAC secret: anyone holding the secret can also sign releases (not public-key security)';

/** What the publisher is told when signing: every client that verifies holds the same secret. */
export const HMAC_SHARED_SECRET_SIGN_WARNING =
  'release manifest signed with a shared HMAC secret: every machine given the secret to verify it can also sign releases (not public-key security)';

/** Largest manifest accepted (bytes). */
export const MAX_HMAC_MANIFEST_BYTES = 64 * 1024;

const SHA_RE = /^[0-9a-f]{7,64}$/;
const CHANNEL_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const ISO_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/;

function secretBytes(secret: string | Uint8Array): Buffer {
  const b = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : Buffer.from(secret);
  if (b.length === 0) throw new UsageError('ERR_KEY_INVALID', 'The HMAC signing secret is empty', { kind: 'hmac', length: 0 });
  return b;
}

/**
 * The problems of a field set, one line each (empty when valid): strict SemVer version, git commit
 * sha (7–64 lowercase hex), channel name, boolean migrations_required, string-or-null
 * breaking_changes, ISO 8601 released_at.
 */
export function hmacFieldProblems(m: Record<string, unknown>): string[] {
  const out: string[] = [];
  if (!isValidVersion(m.version)) out.push('version: not a SemVer 2.0 version');
  if (typeof m.sha !== 'string' || !SHA_RE.test(m.sha)) out.push('sha: expected a git commit (7 to 64 lowercase hex digits)');
  if (typeof m.channel !== 'string' || !CHANNEL_RE.test(m.channel)) out.push('channel: expected a channel name like "stable" or "beta"');
  if (typeof m.migrations_required !== 'boolean') out.push('migrations_required: expected true or false');
  if (m.breaking_changes !== null && typeof m.breaking_changes !== 'string') out.push('breaking_changes: expected a string or null');
  if (typeof m.released_at !== 'string' || !ISO_RE.test(m.released_at) || Number.isNaN(Date.parse(m.released_at))) {
    out.push('released_at: expected an ISO 8601 timestamp');
  }
  return out;
}

/** The exact bytes the HMAC covers: JSON.stringify of the six fields in order. */
export function hmacSigningInput(fields: HmacReleaseFields): Buffer {
  const ordered: Record<string, unknown> = {};
  for (const k of HMAC_MANIFEST_FIELDS) ordered[k] = fields[k];
  return Buffer.from(JSON.stringify(ordered), 'utf8');
}

/** Lowercase hex HMAC-SHA256 of `fields` with `secret`. Throws ERR_KEY_INVALID for an empty secret. */
export function hmacSignature(fields: HmacReleaseFields, secret: string | Uint8Array): string {
  return createHmac('sha256', secretBytes(secret)).update(hmacSigningInput(fields)).digest('hex');
}

/**
 * Signs `fields` and returns the manifest and its file bytes (two-space JSON, final newline).
 * Throws UsageError ERR_USAGE listing invalid fields, ERR_KEY_INVALID for an empty secret.
 */
export function signHmacManifest(fields: HmacReleaseFields, secret: string | Uint8Array): { manifest: HmacReleaseManifest; bytes: Buffer } {
  const problems = hmacFieldProblems(fields as unknown as Record<string, unknown>);
  if (problems.length > 0) throw new UsageError('ERR_USAGE', `Invalid release manifest: ${problems.join('; ')}`, { problems });
  const manifest: HmacReleaseManifest = { ...pick(fields), signature: hmacSignature(fields, secret) };
  return { manifest, bytes: Buffer.from(JSON.stringify(manifest, null, 2) + '\n', 'utf8') };
}

function pick(m: HmacReleaseFields): HmacReleaseFields {
  return {
    version: m.version,
    sha: m.sha,
    channel: m.channel,
    migrations_required: m.migrations_required,
    breaking_changes: m.breaking_changes,
    released_at: m.released_at,
  };
}

/**
 * Verifies a manifest file's bytes with `secret`. Checks in order: size and JSON object
 * (ERR_METADATA_INVALID) → `signature` present (ERR_SIGNATURE_MISSING) → signature is 64 hex
 * digits and fields are well-formed (ERR_METADATA_INVALID) → HMAC equal in constant time
 * (ERR_SIGNATURE_INVALID). Returns the signed fields only (any other key in the file is unsigned
 * and dropped) and the shared-secret warning the caller must log.
 */
export function verifyHmacManifest(bytes: Uint8Array, secret: string | Uint8Array): { manifest: HmacReleaseManifest; warning: string } {
  const key = secretBytes(secret);
  if (bytes.length > MAX_HMAC_MANIFEST_BYTES) {
    throw new VerificationError('ERR_METADATA_INVALID', `The release manifest has ${bytes.length} bytes; at most ${MAX_HMAC_MANIFEST_BYTES} are accepted`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    throw new VerificationError('ERR_METADATA_INVALID', 'The release manifest is not valid JSON');
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new VerificationError('ERR_METADATA_INVALID', 'The release manifest is not a JSON object');
  const m = parsed as Record<string, unknown>;
  if (m.signature === undefined || m.signature === null || m.signature === '') {
    throw new VerificationError('ERR_SIGNATURE_MISSING', 'The release manifest has no signature');
  }
  if (typeof m.signature !== 'string' || !/^[0-9a-fA-F]{64}$/.test(m.signature)) {
    throw new VerificationError('ERR_METADATA_INVALID', 'The release manifest signature is not a hex HMAC-SHA256 (64 hex digits)');
  }
  const problems = hmacFieldProblems(m);
  if (problems.length > 0) throw new VerificationError('ERR_METADATA_INVALID', `Invalid release manifest: ${problems.join('; ')}`, { problems });
  const fields = pick(m as unknown as HmacReleaseFields);
  const expected = createHmac('sha256', key).update(hmacSigningInput(fields)).digest();
  const given = Buffer.from(m.signature, 'hex');
  if (!timingSafeEqual(expected, given)) {
    throw new VerificationError('ERR_SIGNATURE_INVALID', 'The release manifest signature does not match (wrong secret or altered fields)', { kind: 'hmac' });
  }
  return { manifest: { ...fields, signature: m.signature.toLowerCase() }, warning: HMAC_SHARED_SECRET_WARNING };
}
