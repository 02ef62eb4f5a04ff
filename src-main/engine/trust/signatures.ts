/**
 * One entry point for detached signatures of any kind: the format is recognised from the bytes
 * (or given), the matching verifier runs against the target's trusted keys, and the result feeds
 * `requireThreshold` (threshold.ts). Feed adapters call `verifyDetachedSignature` per signature
 * file they find (`.minisig`, `.sig`, `.asc`, `.p7s`, a manifest's `signature`).
 */
import { verifyEd25519 } from './dsse';
import { verifyCms, cmsDer } from './cms';
import { verifyMinisign } from './minisign';
import { verifyOpenPgp } from './openpgp-signature';
import { failedResult, type SignatureKind, type SignatureResult } from './threshold';
import type { Ed25519TrustedKey, TrustedKey } from './trusted-keys';

export type DetachedSignatureKind = Extract<SignatureKind, 'minisign' | 'openpgp' | 'cms'>;

const UNTRUSTED_B64_PREFIX = 'dW50cnVzdGVkIGNvbW1lbnQ6'; // base64("untrusted comment:")

/**
 * Recognises a detached signature's format from its bytes: minisign (also Tauri's base64 form),
 * OpenPGP (armored, or a binary packet with the signature tag 2), CMS (DER SEQUENCE, PEM or base64
 * of DER). Null when it is none of them.
 */
export function detectSignatureKind(input: Uint8Array | string): DetachedSignatureKind | null {
  const bytes = typeof input === 'string' ? Buffer.from(input, 'utf8') : Buffer.from(input);
  const head = bytes.subarray(0, 64).toString('latin1').trimStart();
  if (head.startsWith('untrusted comment:') || head.startsWith(UNTRUSTED_B64_PREFIX)) return 'minisign';
  if (head.startsWith('-----BEGIN PGP SIGNATURE-----')) return 'openpgp';
  const first = bytes[0];
  if (first !== undefined && (first & 0x80) !== 0) {
    // OpenPGP packet header: new format 0xC0|tag, old format 0x80|tag<<2|len-type; tag 2 = Signature.
    const tag = (first & 0x40) !== 0 ? first & 0x3f : (first >> 2) & 0x0f;
    if (tag === 2) return 'openpgp';
  }
  if (cmsDer(bytes) !== null) return 'cms';
  return null;
}

/**
 * Verifies one detached signature over `message` with `keys`. `o.kind` forces the format;
 * otherwise it is recognised from the bytes. `o.now` is the verification time (the engine's
 * clock): CMS certificates must be valid then, OpenPGP signatures unexpired and not made later. Never throws for bad input (see each verifier); an unrecognised format is a result with
 * no signer and one problem.
 */
export async function verifyDetachedSignature(
  message: Uint8Array,
  signature: Uint8Array | string,
  keys: readonly TrustedKey[],
  o: { kind?: DetachedSignatureKind; now?: Date } = {},
): Promise<SignatureResult> {
  const kind = o.kind ?? detectSignatureKind(signature);
  switch (kind) {
    case 'minisign':
      return verifyMinisign(message, signature, keys);
    case 'openpgp':
      return verifyOpenPgp(message, signature, keys, o.now ? { now: o.now } : {});
    case 'cms':
      return verifyCms(message, signature, keys, o.now ? { now: o.now } : {});
    default:
      return failedResult('unknown', 'Unrecognised signature format (expected minisign, OpenPGP or CMS)');
  }
}

/**
 * A bare Ed25519 signature (base64 of 64 bytes, e.g. Sparkle's `sparkle:edSignature`) over
 * `message`, checked with the `ed25519:` keys among `keys`. Never throws.
 */
export function verifyEd25519Signature(message: Uint8Array, signatureBase64: string, keys: readonly TrustedKey[]): SignatureResult {
  const text = signatureBase64.trim();
  const sig = /^[A-Za-z0-9+/]+={0,2}$/.test(text) ? Buffer.from(text, 'base64') : null;
  if (!sig || sig.length !== 64 || sig.toString('base64') !== text) return failedResult('ed25519', 'Malformed Ed25519 signature: expected the base64 of 64 bytes');
  const candidates = keys.filter((k): k is Ed25519TrustedKey => k.kind === 'ed25519');
  if (candidates.length === 0) return failedResult('ed25519', 'Ed25519 signature, but no ed25519 key is trusted');
  const key = candidates.find((k) => verifyEd25519(k.publicKey, message, sig));
  if (!key) return failedResult('ed25519', 'The Ed25519 signature does not verify with any trusted ed25519 key');
  return { kind: 'ed25519', signers: [key.id], signerLabels: [key.label], problems: [] };
}
