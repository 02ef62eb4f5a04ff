/**
 * Thresholds over distinct trusted keys of any kind, and key rotation: releases signed by the old
 * and the new key for a period, then the old key removed from config, after which anything signed
 * only by the removed key is refused — for the native feed through the real CLI, and for detached
 * minisign/OpenPGP/CMS signatures made by the real tools.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { promises as fsp, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { distinctSigners, meetsThreshold, requireThreshold, type SignatureResult } from '../../../src-main/engine/trust/threshold';
import { verifyDetachedSignature } from '../../../src-main/engine/trust/signatures';
import { loadTrustedKeys, type TrustedKey } from '../../../src-main/engine/trust/trusted-keys';
import { runCli } from '../../helpers/cli';
import { snapshot, writeTree } from '../../helpers/tree';
import { cmsSign, makeCert, makeGpgKey, makeMinisignKey, type Cert, type GpgKey, type MinisignKey, stopGpgAgents } from './signing-tools';

const result = (signers: string[], problems: string[] = []): SignatureResult => ({ kind: 'minisign', signers, signerLabels: signers, problems });

describe('threshold of distinct trusted keys', () => {
  it('counts each key once across all results, whatever the kinds', () => {
    const rs = [result(['ed25519:a']), result(['openpgp:b', 'ed25519:a']), result([], ['bad']), result(['x509:c'])];
    expect(distinctSigners(rs)).toEqual(['ed25519:a', 'openpgp:b', 'x509:c']);
    expect(meetsThreshold(rs, 3)).toBe(true);
    expect(meetsThreshold(rs, 4)).toBe(false);
    expect(requireThreshold(rs, 3, 'app.tar.gz')).toEqual(['ed25519:a', 'openpgp:b', 'x509:c']);
  });

  it('no signature at all is ERR_SIGNATURE_MISSING; none valid ERR_SIGNATURE_INVALID (with the reasons); too few ERR_SIGNATURE_THRESHOLD', () => {
    expect(() => requireThreshold([], 1, 'app.tar.gz')).toThrow(expect.objectContaining({ code: 'ERR_SIGNATURE_MISSING', message: 'app.tar.gz has no signature, but trusted keys are configured' }));
    expect(() => requireThreshold([result([], ['sig by unknown key'])], 1, 'app.tar.gz')).toThrow(
      expect.objectContaining({ code: 'ERR_SIGNATURE_INVALID', message: 'app.tar.gz has no valid signature from a trusted key: sig by unknown key' }),
    );
    expect(() => requireThreshold([result(['ed25519:a']), result(['ed25519:a'])], 2, 'app.tar.gz')).toThrow(
      expect.objectContaining({ code: 'ERR_SIGNATURE_THRESHOLD', details: expect.objectContaining({ valid: 1, threshold: 2 }) }),
    );
    expect(meetsThreshold([result(['ed25519:a'])], 0)).toBe(true);
    expect(meetsThreshold([], 0)).toBe(false);
  });
});

describe('key rotation with detached signatures of every kind', () => {
  let dir: string;
  let oldMini: MinisignKey;
  let newPgp: GpgKey;
  let newCert: Cert;
  let file: string;
  let data: Buffer;

  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'upkeep-rotate-'));
    oldMini = makeMinisignKey(dir, 'old');
    newPgp = makeGpgKey(dir, 'new');
    newCert = makeCert(dir, 'new-cms');
    file = path.join(dir, 'app-2.0.0.tar.gz');
    data = Buffer.from('release 2.0.0 bytes\n'.repeat(1000));
    writeFileSync(file, data);
  });
  afterAll(() => {
    stopGpgAgents();
    rmSync(dir, { recursive: true, force: true });
  });

  const verifyAll = async (sigs: Buffer[], keys: TrustedKey[]): Promise<SignatureResult[]> => Promise.all(sigs.map((s) => verifyDetachedSignature(data, s, keys)));

  it('during the overlap both keys are trusted: either signature passes threshold 1, both are needed for threshold 2', async () => {
    const keys = await loadTrustedKeys([`minisign:${oldMini.line}`, `openpgp:${newPgp.pubFile}`]);
    const byOld = oldMini.sign(file);
    const byNew = readFileSync(newPgp.sign(file, true));
    expect(requireThreshold(await verifyAll([byOld], keys), 1, 'app')).toEqual([keys[0]!.id]);
    expect(requireThreshold(await verifyAll([byNew], keys), 1, 'app')).toEqual([keys[1]!.id]);
    expect(requireThreshold(await verifyAll([byOld, byNew], keys), 2, 'app')).toEqual([keys[0]!.id, keys[1]!.id]);
    await expect(verifyAll([byNew, byNew], keys).then((r) => requireThreshold(r, 2, 'app'))).rejects.toMatchObject({ code: 'ERR_SIGNATURE_THRESHOLD' });
  });

  it('after the old key is removed from config, a release signed only by it is refused; the new key still verifies', async () => {
    const keys = await loadTrustedKeys([`openpgp:${newPgp.pubFile}`, `x509:${newCert.cert}`]);
    const byOld = oldMini.sign(file);
    await expect(verifyAll([byOld], keys).then((r) => requireThreshold(r, 1, 'app-2.0.0.tar.gz'))).rejects.toMatchObject({
      code: 'ERR_SIGNATURE_INVALID',
      message: expect.stringMatching(/which is not a trusted minisign key/),
    });
    const byNew = [readFileSync(newPgp.sign(file, false)), cmsSign(file, newCert)];
    expect(requireThreshold(await verifyAll([byOld, ...byNew], keys), 2, 'app')).toEqual([keys[0]!.id, keys[1]!.id]);
  });
});

describe('key rotation of a native feed, through the real CLI', () => {
  let dir: string;
  let config: string;
  const install = (): string => path.join(dir, 'install');

  async function keygen(name: string): Promise<{ key: string; pub: string }> {
    const r = await runCli(['release', 'keygen', '--out', path.join(dir, name), '--json']);
    expect(r.code, r.stderr).toBe(0);
    return { key: path.join(dir, name, 'upkeep.key'), pub: String(r.json.public_key) };
  }

  async function publish(version: string, keys: string[]): Promise<void> {
    const build = path.join(dir, `build-${version}`);
    await writeTree(build, { 'bin/app': { data: `#!/bin/sh\necho ${version}\n`, mode: 0o755 }, 'VERSION': `${version}\n` });
    const r = await runCli(['release', 'publish', build, '--feed', path.join(dir, 'feed'), '--product', 'app', '--version', version, ...keys.flatMap((k) => ['--key', k]), '--json']);
    expect(r.code, r.stderr).toBe(0);
  }

  async function trust(pubs: string[]): Promise<void> {
    await fsp.writeFile(config, [
      'state_dir: ./state',
      'targets:',
      '  - id: app',
      '    kind: files',
      '    install_dir: ./install',
      '    product: app',
      `    feed: { url: ${JSON.stringify(path.join(dir, 'feed'))} }`,
      `    trust: { keys: [${pubs.map((p) => JSON.stringify(p)).join(', ')}], threshold: 1 }`,
      '',
    ].join('\n'));
  }

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'upkeep-rotate-feed-'));
    config = path.join(dir, 'upkeep.yaml');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('old key → old + new → new only; a feed re-signed only by the removed key is refused and nothing changes', async () => {
    const oldKey = await keygen('old');
    const newKey = await keygen('new');

    await publish('1.0.0', [oldKey.key]);
    await trust([oldKey.pub]);
    const a1 = await runCli(['--config', config, 'apply', '--json']);
    expect(a1.code, a1.stderr).toBe(0);

    // Overlap: releases signed by both keys; clients trust both.
    await publish('1.1.0', [oldKey.key, newKey.key]);
    await trust([oldKey.pub, newKey.pub]);
    const c1 = await runCli(['--config', config, 'check', '--json']);
    expect(c1.code, c1.stderr).toBe(0);
    expect(c1.json).toMatchObject({ latest_version: '1.1.0', update_available: true });

    // The old key is removed from config: the dual-signed feed still verifies with the new key alone.
    await trust([newKey.pub]);
    const a2 = await runCli(['--config', config, 'apply', '--json']);
    expect(a2.code, a2.stderr).toBe(0);
    expect(a2.json).toMatchObject({ success: true, version: '1.1.0' });
    const before = await snapshot(install());

    // Someone still holding the removed key publishes 1.2.0 signed by it alone.
    await publish('1.2.0', [oldKey.key]);
    const c2 = await runCli(['--config', config, 'check', '--json']);
    expect(c2.code).toBe(3);
    expect(c2.json?.error?.code ?? c2.stderr).toBe('ERR_SIGNATURE_INVALID');
    const a3 = await runCli(['--config', config, 'apply', '--json']);
    expect(a3.code).toBe(3);
    expect(await snapshot(install())).toEqual(before);
  });
});
