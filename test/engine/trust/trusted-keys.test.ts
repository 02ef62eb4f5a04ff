/**
 * `trust.keys` lines of every kind: parsing, stable ids, errors with codes and details, and
 * `upkeep config validate` reporting bad keys with file:line:col like any other config error.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { createHash, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadTrustedKey, loadTrustedKeys, parseKeyLine } from '../../../src-main/engine/trust/trusted-keys';
import { parseConfig, loadConfig } from '../../../src-main/engine/config/load';
import { runCli } from '../../helpers/cli';
import { makeCert, makeGpgKey, makeMinisignKey, type Cert, type GpgKey, type MinisignKey, stopGpgAgents } from './signing-tools';
import type { FilesTargetConfig } from '../../../src-main/engine/config/schema';

let dir: string;
let gpg: GpgKey;
let cert: Cert;
let mini: MinisignKey;
const edRaw = (): Buffer => generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' }).subarray(12);

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'upkeep-keys-'));
  gpg = makeGpgKey(dir, 'release');
  cert = makeCert(dir, 'signer');
  mini = makeMinisignKey(dir, 'mini');
});
afterAll(() => {
  stopGpgAgents();
  rmSync(dir, { recursive: true, force: true });
});

describe('trusted key lines', () => {
  it('ed25519: id is "ed25519:" + the hex SHA-256 of the raw key', async () => {
    const raw = edRaw();
    const k = await loadTrustedKey(`  ed25519:${raw.toString('base64')} `);
    expect(k.kind).toBe('ed25519');
    expect(k.id).toBe(`ed25519:${createHash('sha256').update(raw).digest('hex')}`);
  });

  it('minisign: the key line of a .pub made by minisign -G', async () => {
    const k = await loadTrustedKey(`minisign:${mini.line}`);
    expect(k.kind).toBe('minisign');
    const raw = Buffer.from(mini.line, 'base64');
    expect(k.id).toBe(`ed25519:${createHash('sha256').update(raw.subarray(10)).digest('hex')}`);
    // minisign's .pub comment prints the key number in hex without leading zeros; ours has 16 digits.
    const printed = /minisign public key ([0-9A-F]+)/.exec(readFileSync(mini.pubFile, 'utf8'))![1]!;
    expect(k.kind === 'minisign' && k.minisignKeyId).toBe(printed.padStart(16, '0'));
  });

  it('openpgp:FILE: an armored public key exported by gpg, relative to the base dir; id is the primary fingerprint', async () => {
    const k = await loadTrustedKey(`openpgp:${path.basename(gpg.pubFile)}`, { baseDir: dir });
    expect(k).toMatchObject({ kind: 'openpgp', id: `openpgp:${gpg.fingerprint.toLowerCase()}`, file: gpg.pubFile });
    expect(k.label).toBe(`OpenPGP key ${gpg.fingerprint}`);
  });

  it('x509:FILE: a PEM certificate (DER too); id is the SHA-256 of its SubjectPublicKeyInfo', async () => {
    const k = await loadTrustedKey(`x509:${cert.cert}`);
    const spki = new X509Certificate(readFileSync(cert.cert)).publicKey.export({ type: 'spki', format: 'der' });
    expect(k).toMatchObject({ kind: 'x509', id: `x509:${createHash('sha256').update(spki).digest('hex')}`, label: 'X.509 certificate "signer"' });
    const der = path.join(dir, 'signer.der');
    writeFileSync(der, new X509Certificate(readFileSync(cert.cert)).raw);
    expect((await loadTrustedKey(`x509:${der}`)).id).toBe(k.id);
  });

  it('refuses bad lines with ERR_KEY_INVALID and details naming the kind (and the length when that is wrong)', async () => {
    const raw = edRaw();
    const bad: Array<[string, Record<string, unknown>]> = [
      [raw.toString('base64'), { kind: null }],
      [`rsa:${raw.toString('base64')}`, { kind: 'rsa' }],
      [`ed25519:${raw.subarray(0, 31).toString('base64')}`, { kind: 'ed25519', length: 31 }],
      [`ed25519:${Buffer.concat([raw, raw]).toString('base64')}`, { kind: 'ed25519', length: 64 }],
      [`ed25519:${raw.toString('base64').replace(/=$/, '')}`, { kind: 'ed25519' }],
      [`minisign:${Buffer.from(mini.line, 'base64').subarray(0, 41).toString('base64')}`, { kind: 'minisign', length: 41 }],
      ['openpgp:', { kind: 'openpgp' }],
      [`openpgp:${path.join(dir, 'missing.asc')}`, { kind: 'openpgp' }],
      [`openpgp:${cert.cert}`, { kind: 'openpgp' }],
      [`x509:${gpg.pubFile}`, { kind: 'x509' }],
      [`x509:${dir}`, { kind: 'x509' }],
    ];
    for (const [line, details] of bad) {
      await expect(loadTrustedKey(line), line).rejects.toMatchObject({ code: 'ERR_KEY_INVALID', details });
    }
    expect(() => parseKeyLine(`ed25519:${raw.subarray(0, 16).toString('base64')}`)).toThrow(/An ed25519 key has 32 bytes, got 16/);
  });

  it('refuses an OpenPGP private key file and a file with two certificates', async () => {
    const secret = path.join(dir, 'secret.asc');
    writeFileSync(secret, '-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nxx\n-----END PGP PRIVATE KEY BLOCK-----\n');
    await expect(loadTrustedKey(`openpgp:${secret}`)).rejects.toThrow(/private key/);
    const two = path.join(dir, 'two.pem');
    writeFileSync(two, readFileSync(cert.cert, 'utf8') + readFileSync(cert.cert, 'utf8'));
    await expect(loadTrustedKey(`x509:${two}`)).rejects.toThrow(/holds 2 certificates/);
  });

  it('one key material listed twice (as ed25519 and as minisign) is refused, naming both lines', async () => {
    const raw = Buffer.from(mini.line, 'base64').subarray(10);
    await expect(loadTrustedKeys([`minisign:${mini.line}`, `x509:${cert.cert}`, `ed25519:${raw.toString('base64')}`])).rejects.toMatchObject({
      code: 'ERR_KEY_INVALID',
      message: expect.stringMatching(/trust.keys\[2\]: the same key as trust.keys\[0\]/),
      details: { index: 2, duplicate_of: 0 },
    });
    await expect(loadTrustedKeys(['ed25519:AAAA', `minisign:${mini.line}`])).rejects.toMatchObject({ details: { index: 0, kind: 'ed25519', length: 3 } });
  });
});

describe('config validation of trust keys', () => {
  const GITHUB = '{ type: github, repo: acme/app, asset: "app-{version}.tar.gz" }';
  const yaml = (keys: string[], feed = GITHUB): string => [
    'state_dir: ./state',
    'targets:',
    '  - id: app',
    '    kind: files',
    '    install_dir: ./install',
    '    product: app',
    `    feed: ${feed}`,
    '    trust:',
    '      keys:',
    ...keys.map((k) => `        - "${k}"`),
    '      threshold: 1',
    '',
  ].join('\n');

  it('syntax errors carry the line and column of the key (parseConfig, no file read)', () => {
    const text = yaml([`minisign:${mini.line}`, `ed25519:${edRaw().subarray(0, 20).toString('base64')}`]);
    expect(() => parseConfig(text, { file: '/etc/upkeep.yaml', dir: '/etc' })).toThrow(
      '/etc/upkeep.yaml:11:11: targets[0].trust.keys[1]: An ed25519 key has 32 bytes, got 20 (ERR_KEY_INVALID)',
    );
  });

  it('a native feed takes only ed25519 keys (it verifies DSSE Ed25519 signatures): another kind is reported at its line', () => {
    const text = yaml([`ed25519:${edRaw().toString('base64')}`, `minisign:${mini.line}`], '{ url: ./feed }');
    expect(() => parseConfig(text, { file: '/etc/upkeep.yaml', dir: '/etc' })).toThrow(
      '/etc/upkeep.yaml:11:11: targets[0].trust.keys[1]: a native feed verifies Ed25519 signatures: use an ed25519: key (got minisign:)',
    );
  });

  it('relative key files resolve against the config dir; loadConfig reads them and reports a bad one with its position', async () => {
    const cfgDir = path.join(dir, 'cfg');
    mkdirSync(cfgDir);
    writeFileSync(path.join(cfgDir, 'release.asc'), readFileSync(gpg.pubFile));
    writeFileSync(path.join(cfgDir, 'ca.pem'), readFileSync(cert.cert));
    const file = path.join(cfgDir, 'upkeep.yaml');
    writeFileSync(file, yaml(['openpgp:release.asc', 'x509:ca.pem']));
    const loaded = await loadConfig({ path: file, env: {} });
    expect((loaded.config.targets[0]! as FilesTargetConfig).trust!.keys).toEqual([`openpgp:${path.join(cfgDir, 'release.asc')}`, `x509:${path.join(cfgDir, 'ca.pem')}`]);

    writeFileSync(file, yaml(['openpgp:release.asc', 'x509:nowhere.pem']));
    await expect(loadConfig({ path: file, env: {} })).rejects.toMatchObject({
      code: 'ERR_CONFIG_INVALID',
      message: `${file}:11:11: targets[0].trust.keys[1]: Cannot read the x509 key file ${path.join(cfgDir, 'nowhere.pem')}: no such file (ERR_KEY_INVALID)`,
    });
  });

  it('`upkeep config validate` prints every bad key as file:line:col: path: message (ERR_KEY_INVALID) and exits 2', async () => {
    const file = path.join(dir, 'validate.yaml');
    writeFileSync(file, yaml([`minisign:${mini.line}`, `minisign:${mini.line.slice(0, 40)}`, 'pgp:release.asc']));
    const r = await runCli(['config', 'validate', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${file}:11:11: targets[0].trust.keys[1]: A minisign public key has 42 bytes, got 30 (ERR_KEY_INVALID)`);
    expect(r.stderr).toMatch(/validate\.yaml:12:11: targets\[0\]\.trust\.keys\[2\]: Unknown key kind "pgp" \(expected ed25519, minisign, openpgp or x509\) \(ERR_KEY_INVALID\)/);

    writeFileSync(file, yaml([`minisign:${mini.line}`, `openpgp:${path.basename(gpg.pubFile)}`, 'x509:missing.pem', `openpgp:${path.basename(cert.cert)}`]));
    const files = await runCli(['config', 'validate', file]);
    expect(files.code).toBe(2);
    expect(files.stderr).toContain(`${file}:12:11: targets[0].trust.keys[2]: Cannot read the x509 key file ${path.join(dir, 'missing.pem')}: no such file (ERR_KEY_INVALID)`);
    expect(files.stderr).toContain(`${file}:13:11: targets[0].trust.keys[3]: ${cert.cert} is not an OpenPGP public key`);

    writeFileSync(file, yaml([`minisign:${mini.line}`, `openpgp:${path.basename(gpg.pubFile)}`, `x509:${path.basename(cert.cert)}`]));
    const ok = await runCli(['config', 'validate', file]);
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('valid (1 target: app)');
  });
});
