/**
 * Detached signatures over files on disk: prehashed minisign streamed through BLAKE2b-512, the other
 * formats read whole; same verdicts as the byte verifiers, on a 24 MiB artifact signed by the real
 * tools.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { blake2b512File, verifyDetachedSignatureFile } from '../../../src-main/engine/trust/file-signatures';
import { verifyMinisign } from '../../../src-main/engine/trust/minisign';
import { loadTrustedKeys, type TrustedKey } from '../../../src-main/engine/trust/trusted-keys';
import { cmsSign, makeCert, makeGpgKey, makeMinisignKey, type Cert, type GpgKey, type MinisignKey, stopGpgAgents } from './signing-tools';

let dir: string;
let file: string;
let mini: MinisignKey;
let gpg: GpgKey;
let cert: Cert;
let keys: TrustedKey[];

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'upkeep-filesig-'));
  file = path.join(dir, 'app-3.0.0.tar.gz');
  writeFileSync(file, randomBytes(24 * 1024 * 1024));
  mini = makeMinisignKey(dir, 'm');
  gpg = makeGpgKey(dir, 'g');
  cert = makeCert(dir, 'c');
  keys = await loadTrustedKeys([`minisign:${mini.line}`, `openpgp:${gpg.pubFile}`, `x509:${cert.cert}`]);
});
afterAll(() => {
  stopGpgAgents();
  rmSync(dir, { recursive: true, force: true });
});

describe('signatures over files', () => {
  it('streams BLAKE2b-512 exactly like hashing the bytes', async () => {
    expect(await blake2b512File(file)).toEqual(createHash('blake2b512').update(readFileSync(file)).digest());
  });

  it('each kind verifies over the file and names the same signer as the byte verifier', async () => {
    const sigs = [mini.sign(file), mini.sign(file, { legacy: true }), readFileSync(gpg.sign(file, false)), cmsSign(file, cert)];
    const ids = [keys[0]!.id, keys[0]!.id, keys[1]!.id, keys[2]!.id];
    for (const [i, sig] of sigs.entries()) {
      const r = await verifyDetachedSignatureFile(file, sig, keys);
      expect(r.problems, `signature ${i}`).toEqual([]);
      expect(r.signers).toEqual([ids[i]]);
    }
  });

  it('a file changed after signing is refused by every kind', async () => {
    const sigs = [mini.sign(file), mini.sign(file, { legacy: true }), readFileSync(gpg.sign(file, true)), cmsSign(file, cert)];
    appendFileSync(file, Buffer.from([0]));
    try {
      for (const sig of sigs) expect((await verifyDetachedSignatureFile(file, sig, keys)).signers).toEqual([]);
    } finally {
      writeFileSync(file, readFileSync(file).subarray(0, 24 * 1024 * 1024));
    }
    expect((await verifyDetachedSignatureFile(file, sigs[0]!, keys)).signers).toEqual([keys[0]!.id]);
  });

  it('a digest alone never verifies a legacy Ed signature (it signs the whole message)', async () => {
    const legacy = mini.sign(file, { legacy: true });
    const r = verifyMinisign({ blake2b512: await blake2b512File(file) }, legacy, keys);
    expect(r.signers).toEqual([]);
    expect(r.problems[0]).toMatch(/does not match the data \(algorithm Ed\)/);
  });
});
