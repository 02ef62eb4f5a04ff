/**
 * CMS/PKCS#7 detached signatures (seed 000's `signature` over the manifest) made by
 * `openssl cms -sign -binary` in the test, DER and PEM, against configured X.509 certificates:
 * pinned signer certificate, CA-issued signer, tampered data, untrusted signer, expired certificate.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cmsDer, verifyCms } from '../../../src-main/engine/trust/cms';
import { detectSignatureKind, verifyDetachedSignature } from '../../../src-main/engine/trust/signatures';
import { loadTrustedKey, type TrustedKey } from '../../../src-main/engine/trust/trusted-keys';
import { requireThreshold } from '../../../src-main/engine/trust/threshold';
import { cmsSign, makeCert, type Cert } from './signing-tools';

let dir: string;
let signer: Cert;
let stranger: Cert;
let ca: Cert;
let leaf: Cert;
let signerKey: TrustedKey;
let strangerKey: TrustedKey;
let caKey: TrustedKey;
let manifestFile: string;
let manifest: Buffer;

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'upkeep-cms-'));
  signer = makeCert(dir, 'themis-release');
  stranger = makeCert(dir, 'stranger');
  ca = makeCert(dir, 'themis-ca', { isCa: true });
  leaf = makeCert(dir, 'themis-build-7', { ca });
  signerKey = await loadTrustedKey(`x509:${signer.cert}`);
  strangerKey = await loadTrustedKey(`x509:${stranger.cert}`);
  caKey = await loadTrustedKey(`x509:${ca.cert}`);
  manifest = Buffer.from(JSON.stringify({
    version: '1.2.0', tag_name: 'v1.2.0', is_critical: true,
    files: [{ path: 'bin/themis_server', type: 'executable', sha256_hash: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', size_bytes: 0, platform: 'linux', architecture: 'x64', download_url: 'https://example.org/x' }],
  }, null, 2));
  manifestFile = path.join(dir, 'manifest.json');
  writeFileSync(manifestFile, manifest);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('CMS detached signatures made by openssl cms -sign -binary', () => {
  it('DER signature by the pinned signer certificate verifies', async () => {
    const der = cmsSign(manifestFile, signer);
    expect(der[0]).toBe(0x30);
    const r = await verifyCms(manifest, der, [strangerKey, signerKey]);
    expect(r.problems).toEqual([]);
    expect(r.signers).toEqual([signerKey.id]);
    expect(r.signerLabels).toEqual(['X.509 certificate "themis-release"']);
  });

  it('PEM form, and the bare base64 a JSON `signature` field carries, verify the same', async () => {
    const pem = cmsSign(manifestFile, signer, { pem: true });
    expect(pem.toString('utf8')).toMatch(/^-----BEGIN CMS-----/);
    expect((await verifyCms(manifest, pem, [signerKey])).signers).toEqual([signerKey.id]);
    const b64 = cmsSign(manifestFile, signer).toString('base64');
    expect((await verifyCms(manifest, b64, [signerKey])).signers).toEqual([signerKey.id]);
    expect(cmsDer(pem)![0]).toBe(0x30);
    expect(cmsDer(Buffer.from(b64))).toEqual(Buffer.from(b64, 'base64'));
  });

  it('tampered data is refused', async () => {
    const der = cmsSign(manifestFile, signer);
    const tampered = Buffer.from(manifest.toString('utf8').replace('"is_critical": true', '"is_critical": false'));
    const r = await verifyCms(tampered, der, [signerKey]);
    expect(r.signers).toEqual([]);
    expect(r.problems[0]).toMatch(/CMS signer 1: Message digest doesn't match/);
    await expect(Promise.resolve().then(() => requireThreshold([r], 1, 'manifest 1.2.0'))).rejects.toMatchObject({ code: 'ERR_SIGNATURE_INVALID' });
  });

  it('a signature by an untrusted signer is refused, naming its subject', async () => {
    const der = cmsSign(manifestFile, stranger);
    const r = await verifyCms(manifest, der, [signerKey]);
    expect(r.signers).toEqual([]);
    expect(r.problems[0]).toMatch(/CMS signature by "stranger": its certificate is not a trusted certificate nor issued by one/);
    expect((await verifyCms(manifest, der, [])).problems[0]).toMatch(/no x509 certificate is trusted/);
  });

  it('a signer issued by a trusted CA verifies and counts as the CA', async () => {
    const der = cmsSign(manifestFile, leaf);
    const r = await verifyCms(manifest, der, [caKey]);
    expect(r.problems).toEqual([]);
    expect(r.signers).toEqual([caKey.id]);
    expect((await verifyCms(manifest, der, [signerKey])).signers).toEqual([]);
  });

  it('a signature without embedded certificates (-nocerts) verifies against the pinned certificate', async () => {
    const der = cmsSign(manifestFile, signer, { noCerts: true });
    expect((await verifyCms(manifest, der, [signerKey])).signers).toEqual([signerKey.id]);
    expect((await verifyCms(manifest, der, [strangerKey])).signers).toEqual([]);
  });

  it('certificates are checked at the verification time: after expiry the signature is refused', async () => {
    const der = cmsSign(manifestFile, signer);
    const later = new Date(Date.now() + 60 * 86_400_000);
    const r = await verifyCms(manifest, der, [signerKey], { now: later });
    expect(r.signers).toEqual([]);
    expect(r.problems[0]).toMatch(/CMS signature by "themis-release": the trusted certificate X.509 certificate "themis-release" is not valid at/);
  });

  it('the signer certificate must allow code signing when it has an Extended Key Usage (serverAuth only is refused)', async () => {
    const tls = makeCert(dir, 'themis-tls', { ca, eku: 'serverAuth' });
    const tlsSigned = await verifyCms(manifest, cmsSign(manifestFile, tls), [caKey]);
    expect(tlsSigned.signers).toEqual([]);
    expect(tlsSigned.problems[0]).toMatch(/CMS signature by "themis-tls": its Extended Key Usage \(1\.3\.6\.1\.5\.5\.7\.3\.1\) does not include code signing \(1\.3\.6\.1\.5\.5\.7\.3\.3\)/);
    await expect(Promise.resolve().then(() => requireThreshold([tlsSigned], 1, 'manifest'))).rejects.toMatchObject({ code: 'ERR_SIGNATURE_INVALID' });
    // Pinned directly, a serverAuth-only certificate is refused the same way.
    const pinnedTls = makeCert(dir, 'pinned-tls', { eku: 'serverAuth,clientAuth' });
    const r = await verifyCms(manifest, cmsSign(manifestFile, pinnedTls), [await loadTrustedKey(`x509:${pinnedTls.cert}`)]);
    expect(r.signers).toEqual([]);
    expect(r.problems[0]).toMatch(/does not include code signing/);
    // codeSigning (alone or among others) is accepted.
    for (const eku of ['codeSigning', 'serverAuth,codeSigning']) {
      const ok = makeCert(dir, `themis-build-${eku.replace(',', '-')}`, { ca, eku });
      expect((await verifyCms(manifest, cmsSign(manifestFile, ok), [caKey])).signers).toEqual([caKey.id]);
    }
  });

  it('a signer certificate whose Key Usage allows no signatures is refused', async () => {
    const kex = makeCert(dir, 'themis-kex', { ca, keyUsage: 'keyAgreement' });
    const r = await verifyCms(manifest, cmsSign(manifestFile, kex), [caKey]);
    expect(r.signers).toEqual([]);
    expect(r.problems[0]).toMatch(/its Key Usage allows neither digitalSignature nor nonRepudiation/);
    const nr = makeCert(dir, 'themis-nr', { ca, keyUsage: 'nonRepudiation' });
    expect((await verifyCms(manifest, cmsSign(manifestFile, nr), [caKey])).signers).toEqual([caKey.id]);
  });

  it("the signer certificate's own validity is judged at the injected time, even when the pinned certificate over its key is still valid", async () => {
    const long = makeCert(dir, 'themis-long', { days: 30 });
    const short = makeCert(dir, 'themis-short', { days: 1, keyFile: long.key });
    const pinned = await loadTrustedKey(`x509:${long.cert}`);
    const der = cmsSign(manifestFile, short);
    expect((await verifyCms(manifest, der, [pinned], { now: new Date() })).signers).toEqual([pinned.id]);
    const later = await verifyCms(manifest, der, [pinned], { now: new Date(Date.now() + 2 * 86_400_000) });
    expect(later.signers).toEqual([]);
    expect(later.problems[0]).toMatch(/CMS signature by "themis-short": its certificate is not valid at .* \(valid from .* to .*\)/);
    const before = await verifyCms(manifest, der, [pinned], { now: new Date(Date.now() - 2 * 86_400_000) });
    expect(before.signers).toEqual([]);
  });

  it('two signers in one SignedData count as two distinct trusted keys', async () => {
    const der = cmsSign(manifestFile, signer, { extraSigner: stranger });
    const r = await verifyDetachedSignature(manifest, der, [signerKey, strangerKey]);
    expect(r.kind).toBe('cms');
    expect(requireThreshold([r], 2, 'manifest').sort()).toEqual([signerKey.id, strangerKey.id].sort());
    const onlyOne = await verifyCms(manifest, der, [signerKey]);
    expect(() => requireThreshold([onlyOne], 2, 'manifest')).toThrow(expect.objectContaining({ code: 'ERR_SIGNATURE_THRESHOLD' }));
  });

  it('garbage, truncated DER and non-SignedData are refused without throwing; the format is sniffed', async () => {
    const der = cmsSign(manifestFile, signer);
    expect(detectSignatureKind(der)).toBe('cms');
    for (const bad of [Buffer.from('hello'), der.subarray(0, der.length - 10), Buffer.concat([der, Buffer.from([0])]), Buffer.from('3003020101', 'hex'), Buffer.alloc(0)]) {
      const r = await verifyCms(manifest, bad, [signerKey]);
      expect(r.signers).toEqual([]);
      expect(r.problems).toHaveLength(1);
    }
  });
});
