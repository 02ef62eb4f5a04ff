/**
 * OpenPGP detached signatures (seed 002's "GPG signature") made by Debian's gpg in the test:
 * armored and binary, Ed25519 and RSA keys; good, tampered, wrong key, and the format sniffing.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { verifyOpenPgp } from '../../../src-main/engine/trust/openpgp-signature';
import { detectSignatureKind, verifyDetachedSignature } from '../../../src-main/engine/trust/signatures';
import { loadTrustedKey, type TrustedKey } from '../../../src-main/engine/trust/trusted-keys';
import { requireThreshold } from '../../../src-main/engine/trust/threshold';
import { makeGpgKey, type GpgKey, stopGpgAgents } from './signing-tools';
import { clockFrom } from '../../../src-main/engine/clock';
import { TrustSchema } from '../../../src-main/engine/config/feed-schema';
import { KeyRing } from '../../../src-main/engine/feed/feed-helpers';

let dir: string;
let alice: GpgKey;
let bob: GpgKey;
let aliceKey: TrustedKey;
let bobKey: TrustedKey;
let file: string;
let data: Buffer;

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'upkeep-pgp-'));
  alice = makeGpgKey(dir, 'alice');
  bob = makeGpgKey(dir, 'bob', 'rsa3072');
  aliceKey = await loadTrustedKey(`openpgp:${alice.pubFile}`);
  bobKey = await loadTrustedKey(`openpgp:${bob.pubFile}`);
  data = randomBytes(200_000);
  file = path.join(dir, 'caio-1.4.0.tar.gz');
  writeFileSync(file, data);
});
afterAll(() => {
  stopGpgAgents();
  rmSync(dir, { recursive: true, force: true });
});

describe('OpenPGP detached signatures made by gpg', () => {
  it('an armored (.asc) signature by a trusted Ed25519 key verifies', async () => {
    const sig = readFileSync(alice.sign(file, true));
    expect(sig.toString('utf8')).toMatch(/^-----BEGIN PGP SIGNATURE-----/);
    const r = await verifyOpenPgp(data, sig, [bobKey, aliceKey]);
    expect(r.problems).toEqual([]);
    expect(r.signers).toEqual([aliceKey.id]);
    expect(r.signerLabels).toEqual([`OpenPGP key ${alice.fingerprint}`]);
  });

  it('a binary (.sig) signature by a trusted RSA key verifies', async () => {
    const sig = readFileSync(bob.sign(file, false));
    expect(sig[0]! & 0x80).toBe(0x80);
    const r = await verifyOpenPgp(data, sig, [aliceKey, bobKey]);
    expect(r.signers).toEqual([bobKey.id]);
  });

  it('tampered data is refused (one flipped bit, one extra byte)', async () => {
    const sig = readFileSync(alice.sign(file, true));
    const flipped = Buffer.from(data);
    flipped[123_456] = flipped[123_456]! ^ 0x01;
    for (const bad of [flipped, Buffer.concat([data, Buffer.from([0])])]) {
      const r = await verifyOpenPgp(bad, sig, [aliceKey]);
      expect(r.signers).toEqual([]);
      expect(r.problems[0]).toMatch(new RegExp(`OpenPGP signature by OpenPGP key ${alice.fingerprint} .* is not valid`));
    }
  });

  it('a signature by a key that is not trusted is refused, naming its key ID', async () => {
    const sig = readFileSync(bob.sign(file, true));
    const r = await verifyOpenPgp(data, sig, [aliceKey]);
    expect(r.signers).toEqual([]);
    expect(r.problems[0]).toBe(`OpenPGP signature by key ID ${bob.fingerprint.slice(-16)}, which is not a trusted key`);
    await expect(Promise.resolve().then(() => requireThreshold([r], 1, 'caio-1.4.0.tar.gz'))).rejects.toMatchObject({ code: 'ERR_SIGNATURE_INVALID' });
    const none = await verifyOpenPgp(data, sig, []);
    expect(none.problems[0]).toMatch(/no openpgp key is trusted/);
  });

  it('a tampered signature and garbage are refused without throwing', async () => {
    const asc = readFileSync(alice.sign(file, true), 'utf8');
    const lines = asc.split('\n');
    const mid = lines.findIndex((l, i) => i > 2 && l.length > 40);
    lines[mid] = lines[mid]!.slice(0, 10) + (lines[mid]![10] === 'A' ? 'B' : 'A') + lines[mid]!.slice(11);
    for (const bad of [lines.join('\n'), 'not a signature', Buffer.from([0x88, 0x01, 0x02]), Buffer.alloc(300_000, 0x41)]) {
      const r = await verifyOpenPgp(data, bad, [aliceKey]);
      expect(r.signers).toEqual([]);
      expect(r.problems).toHaveLength(1);
    }
  });

  it('two trusted keys signing count as two distinct signers for a threshold', async () => {
    const a = await verifyDetachedSignature(data, readFileSync(alice.sign(file, true)), [aliceKey, bobKey]);
    const b = await verifyDetachedSignature(data, readFileSync(bob.sign(file, false)), [aliceKey, bobKey]);
    expect(requireThreshold([a, b], 2, 'caio')).toEqual([aliceKey.id, bobKey.id]);
    expect(() => requireThreshold([a, a], 2, 'caio')).toThrow(expect.objectContaining({ code: 'ERR_SIGNATURE_THRESHOLD' }));
  });

  it('signature expiry and creation time are judged at the injected clock, not the system clock', async () => {
    const day = 86_400_000;
    const sig = readFileSync(alice.sign(file, true, { expire: '1d' }));
    // Valid now, by the system clock and by a clock pinned to now.
    expect((await verifyOpenPgp(data, sig, [aliceKey], { now: new Date() })).signers).toEqual([aliceKey.id]);
    // A clock two days on: the signature expired a day earlier.
    const later = clockFrom(() => new Date(Date.now() + 2 * day));
    const expired = await verifyOpenPgp(data, sig, [aliceKey], { now: later.now() });
    expect(expired.signers).toEqual([]);
    expect(expired.problems[0]).toMatch(/OpenPGP signature by OpenPGP key [0-9A-F]{40} \(key ID [0-9A-F]{16}\) is not valid: .*expired/i);
    // The feeds' path: KeyRing.require with the engine clock's time refuses it with a stable code.
    const ring = new KeyRing(TrustSchema.parse({ keys: [`openpgp:${alice.pubFile}`] }));
    await expect(ring.require(data, [sig], 'caio 1.4.0', later.now())).rejects.toMatchObject({ code: 'ERR_SIGNATURE_INVALID' });
    await expect(ring.require(data, [sig], 'caio 1.4.0', new Date())).resolves.toEqual([aliceKey.id]);
    // A clock pinned a day back: the signature was made after "now".
    const earlier = await verifyDetachedSignature(data, sig, [aliceKey], { now: new Date(Date.now() - day) });
    expect(earlier.signers).toEqual([]);
    expect(earlier.problems[0]).toMatch(/in the future/);
  });

  it('the format is recognised from the bytes (armored and binary)', () => {
    expect(detectSignatureKind(readFileSync(alice.sign(file, true)))).toBe('openpgp');
    expect(detectSignatureKind(readFileSync(alice.sign(file, false)))).toBe('openpgp');
  });
});
