/**
 * OpenPGP detached signatures (`.asc` armored or `.sig` binary, RFC 9580 / RFC 4880 as made by
 * `gpg --detach-sign`), verified with the `openpgp` package against the `openpgp:` keys of trust.
 * The package checks that the signing key or subkey was valid for signing at the signature's time
 * (not expired, not revoked: RFC 9580 judges a key at the moment it signed) and refuses weak hash
 * algorithms by its own defaults. The signature's own expiry (`Signature Expiration Time`
 * subpacket) and a creation time in the future are judged at `now`, the engine's injected clock
 * (openpgp's `date` option), never at the system clock.
 */
import type * as openpgp from 'openpgp';
import type { OpenPgpTrustedKey, TrustedKey } from './trusted-keys';
import { failedResult, type SignatureResult } from './threshold';
import { systemClock } from '../clock';

/** Largest detached signature accepted (bytes). */
export const MAX_OPENPGP_SIGNATURE_BYTES = 256 * 1024;
/** Most signature packets looked at in one detached signature. */
export const MAX_OPENPGP_SIGNATURES = 16;

/** The openpgp package, loaded on first use (it costs tens of ms of start-up; most feeds sign otherwise). */
const pgp = (): typeof openpgp => require('openpgp') as typeof openpgp;

async function readSignature(input: Uint8Array | string): Promise<openpgp.Signature> {
  const bytes = typeof input === 'string' ? Buffer.from(input, 'utf8') : Buffer.from(input);
  const text = bytes.toString('latin1');
  if (text.includes('-----BEGIN PGP SIGNATURE-----')) return pgp().readSignature({ armoredSignature: bytes.toString('utf8') });
  return pgp().readSignature({ binarySignature: new Uint8Array(bytes) });
}

/**
 * Verifies a detached OpenPGP signature over `message` with the openpgp keys among `keys` (other
 * kinds are ignored). Never throws for bad input: a malformed signature, a signature by a key that
 * is not trusted, a digest mismatch or a key not valid at signing time each add a `problems` line.
 * `signers` holds the distinct ids of the trusted keys with a valid signature (a detached
 * signature may carry several). `o.now` is the verification time (default: the current time): a
 * signature that expired before it, or was made after it, is refused.
 */
export async function verifyOpenPgp(message: Uint8Array, signature: Uint8Array | string, keys: readonly TrustedKey[], o: { now?: Date } = {}): Promise<SignatureResult> {
  const size = typeof signature === 'string' ? Buffer.byteLength(signature) : signature.length;
  if (size > MAX_OPENPGP_SIGNATURE_BYTES) return failedResult('openpgp', `OpenPGP signature of ${size} bytes; at most ${MAX_OPENPGP_SIGNATURE_BYTES} are accepted`);
  let sig: openpgp.Signature;
  try {
    sig = await readSignature(signature);
  } catch (err) {
    return failedResult('openpgp', `Malformed OpenPGP signature: ${(err as Error).message}`);
  }
  const packets = sig.packets.length;
  if (packets === 0) return failedResult('openpgp', 'The OpenPGP signature holds no signature packet');
  const { SignaturePacket } = pgp();
  if (!sig.packets.every((p) => p instanceof SignaturePacket && p.issuerKeyID !== undefined)) {
    return failedResult('openpgp', 'Malformed OpenPGP signature: a packet is not a complete signature');
  }
  if (packets > MAX_OPENPGP_SIGNATURES) return failedResult('openpgp', `The OpenPGP signature holds ${packets} signatures; at most ${MAX_OPENPGP_SIGNATURES} are accepted`);
  const trusted = keys.filter((k): k is OpenPgpTrustedKey => k.kind === 'openpgp');
  if (trusted.length === 0) {
    const ids = sig.getSigningKeyIDs().map((id) => id.toHex().toUpperCase()).join(', ');
    return failedResult('openpgp', `OpenPGP signature by key ID ${ids}, but no openpgp key is trusted`);
  }
  let verification: Awaited<ReturnType<typeof openpgp.verify>>;
  try {
    // Anything the package throws on odd input is a refusal, never an exception out of here.
    verification = await pgp().verify({
      message: await pgp().createMessage({ binary: new Uint8Array(message) }),
      signature: sig,
      verificationKeys: trusted.map((k) => k.key),
      format: 'binary',
      date: o.now ?? systemClock.now(),
    });
  } catch (err) {
    return failedResult('openpgp', `OpenPGP verification failed: ${(err as Error).message}`);
  }
  const signers: string[] = [];
  const signerLabels: string[] = [];
  const problems: string[] = [];
  for (const s of verification.signatures) {
    const keyHex = s.keyID.toHex().toUpperCase();
    const key = trusted.find((k) => k.key.getKeys(s.keyID).length > 0);
    if (!key) {
      problems.push(`OpenPGP signature by key ID ${keyHex}, which is not a trusted key`);
      // The package reports the same; awaiting keeps its rejection from going unhandled.
      await s.verified.catch(() => undefined);
      continue;
    }
    try {
      await s.verified;
      if (!signers.includes(key.id)) {
        signers.push(key.id);
        signerLabels.push(key.label);
      }
    } catch (err) {
      problems.push(`OpenPGP signature by ${key.label} (key ID ${keyHex}) is not valid: ${(err as Error).message}`);
    }
  }
  return { kind: 'openpgp', signers, signerLabels, problems };
}
