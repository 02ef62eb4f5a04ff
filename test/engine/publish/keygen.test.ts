import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { sign } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { keygen } from '../../../src-main/engine/publish/keygen';
import { parsePrivateKey, parsePublicKey } from '../../../src-main/engine/trust/keys';
import { verifyEd25519 } from '../../../src-main/engine/trust/dsse';

let tmp: string;
beforeEach(async () => {
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'upkeep-keygen-'));
});
afterEach(async () => {
  await fsp.rm(tmp, { recursive: true, force: true });
});

describe('keygen', () => {
  it('writes a 0600 PKCS#8 key and its one-line public key into a new 0700 directory', async () => {
    const dir = path.join(tmp, 'nested', 'keys');
    const r = await keygen(dir);
    expect(r.keyPath).toBe(path.join(dir, 'upkeep.key'));
    expect(r.pubPath).toBe(path.join(dir, 'upkeep.pub'));
    if (process.platform !== 'win32') {
      expect((await fsp.stat(r.keyPath)).mode & 0o777).toBe(0o600);
      expect((await fsp.stat(dir)).mode & 0o777).toBe(0o700);
    }
    const pem = await fsp.readFile(r.keyPath, 'utf8');
    expect(pem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    const pubText = await fsp.readFile(r.pubPath, 'utf8');
    expect(pubText).toBe(r.publicLine + '\n');
    expect(pubText).toMatch(/^ed25519:[A-Za-z0-9+/]{43}=\n$/);
    const priv = parsePrivateKey(pem);
    const pub = parsePublicKey(pubText);
    expect(pub.keyid).toBe(r.keyid);
    expect(priv.publicKey.keyid).toBe(r.keyid);
    const msg = Buffer.from('hello');
    expect(verifyEd25519(pub, msg, sign(null, msg, priv.key))).toBe(true);
  });

  it('never overwrites an existing key', async () => {
    const first = await keygen(tmp);
    const pem = await fsp.readFile(first.keyPath, 'utf8');
    await expect(keygen(tmp)).rejects.toMatchObject({ code: 'ERR_USAGE' });
    expect(await fsp.readFile(first.keyPath, 'utf8')).toBe(pem);
    // A lone public key is protected too, and no private key is left behind by the refusal.
    const other = path.join(tmp, 'other');
    await fsp.mkdir(other);
    await fsp.writeFile(path.join(other, 'upkeep.pub'), 'ed25519:keep-me\n');
    await expect(keygen(other)).rejects.toMatchObject({ code: 'ERR_USAGE' });
    expect(await fsp.readdir(other)).toEqual(['upkeep.pub']);
    expect(await fsp.readFile(path.join(other, 'upkeep.pub'), 'utf8')).toBe('ed25519:keep-me\n');
  });

  it('refuses an --out that is a file', async () => {
    const file = path.join(tmp, 'file');
    await fsp.writeFile(file, 'x');
    await expect(keygen(file)).rejects.toMatchObject({ code: 'ERR_USAGE' });
  });

  it('makes a different key each time', async () => {
    const a = await keygen(path.join(tmp, 'a'));
    const b = await keygen(path.join(tmp, 'b'));
    expect(a.keyid).not.toBe(b.keyid);
  });
});
