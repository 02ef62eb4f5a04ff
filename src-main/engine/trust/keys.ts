/**
 * Ed25519 keys in Upkeep's text forms: public keys as one line `ed25519:<base64 of 32 raw bytes>`,
 * keyid = lowercase hex SHA-256 of the raw bytes, private keys as PKCS#8 PEM. node:crypto does the
 * curve arithmetic (OpenSSL); nothing here is hand-rolled cryptography.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { UsageError } from '../../../src-shared/errors';
import { sha256Hex } from './digest';

/** DER prefix of an Ed25519 SubjectPublicKeyInfo; the 32 raw key bytes follow it. */
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

export interface PublicKey {
  keyid: string;
  raw: Buffer;
  key: KeyObject;
}

/** The keyid of a raw 32-byte Ed25519 public key. */
export function keyIdOf(raw: Uint8Array): string {
  return sha256Hex(raw);
}

/** Builds a node KeyObject from 32 raw public key bytes. Throws ERR_KEY_INVALID. */
export function publicKeyFromRaw(raw: Uint8Array): PublicKey {
  if (raw.length !== 32) throw new UsageError('ERR_KEY_INVALID', `An Ed25519 public key has 32 bytes, got ${raw.length}`);
  const buf = Buffer.from(raw);
  let key: KeyObject;
  try {
    key = createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, buf]), format: 'der', type: 'spki' });
  } catch (err) {
    throw new UsageError('ERR_KEY_INVALID', `Not a valid Ed25519 public key: ${(err as Error).message}`);
  }
  return { keyid: keyIdOf(buf), raw: buf, key };
}

/** Parses `ed25519:<base64>` (surrounding whitespace allowed). Throws ERR_KEY_INVALID. */
export function parsePublicKey(text: string): PublicKey {
  const line = text.trim();
  const m = /^ed25519:([A-Za-z0-9+/]+={0,2})$/.exec(line);
  if (!m) throw new UsageError('ERR_KEY_INVALID', `A public key must look like "ed25519:<base64 of 32 bytes>", got "${line.slice(0, 40)}"`);
  const raw = Buffer.from(m[1]!, 'base64');
  if (raw.toString('base64') !== m[1]) throw new UsageError('ERR_KEY_INVALID', 'Public key base64 is not canonical');
  return publicKeyFromRaw(raw);
}

/** Formats a public key as its one-line text form. */
export function formatPublicKey(raw: Uint8Array): string {
  return `ed25519:${Buffer.from(raw).toString('base64')}`;
}

export interface PrivateKey {
  key: KeyObject;
  publicKey: PublicKey;
}

/** Parses a PKCS#8 PEM Ed25519 private key. Throws ERR_KEY_INVALID. */
export function parsePrivateKey(pem: string | Buffer): PrivateKey {
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pem, format: 'pem' });
  } catch (err) {
    throw new UsageError('ERR_KEY_INVALID', `Not a PKCS#8 PEM private key: ${(err as Error).message}`);
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new UsageError('ERR_KEY_INVALID', `Expected an Ed25519 key, got ${key.asymmetricKeyType}`);
  const spki = createPublicKey(key).export({ format: 'der', type: 'spki' });
  return { key, publicKey: publicKeyFromRaw(spki.subarray(ED25519_SPKI_PREFIX.length)) };
}

/** Generates a new key pair: PKCS#8 PEM private key and the public key's text line. */
export function generateKeyPair(): { privatePem: string; publicLine: string; keyid: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(ED25519_SPKI_PREFIX.length);
  return {
    privatePem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    publicLine: formatPublicKey(raw),
    keyid: keyIdOf(raw),
  };
}
