/**
 * Ed25519 against public vectors (../shared/vectors/ed25519, see SOURCES.md there): RFC 8032 §7.1
 * byte for byte, Wycheproof verdicts, and the CCTV edge cases as a recorded policy.
 */
import { describe, it, expect } from 'vitest';
import { createPrivateKey, createPublicKey, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { verifyEd25519 } from '../../../src-main/engine/trust/dsse';
import { parsePrivateKey, publicKeyFromRaw, type PublicKey } from '../../../src-main/engine/trust/keys';

const DIR = path.resolve(process.cwd(), '../shared/vectors/ed25519');
const load = <T>(name: string): T => JSON.parse(readFileSync(path.join(DIR, name), 'utf8')) as T;

/** PKCS#8 DER prefix of an Ed25519 private key; the 32-byte seed follows it. */
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

interface RfcVector {
  name: string;
  secretKeyHex: string;
  publicKeyHex: string;
  messageHex: string;
  signatureHex: string;
}

/** Our verdict: a key we cannot even load verifies nothing. */
function verdict(pkHex: string, msg: Buffer, sigHex: string): boolean {
  let key: PublicKey;
  try {
    key = publicKeyFromRaw(Buffer.from(pkHex, 'hex'));
  } catch {
    return false;
  }
  return verifyEd25519(key, msg, Buffer.from(sigHex, 'hex'));
}

describe('RFC 8032 §7.1 test vectors', () => {
  const { vectors } = load<{ vectors: RfcVector[] }>('rfc8032_ed25519_sec7.1.json');

  it('has the five vectors', () => {
    expect(vectors.map((v) => v.name)).toEqual(['TEST 1', 'TEST 2', 'TEST 3', 'TEST 1024', 'TEST SHA(abc)']);
  });

  for (const v of vectors) {
    it(`${v.name}: public key, signature bytes and verification match exactly`, () => {
      const seed = Buffer.from(v.secretKeyHex, 'hex');
      expect(seed).toHaveLength(32);
      const priv = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
      const spki = createPublicKey(priv).export({ format: 'der', type: 'spki' });
      expect(spki.subarray(spki.length - 32).toString('hex')).toBe(v.publicKeyHex);

      // keys.ts sees the same key through its PEM form
      const parsed = parsePrivateKey(priv.export({ format: 'pem', type: 'pkcs8' }));
      expect(parsed.publicKey.raw.toString('hex')).toBe(v.publicKeyHex);

      const msg = Buffer.from(v.messageHex, 'hex');
      const sig = sign(null, msg, priv);
      expect(sig.toString('hex')).toBe(v.signatureHex);

      const pub = publicKeyFromRaw(Buffer.from(v.publicKeyHex, 'hex'));
      expect(verifyEd25519(pub, msg, Buffer.from(v.signatureHex, 'hex'))).toBe(true);

      const flipped = Buffer.from(v.signatureHex, 'hex');
      flipped[0] ^= 1;
      expect(verifyEd25519(pub, msg, flipped)).toBe(false);
      const otherMsg = Buffer.concat([msg, Buffer.from([0])]);
      expect(verifyEd25519(pub, otherMsg, Buffer.from(v.signatureHex, 'hex'))).toBe(false);
      expect(verifyEd25519(pub, msg, Buffer.from(v.signatureHex, 'hex').subarray(0, 63))).toBe(false);
    });
  }
});

describe('Wycheproof ed25519_test.json', () => {
  interface WTest {
    tcId: number;
    comment: string;
    msg: string;
    sig: string;
    result: 'valid' | 'invalid' | 'acceptable';
  }
  const file = load<{ numberOfTests: number; testGroups: { publicKey: { pk: string }; tests: WTest[] }[] }>('wycheproof_ed25519_test.json');
  const cases = file.testGroups.flatMap((g) => g.tests.map((t) => ({ ...t, pk: g.publicKey.pk })));

  it('has 151 tests', () => {
    expect(cases).toHaveLength(151);
    expect(file.numberOfTests).toBe(151);
  });

  it('our verdict equals `result` on every test ("acceptable" may go either way)', () => {
    const disagreements: string[] = [];
    let checked = 0;
    for (const t of cases) {
      const ours = verdict(t.pk, Buffer.from(t.msg, 'hex'), t.sig);
      if (t.result === 'acceptable') continue;
      checked++;
      if (ours !== (t.result === 'valid')) disagreements.push(`tcId ${t.tcId} (${t.comment}): expected ${t.result}, got ${ours ? 'valid' : 'invalid'}`);
    }
    expect(disagreements).toEqual([]);
    expect(checked).toBe(151);
  });

  it('rejects the malleable s >= L forms and truncated signatures', () => {
    const invalid = cases.filter((t) => t.result === 'invalid');
    expect(invalid.length).toBe(63);
    expect(invalid.every((t) => !verdict(t.pk, Buffer.from(t.msg, 'hex'), t.sig))).toBe(true);
  });
});

describe('CCTV ed25519 edge cases (policy: OpenSSL/ref10 verdicts)', () => {
  interface CctvVector {
    number: number;
    key: string;
    sig: string;
    msg: string;
    flags: string[] | null;
  }
  const vectors = load<CctvVector[]>('cctv_ed25519vectors.json');
  const accepted = vectors.filter((v) => verdict(v.key, Buffer.from(v.msg, 'utf8'), v.sig));
  const withFlag = (list: CctvVector[], flag: string) => list.filter((v) => (v.flags ?? []).includes(flag));

  it('accepts 208 of 914 (a change means the crypto library changed its rules)', () => {
    expect(vectors).toHaveLength(914);
    expect(accepted).toHaveLength(208);
  });

  it('rejects every non-canonical R and every low-order residue (the ref10 behaviour)', () => {
    expect(withFlag(vectors, 'non_canonical_R').length).toBeGreaterThan(0);
    expect(withFlag(accepted, 'non_canonical_R')).toEqual([]);
    expect(withFlag(vectors, 'low_order_residue').length).toBeGreaterThan(0);
    expect(withFlag(accepted, 'low_order_residue')).toEqual([]);
  });

  it('accepts the unflagged (ordinary) vector', () => {
    const plain = vectors.filter((v) => (v.flags ?? []).length === 0);
    expect(plain.length).toBeGreaterThan(0);
    for (const v of plain) expect(verdict(v.key, Buffer.from(v.msg, 'utf8'), v.sig)).toBe(true);
  });
});
