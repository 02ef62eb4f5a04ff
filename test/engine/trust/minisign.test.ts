/**
 * minisign against the public vectors (../shared/vectors/minisign, verdicts from its SOURCES.md)
 * and cross-checked with Debian's `minisign` binary in both directions.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import fc from 'fast-check';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { minisignChecks, parseMinisignSignature, verifyMinisign } from '../../../src-main/engine/trust/minisign';
import { loadTrustedKey, loadTrustedKeys, parseMinisignPublicKey, type MinisignTrustedKey, type TrustedKey } from '../../../src-main/engine/trust/trusted-keys';
import { requireThreshold } from '../../../src-main/engine/trust/threshold';

const DIR = path.resolve(process.cwd(), '../shared/vectors/minisign');
const read = (name: string): Buffer => readFileSync(path.join(DIR, name));
const pubLine = (name: string): string => read(name).toString('utf8').split('\n')[1]!.trim();

const TEST_TXT = read('test.txt');
const POSITIVES = ['test.txt.legacy-rust.minisig', 'test.txt.prehashed-rust.minisig', 'test.txt.legacy-go.minisig', 'test.txt.prehashed-go.minisig'];
const NEGATIVES = [
  'derived-negative/test.txt.tampered-trusted-comment.minisig',
  'derived-negative/test.txt.wrong-keyid.minisig',
  'derived-negative/test.txt.alg-relabel-ED-to-Ed.minisig',
  'derived-negative/test.txt.sig-bitflip.minisig',
  'derived-negative/test.txt.missing-trusted-comment.minisig',
];

let jedisct1: TrustedKey;
let aead: TrustedKey;
let tauri: TrustedKey;
let tauriOther: TrustedKey;

beforeAll(async () => {
  jedisct1 = await loadTrustedKey(`minisign:${pubLine('minisign.pub')}`);
  aead = await loadTrustedKey(`minisign:${pubLine('aead-minisign/minisign.pub')}`);
  tauri = await loadTrustedKey(`minisign:${read('tauri-format/tauri-pubkey.b64').toString('utf8').trim()}`);
  tauriOther = await loadTrustedKey(`minisign:${read('tauri-format/other-repo-pubkey.b64').toString('utf8').trim()}`);
});

describe('minisign public keys', () => {
  it('parses the key line and prints the key id minisign prints', () => {
    expect(jedisct1.kind).toBe('minisign');
    expect((jedisct1 as MinisignTrustedKey).minisignKeyId).toBe('E7620F1842B4E81F');
    expect((aead as MinisignTrustedKey).minisignKeyId).toBe('C373193807678450');
    expect(jedisct1.label).toBe('minisign key E7620F1842B4E81F');
    expect(jedisct1.id).toMatch(/^ed25519:[0-9a-f]{64}$/);
  });

  it("accepts Tauri's base64-wrapped .pub and a whole .pub file, giving the same key as the bare line", async () => {
    const bare = await loadTrustedKey(`minisign:${pubLine('tauri-format/decoded.pub')}`);
    expect(tauri.id).toBe(bare.id);
    expect((tauri as MinisignTrustedKey).minisignKeyId).toBe('D3CCFB8F9467840D');
    expect(parseMinisignPublicKey(read('tauri-format/decoded.pub').toString('utf8')).publicKey.keyid).toBe(bare.id.slice('ed25519:'.length));
    expect(tauriOther.id).not.toBe(tauri.id);
  });

  it('refuses bad key lines with ERR_KEY_INVALID naming kind and length', async () => {
    const line = pubLine('minisign.pub');
    const raw = Buffer.from(line, 'base64');
    const cases: Array<[string, Record<string, unknown>]> = [
      [`minisign:${raw.subarray(0, 40).toString('base64')}`, { kind: 'minisign', length: 40 }],
      [`minisign:${Buffer.concat([raw, Buffer.from([0])]).toString('base64')}`, { kind: 'minisign', length: 43 }],
      [`minisign:${Buffer.concat([Buffer.from('Ex'), raw.subarray(2)]).toString('base64')}`, { kind: 'minisign' }],
      [`minisign:${line.slice(0, 20)}!${line.slice(21)}`, { kind: 'minisign' }],
      ['minisign:', { kind: 'minisign' }],
    ];
    for (const [text, details] of cases) {
      await expect(loadTrustedKey(text), text).rejects.toMatchObject({ code: 'ERR_KEY_INVALID', details });
    }
  });
});

describe('minisign vectors (SOURCES.md verdicts)', () => {
  it.each(POSITIVES)('%s verifies (message and global signature, key id)', (name) => {
    const r = verifyMinisign(TEST_TXT, read(name), [jedisct1]);
    expect(r.problems).toEqual([]);
    expect(r.signers).toEqual([jedisct1.id]);
    expect(r.trustedComment).toMatch(/^timestamp:\d+\tfile:test/);
    expect(requireThreshold([r], 1, 'test.txt')).toEqual([jedisct1.id]);
  });

  it('reads the algorithm of each positive: Ed (legacy) and ED (BLAKE2b-512 prehashed)', () => {
    expect(parseMinisignSignature(read('test.txt.legacy-rust.minisig')).algorithm).toBe('Ed');
    expect(parseMinisignSignature(read('test.txt.prehashed-go.minisig')).algorithm).toBe('ED');
  });

  it.each(POSITIVES)('%s does not verify other bytes', (name) => {
    const r = verifyMinisign(Buffer.from('test\n'), read(name), [jedisct1]);
    expect(r.signers).toEqual([]);
    expect(r.problems[0]).toMatch(/does not match the data/);
  });

  it.each(NEGATIVES)('%s is refused', (name) => {
    const r = verifyMinisign(TEST_TXT, read(name), [jedisct1]);
    expect(r.signers).toEqual([]);
    expect(r.problems).toHaveLength(1);
    expect(() => requireThreshold([r], 1, 'test.txt')).toThrow(expect.objectContaining({ code: 'ERR_SIGNATURE_INVALID' }));
  });

  it('each negative fails for the reason SOURCES.md gives', () => {
    const why = (name: string): string => verifyMinisign(TEST_TXT, read(`derived-negative/test.txt.${name}.minisig`), [jedisct1]).problems[0]!;
    expect(why('tampered-trusted-comment')).toMatch(/global signature invalid/);
    expect(why('wrong-keyid')).toMatch(/key E7620F1842B4E81E, which is not a trusted minisign key/);
    expect(why('alg-relabel-ED-to-Ed')).toMatch(/does not match the data \(algorithm Ed\)/);
    expect(why('sig-bitflip')).toMatch(/does not match the data/);
    expect(why('missing-trusted-comment')).toMatch(/Malformed minisign signature: expected 4 lines/);
    // The relabelled file's global signature alone still verifies: the algorithm bytes are not covered.
    const relabelled = parseMinisignSignature(read('derived-negative/test.txt.alg-relabel-ED-to-Ed.minisig'));
    expect(minisignChecks(TEST_TXT, relabelled, jedisct1 as MinisignTrustedKey)).toEqual({ keyIdMatches: true, messageSignatureOk: false, globalSignatureOk: true });
  });

  it('minisign-0.9.tar.gz.minisig: the global signature over the trusted comment verifies (the tarball is not included)', () => {
    const sig = parseMinisignSignature(read('minisign-0.9.tar.gz.minisig'));
    expect(sig.trustedComment).toBe('timestamp:1591521248\tfile:minisign-0.9.tar.gz');
    const c = minisignChecks(Buffer.from('not the tarball'), sig, jedisct1 as MinisignTrustedKey);
    expect(c).toEqual({ keyIdMatches: true, messageSignatureOk: false, globalSignatureOk: true });
  });

  it('aead/minisign message.txt verifies with its own key and not with another', () => {
    const msg = read('aead-minisign/message.txt');
    const sig = read('aead-minisign/message.txt.minisig');
    expect(verifyMinisign(msg, sig, [jedisct1, aead]).signers).toEqual([aead.id]);
    expect(verifyMinisign(msg, sig, [jedisct1]).problems[0]).toMatch(/C373193807678450, which is not a trusted minisign key/);
  });

  it('parses the CRLF signature file (robtest.ps1.minisig) with no CR left in the comments', () => {
    const sig = parseMinisignSignature(read('aead-minisign/robtest.ps1.minisig'));
    expect(sig.trustedComment).toBe('timestamp:1617721023\tfile:robtest.ps1');
    expect(sig.untrustedComment).toBe('signature from minisign secret key');
    expect(sig.algorithm).toBe('Ed');
    expect(sig.signature).toHaveLength(64);
  });

  it("Tauri's base64-wrapped sample.bin.sig (ED) verifies with its key and is refused with the other repository's key", () => {
    const data = read('tauri-format/sample.bin');
    const wrapped = read('tauri-format/sample.bin.sig');
    const ok = verifyMinisign(data, wrapped, [tauri]);
    expect(ok.signers).toEqual([tauri.id]);
    expect(ok.trustedComment).toBe('timestamp:1787861770\tfile:sample.bin');
    expect(verifyMinisign(data, read('tauri-format/decoded.minisig'), [tauri]).signers).toEqual([tauri.id]);
    expect(verifyMinisign(data, wrapped, [tauriOther]).signers).toEqual([]);
  });

  it('a CRLF copy of a positive still verifies; an edit of the untrusted comment does not matter', () => {
    const crlf = read('test.txt.prehashed-rust.minisig').toString('latin1').replace(/\n/g, '\r\n');
    expect(verifyMinisign(TEST_TXT, crlf, [jedisct1]).signers).toEqual([jedisct1.id]);
    const edited = read('test.txt.prehashed-rust.minisig').toString('utf8').replace('signature from minisign secret key', 'anything');
    expect(verifyMinisign(TEST_TXT, edited, [jedisct1]).signers).toEqual([jedisct1.id]);
  });

  it('refuses garbage, truncation and oversized input without throwing', () => {
    const good = read('test.txt.legacy-rust.minisig').toString('utf8');
    for (const bad of ['', 'hello', good.slice(0, 120), good.replace('\ntrusted comment: ', '\ntrusted comment:'), `${good}extra line\n`, 'x'.repeat(70_000)]) {
      const r = verifyMinisign(TEST_TXT, bad, [jedisct1]);
      expect(r.signers).toEqual([]);
      expect(r.problems[0]).toMatch(/Malformed minisign signature/);
    }
  });

  it('every single-character change after the untrusted comment is refused (signature, key id, algorithm, trusted comment, global signature)', () => {
    const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
    for (const name of ['test.txt.legacy-rust.minisig', 'test.txt.prehashed-rust.minisig']) {
      const text = read(name).toString('latin1');
      const start = text.indexOf('\n') + 1;
      let tried = 0;
      for (let i = start; i < text.length - 1; i++) {
        const c = text[i]!;
        const other = c === '\n' ? ' ' : B64[(B64.indexOf(c) + 1) % 64] ?? 'x';
        const mutated = text.slice(0, i) + other + text.slice(i + 1);
        expect(verifyMinisign(TEST_TXT, mutated, [jedisct1]).signers, `${name} @${i}`).toEqual([]);
        tried++;
      }
      expect(tried).toBeGreaterThan(200);
    }
  });

  it('random bytes never verify and never throw', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => verifyMinisign(TEST_TXT, bytes, [jedisct1]).signers.length === 0), { numRuns: 300 });
  });

  it('a signature checks only against minisign keys (an ed25519 line of the same key has no key number)', async () => {
    const [ed] = await loadTrustedKeys([`ed25519:${Buffer.from(pubLine('minisign.pub'), 'base64').subarray(10).toString('base64')}`]);
    expect(ed!.id).toBe(jedisct1.id);
    expect(verifyMinisign(TEST_TXT, read(POSITIVES[0]!), [ed!]).signers).toEqual([]);
  });
});

describe("cross-checked with Debian's minisign binary", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'upkeep-minisign-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const run = (args: string[]): { status: number | null; out: string } => {
    const r = spawnSync('minisign', args, { cwd: dir, encoding: 'utf8' });
    return { status: r.status, out: `${r.stdout}${r.stderr}` };
  };

  it('signatures made by `minisign -S` (prehashed and legacy -l) verify with ours; tampering and other keys are refused', async () => {
    execFileSync('minisign', ['-G', '-W', '-p', 'a.pub', '-s', 'a.key'], { cwd: dir, stdio: 'pipe' });
    execFileSync('minisign', ['-G', '-W', '-p', 'b.pub', '-s', 'b.key'], { cwd: dir, stdio: 'pipe' });
    const data = randomBytes(100_000);
    writeFileSync(path.join(dir, 'app.tar.gz'), data);
    execFileSync('minisign', ['-S', '-s', 'a.key', '-m', 'app.tar.gz', '-x', 'app.ED.minisig', '-t', 'release 1.2.0'], { cwd: dir, stdio: 'pipe' });
    execFileSync('minisign', ['-S', '-l', '-s', 'a.key', '-m', 'app.tar.gz', '-x', 'app.Ed.minisig'], { cwd: dir, stdio: 'pipe' });
    const keyA = await loadTrustedKey(`minisign:${readFileSync(path.join(dir, 'a.pub'), 'utf8').split('\n')[1]}`);
    const keyB = await loadTrustedKey(`minisign:${readFileSync(path.join(dir, 'b.pub'), 'utf8').split('\n')[1]}`);
    const ed = readFileSync(path.join(dir, 'app.ED.minisig'));
    const legacy = readFileSync(path.join(dir, 'app.Ed.minisig'));
    expect(parseMinisignSignature(ed).algorithm).toBe('ED');
    expect(parseMinisignSignature(legacy).algorithm).toBe('Ed');
    const good = verifyMinisign(data, ed, [keyB, keyA]);
    expect(good.signers).toEqual([keyA.id]);
    expect(good.trustedComment).toBe('release 1.2.0');
    expect(verifyMinisign(data, legacy, [keyA]).signers).toEqual([keyA.id]);
    const tampered = Buffer.from(data);
    tampered[5000] = tampered[5000]! ^ 1;
    expect(verifyMinisign(tampered, ed, [keyA]).signers).toEqual([]);
    expect(verifyMinisign(tampered, legacy, [keyA]).signers).toEqual([]);
    expect(verifyMinisign(data, ed, [keyB]).problems[0]).toMatch(/not a trusted minisign key/);
  });

  it('a .minisig composed with node:crypto per the format verifies with `minisign -V`, and minisign agrees with every vector verdict', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const pk = publicKey.export({ format: 'der', type: 'spki' }).subarray(12);
    const keyNum = randomBytes(8);
    writeFileSync(path.join(dir, 'n.pub'), `untrusted comment: minisign public key\n${Buffer.concat([Buffer.from('Ed'), keyNum, pk]).toString('base64')}\n`);
    const data = Buffer.from('payload bytes\n');
    writeFileSync(path.join(dir, 'n.bin'), data);
    const sig = sign(null, createHash('blake2b512').update(data).digest(), privateKey);
    const comment = 'timestamp:1700000000\tfile:n.bin';
    const global = sign(null, Buffer.concat([sig, Buffer.from(comment)]), privateKey);
    const file = `untrusted comment: made by a test\n${Buffer.concat([Buffer.from('ED'), keyNum, sig]).toString('base64')}\ntrusted comment: ${comment}\n${global.toString('base64')}\n`;
    writeFileSync(path.join(dir, 'n.bin.minisig'), file);
    const v = run(['-V', '-p', 'n.pub', '-m', 'n.bin']);
    expect(v.out).toContain('Signature and comment signature verified');
    expect(v.status).toBe(0);

    // The reverse over the vectors: minisign's verdict equals ours for each file.
    const key = `-P${pubLine('minisign.pub')}`;
    for (const name of [...POSITIVES, ...NEGATIVES]) {
      const theirs = run(['-V', key, '-m', path.join(DIR, 'test.txt'), '-x', path.join(DIR, name)]).status === 0;
      const ours = verifyMinisign(TEST_TXT, read(name), [jedisct1]).signers.length === 1;
      expect({ name, ours }).toEqual({ name, ours: theirs });
      expect(ours).toBe(POSITIVES.includes(name));
    }
  });
});
