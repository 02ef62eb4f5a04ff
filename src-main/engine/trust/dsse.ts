/**
 * DSSE v1 envelopes (FEED-FORMAT.md): the signature covers
 * PAE = "DSSEv1" SP len(type) SP type SP len(payload) SP payload, so the signed bytes are exactly
 * the payload bytes. Verification is a pure function over bytes and the locally trusted keys.
 */
import { sign as edSign, verify as edVerify } from 'node:crypto';
import { DsseEnvelopeSchema, type DsseEnvelope } from '../../../src-shared/feed-schema';
import { VerificationError } from '../../../src-shared/errors';
import type { PrivateKey, PublicKey } from './keys';

/** Most signatures an envelope may carry (thresholds are small; more is an attack or an error). */
export const MAX_SIGNATURES = 64;
const MAX_ATTEMPTS_PER_KEY = 2;

/** Pre-authentication encoding of DSSE v1. */
export function pae(payloadType: string, payload: Uint8Array): Buffer {
  const type = Buffer.from(payloadType, 'utf8');
  return Buffer.concat([
    Buffer.from(`DSSEv1 ${type.length} `, 'utf8'),
    type,
    Buffer.from(` ${payload.length} `, 'utf8'),
    Buffer.from(payload),
  ]);
}

/** Signs `payload` with every key given and returns the envelope. */
export function signEnvelope(payloadType: string, payload: Uint8Array, keys: PrivateKey[]): DsseEnvelope {
  const message = pae(payloadType, payload);
  return {
    payloadType,
    payload: Buffer.from(payload).toString('base64'),
    signatures: keys.map((k) => ({ keyid: k.publicKey.keyid, sig: edSign(null, message, k.key).toString('base64') })),
  };
}

/** Ed25519 verification of one signature; false for any malformed input, never throws. */
export function verifyEd25519(publicKey: PublicKey, message: Uint8Array, signature: Uint8Array): boolean {
  if (signature.length !== 64) return false;
  try {
    return edVerify(null, message, publicKey.key, signature);
  } catch {
    return false;
  }
}

export interface VerifiedEnvelope {
  payload: Buffer;
  /** Distinct trusted keyids with a valid signature. */
  validKeyIds: string[];
}

/**
 * Parses an envelope's bytes and checks, in order: JSON shape → payloadType → threshold of distinct
 * trusted keys. Unknown keyids and bad signatures are ignored; duplicates of one key count once.
 * Throws ERR_METADATA_INVALID, ERR_PAYLOAD_TYPE, ERR_SIGNATURE_INVALID (no valid signature at all)
 * or ERR_SIGNATURE_THRESHOLD (some, but fewer than `threshold`).
 */
export function verifyEnvelope(
  bytes: Uint8Array,
  expectedType: string,
  trusted: PublicKey[],
  threshold: number,
  what = 'document',
): VerifiedEnvelope {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    throw new VerificationError('ERR_METADATA_INVALID', `The ${what} is not valid JSON`);
  }
  const env = DsseEnvelopeSchema.safeParse(parsed);
  if (!env.success) throw new VerificationError('ERR_METADATA_INVALID', `The ${what} is not a DSSE envelope: ${env.error.issues[0]?.message ?? 'bad shape'}`);
  if (env.data.payloadType !== expectedType) {
    throw new VerificationError('ERR_PAYLOAD_TYPE', `The ${what} has payloadType "${env.data.payloadType}", expected "${expectedType}"`);
  }
  const payload = Buffer.from(env.data.payload, 'base64');
  if (payload.toString('base64').replace(/=+$/, '') !== env.data.payload.replace(/=+$/, '')) {
    throw new VerificationError('ERR_METADATA_INVALID', `The ${what} payload is not valid base64`);
  }
  if (env.data.signatures.length > MAX_SIGNATURES) {
    throw new VerificationError('ERR_METADATA_INVALID', `The ${what} carries ${env.data.signatures.length} signatures; at most ${MAX_SIGNATURES} are accepted`);
  }
  const message = pae(env.data.payloadType, payload);
  const byId = new Map(trusted.map((k) => [k.keyid, k]));
  const attempts = new Map<string, number>();
  const valid = new Set<string>();
  for (const s of env.data.signatures) {
    const key = byId.get(s.keyid);
    if (!key || valid.has(key.keyid)) continue;
    // Each trusted key is tried a bounded number of times, so a flood of bad signatures under one
    // trusted keyid cannot make verification expensive.
    const n = (attempts.get(key.keyid) ?? 0) + 1;
    attempts.set(key.keyid, n);
    if (n > MAX_ATTEMPTS_PER_KEY) continue;
    if (verifyEd25519(key, message, Buffer.from(s.sig, 'base64'))) valid.add(key.keyid);
  }
  const need = Math.max(1, threshold);
  if (valid.size === 0) {
    throw new VerificationError('ERR_SIGNATURE_INVALID', `The ${what} has no valid signature from a trusted key`, { threshold: need });
  }
  if (valid.size < need) {
    throw new VerificationError('ERR_SIGNATURE_THRESHOLD', `The ${what} has ${valid.size} valid signature(s) from trusted keys; ${need} required`, { valid: valid.size, threshold: need });
  }
  return { payload, validKeyIds: [...valid] };
}
