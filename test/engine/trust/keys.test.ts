import { describe, it, expect } from 'vitest';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { UsageError } from '../../../src-shared/errors';
import { formatPublicKey, generateKeyPair, keyIdOf, parsePrivateKey, parsePublicKey, publicKeyFromRaw } from '../../../src-main/engine/trust/keys';
import { codeOf } from './feed-fixtures';

// RFC 8032 TEST 1 public key; its SHA-256 computed outside node (Python hashlib).
const RFC_PK_HEX = 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a';
const RFC_PK_LINE = 'ed25519:11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=';
const RFC_PK_KEYID = '21fe31dfa154a261626bf854046fd2271b7bed4b6abe45aa58877ef47f9721b9';

describe('public keys', () => {
  it('keyid is the hex SHA-256 of the 32 raw bytes', () => {
    expect(keyIdOf(Buffer.from(RFC_PK_HEX, 'hex'))).toBe(RFC_PK_KEYID);
    expect(parsePublicKey(RFC_PK_LINE).keyid).toBe(RFC_PK_KEYID);
  });

  it('formats and parses the one-line form, tolerating surrounding whitespace', () => {
    expect(formatPublicKey(Buffer.from(RFC_PK_HEX, 'hex'))).toBe(RFC_PK_LINE);
    const k = parsePublicKey(`  ${RFC_PK_LINE}\n`);
    expect(k.raw.toString('hex')).toBe(RFC_PK_HEX);
    expect(k.key.asymmetricKeyType).toBe('ed25519');
  });

  it('refuses malformed public keys with ERR_KEY_INVALID', () => {
    const b64 = RFC_PK_LINE.slice('ed25519:'.length);
    const nonCanonical = b64.slice(0, 42) + 'p='; // same bytes, non-zero padding bits
    expect(Buffer.from(nonCanonical, 'base64').toString('hex')).toBe(RFC_PK_HEX);
    const bad = [
      b64,
      `ssh-ed25519:${b64}`,
      `ED25519:${b64}`,
      `ed25519:${b64.replace(/=$/, '')}`,
      `ed25519:${nonCanonical}`,
      `ed25519:${Buffer.alloc(31, 1).toString('base64')}`,
      `ed25519:${Buffer.alloc(33, 1).toString('base64')}`,
      `ed25519:${b64.slice(0, 10)} ${b64.slice(10)}`,
      'ed25519:',
      '',
    ];
    for (const line of bad) expect(codeOf(() => parsePublicKey(line)), line).toBe('ERR_KEY_INVALID');
    expect(() => parsePublicKey('nope')).toThrow(UsageError);
    expect(codeOf(() => publicKeyFromRaw(new Uint8Array(16)))).toBe('ERR_KEY_INVALID');
  });
});

describe('private keys', () => {
  it('generateKeyPair gives a PKCS#8 PEM whose public half matches the line and keyid', () => {
    const kp = generateKeyPair();
    expect(kp.privatePem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    expect(kp.publicLine).toMatch(/^ed25519:[A-Za-z0-9+/]{43}=$/);
    const pub = parsePublicKey(kp.publicLine);
    expect(pub.keyid).toBe(kp.keyid);
    expect(createHash('sha256').update(pub.raw).digest('hex')).toBe(kp.keyid);
    const priv = parsePrivateKey(kp.privatePem);
    expect(priv.publicKey.keyid).toBe(kp.keyid);
    expect(priv.publicKey.raw).toEqual(pub.raw);
    expect(generateKeyPair().keyid).not.toBe(kp.keyid);
  });

  it('refuses non-PEM and non-Ed25519 private keys with ERR_KEY_INVALID', () => {
    expect(codeOf(() => parsePrivateKey('not a key'))).toBe('ERR_KEY_INVALID');
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ format: 'pem', type: 'pkcs8' });
    expect(codeOf(() => parsePrivateKey(rsa))).toBe('ERR_KEY_INVALID');
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'pem', type: 'pkcs8' });
    expect(codeOf(() => parsePrivateKey(ec))).toBe('ERR_KEY_INVALID');
    const pubPem = generateKeyPairSync('ed25519').publicKey.export({ format: 'pem', type: 'spki' });
    expect(codeOf(() => parsePrivateKey(pubPem))).toBe('ERR_KEY_INVALID');
  });
});
