import { describe, it, expect } from 'vitest';
import { pae, signEnvelope, verifyEd25519, verifyEnvelope } from '../../../src-main/engine/trust/dsse';
import { codeOf, newKey } from './feed-fixtures';

const TYPE = 'application/vnd.upkeep.index+json';
const k1 = newKey();
const k2 = newKey();
const k3 = newKey();
const stranger = newKey();
const trusted = [k1.publicKey, k2.publicKey, k3.publicKey];
const payload = Buffer.from('{"hello":"world"}', 'utf8');

const envBytes = (env: unknown) => Buffer.from(JSON.stringify(env), 'utf8');

describe('pae (DSSE v1 pre-authentication encoding)', () => {
  it('matches the DSSE spec example byte for byte', () => {
    // "DSSEv1" SP len(type) SP type SP len(body) SP body, written out by hand:
    const expected = Buffer.from('DSSEv1 29 http://example.com/HelloWorld 11 hello world', 'ascii');
    expect(pae('http://example.com/HelloWorld', Buffer.from('hello world'))).toEqual(expected);
  });

  it('uses byte lengths, not character counts, and handles an empty body', () => {
    expect(pae('é', Buffer.from('ü', 'utf8')).toString('utf8')).toBe('DSSEv1 2 é 2 ü');
    expect(pae('t', new Uint8Array(0)).toString('ascii')).toBe('DSSEv1 1 t 0 ');
  });
});

describe('signEnvelope / verifyEnvelope', () => {
  it('round-trips: the payload comes back byte-exact with the signer keyid', () => {
    const env = signEnvelope(TYPE, payload, [k1]);
    expect(env.payloadType).toBe(TYPE);
    expect(Buffer.from(env.payload, 'base64')).toEqual(payload);
    expect(env.signatures).toEqual([{ keyid: k1.publicKey.keyid, sig: expect.any(String) }]);
    const out = verifyEnvelope(envBytes(env), TYPE, trusted, 1);
    expect(out.payload).toEqual(payload);
    expect(out.validKeyIds).toEqual([k1.publicKey.keyid]);
  });

  it('signs the PAE, not the bare payload', () => {
    const env = signEnvelope(TYPE, payload, [k1]);
    const sig = Buffer.from(env.signatures[0]!.sig, 'base64');
    expect(sig).toHaveLength(64);
    expect(verifyEd25519(k1.publicKey, pae(TYPE, payload), sig)).toBe(true);
    expect(verifyEd25519(k1.publicKey, payload, sig)).toBe(false);
  });

  it('2-of-3: two distinct trusted signers pass, one does not', () => {
    expect(verifyEnvelope(envBytes(signEnvelope(TYPE, payload, [k1, k3])), TYPE, trusted, 2).validKeyIds.sort()).toEqual([k1.publicKey.keyid, k3.publicKey.keyid].sort());
    expect(codeOf(() => verifyEnvelope(envBytes(signEnvelope(TYPE, payload, [k2])), TYPE, trusted, 2))).toBe('ERR_SIGNATURE_THRESHOLD');
  });

  it('counts duplicate signatures of one key once', () => {
    const env = signEnvelope(TYPE, payload, [k1, k1, k1]);
    expect(env.signatures).toHaveLength(3);
    expect(codeOf(() => verifyEnvelope(envBytes(env), TYPE, trusted, 2))).toBe('ERR_SIGNATURE_THRESHOLD');
    // copies of one key's signature under other keyids do not verify either
    const relabelled = { ...env, signatures: [env.signatures[0]!, { ...env.signatures[0]!, keyid: k2.publicKey.keyid }] };
    expect(codeOf(() => verifyEnvelope(envBytes(relabelled), TYPE, trusted, 2))).toBe('ERR_SIGNATURE_THRESHOLD');
  });

  it('ignores unknown keyids and untrusted signers', () => {
    const env = signEnvelope(TYPE, payload, [stranger, k2]);
    env.signatures.push({ keyid: 'f'.repeat(64), sig: env.signatures[1]!.sig });
    env.signatures.push({ keyid: 'not even hex', sig: '!!' });
    const out = verifyEnvelope(envBytes(env), TYPE, trusted, 1);
    expect(out.validKeyIds).toEqual([k2.publicKey.keyid]);
    expect(codeOf(() => verifyEnvelope(envBytes(env), TYPE, trusted, 2))).toBe('ERR_SIGNATURE_THRESHOLD');
  });

  it('ignores a bad signature', () => {
    const env = signEnvelope(TYPE, payload, [k1, k2]);
    const bad = Buffer.from(env.signatures[0]!.sig, 'base64');
    bad[10] ^= 0xff;
    env.signatures[0] = { keyid: k1.publicKey.keyid, sig: bad.toString('base64') };
    expect(codeOf(() => verifyEnvelope(envBytes(env), TYPE, trusted, 2))).toBe('ERR_SIGNATURE_THRESHOLD');
    expect(verifyEnvelope(envBytes(env), TYPE, trusted, 1).validKeyIds).toEqual([k2.publicKey.keyid]);
    expect(codeOf(() => verifyEnvelope(envBytes({ ...env, signatures: [{ ...env.signatures[1]!, sig: 'AAAA' }] }), TYPE, trusted, 1))).toBe('ERR_SIGNATURE_INVALID');
  });

  it('no valid signature at all is ERR_SIGNATURE_INVALID, even with threshold 0', () => {
    const env = signEnvelope(TYPE, payload, []);
    expect(codeOf(() => verifyEnvelope(envBytes(env), TYPE, trusted, 1))).toBe('ERR_SIGNATURE_INVALID');
    expect(codeOf(() => verifyEnvelope(envBytes(env), TYPE, trusted, 0))).toBe('ERR_SIGNATURE_INVALID');
    expect(codeOf(() => verifyEnvelope(envBytes(signEnvelope(TYPE, payload, [stranger])), TYPE, trusted, 1))).toBe('ERR_SIGNATURE_INVALID');
  });

  it('refuses a payload or type changed after signing', () => {
    const env = signEnvelope(TYPE, payload, [k1]);
    const tampered = { ...env, payload: Buffer.from('{"hello":"World"}').toString('base64') };
    expect(codeOf(() => verifyEnvelope(envBytes(tampered), TYPE, trusted, 1))).toBe('ERR_SIGNATURE_INVALID');
    const retyped = { ...env, payloadType: 'application/vnd.upkeep.manifest+json' };
    expect(codeOf(() => verifyEnvelope(envBytes(retyped), 'application/vnd.upkeep.manifest+json', trusted, 1))).toBe('ERR_SIGNATURE_INVALID');
    expect(codeOf(() => verifyEnvelope(envBytes(retyped), TYPE, trusted, 1))).toBe('ERR_PAYLOAD_TYPE');
  });

  it('refuses malformed envelopes with ERR_METADATA_INVALID', () => {
    const env = signEnvelope(TYPE, payload, [k1]);
    expect(codeOf(() => verifyEnvelope(Buffer.from('{'), TYPE, trusted, 1))).toBe('ERR_METADATA_INVALID');
    expect(codeOf(() => verifyEnvelope(envBytes({ payloadType: TYPE, payload: env.payload }), TYPE, trusted, 1))).toBe('ERR_METADATA_INVALID');
    expect(codeOf(() => verifyEnvelope(envBytes({ ...env, signatures: 'x' }), TYPE, trusted, 1))).toBe('ERR_METADATA_INVALID');
    expect(codeOf(() => verifyEnvelope(envBytes({ ...env, payload: '***not base64***' }), TYPE, trusted, 1))).toBe('ERR_METADATA_INVALID');
  });
});
