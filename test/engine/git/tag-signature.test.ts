import { beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { GitTargetSchema } from '../../../src-main/engine/config/schema';
import { GitCli } from '../../../src-main/engine/git/git-cli';
import { GitFeed } from '../../../src-main/engine/git/git-feed';
import { splitTagObject, tagVerifier } from '../../../src-main/engine/git/tag-signature';
import { deploy, git, gitFixture, type GitFixture } from './git-fixture';

let fx: GitFixture;
let keys: string;

function sshKey(name: string): { priv: string; pub: string } {
  const priv = path.join(keys, name);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', priv]);
  return { priv, pub: readText(`${priv}.pub`) };
}
const readText = (f: string) => require('node:fs').readFileSync(f, 'utf8').trim() as string;

function gpgKey(home: string, email: string): string {
  execFileSync('gpg', ['--homedir', home, '--batch', '--pinentry-mode', 'loopback', '--passphrase', '', '--quick-gen-key', email, 'ed25519', 'sign', '1d'], { stdio: 'ignore' });
  const file = path.join(keys, `${email}.asc`);
  require('node:fs').writeFileSync(file, execFileSync('gpg', ['--homedir', home, '--armor', '--export', email]));
  return file;
}

beforeAll(async () => {
  fx = await gitFixture();
  keys = path.join(fx.root, 'keys');
  await fsp.mkdir(keys, { mode: 0o700 });
  const trusted = sshKey('release-signer');
  const stranger = sshKey('stranger');
  await fsp.writeFile(path.join(keys, 'allowed_signers'), `bot@example.test namespaces="git" ${trusted.pub}\n`);
  const gpgHome = path.join(fx.root, 'gnupg');
  await fsp.mkdir(gpgHome, { mode: 0o700 });
  gpgKey(gpgHome, 'pgp-signer@example.test');
  const otherHome = path.join(fx.root, 'gnupg-other');
  await fsp.mkdir(otherHome, { mode: 0o700 });
  gpgKey(otherHome, 'pgp-other@example.test');
  await fx.release('v1.0.0', { 'a.txt': '1\n' });
  await fx.release('v1.1.0', { 'a.txt': '1.1\n' }, 'signed by the release key', ['-s'], ['gpg.format=ssh', `user.signingkey=${trusted.priv}`]);
  await fx.release('v1.2.0', { 'a.txt': '1.2\n' }, 'signed by a stranger', ['-s'], ['gpg.format=ssh', `user.signingkey=${stranger.priv}`]);
  await fx.release('v1.3.0', { 'a.txt': '1.3\n' }, 'not signed');
  process.env.GNUPGHOME = gpgHome;
  await fx.release('v1.4.0', { 'a.txt': '1.4\n' }, 'pgp signed', ['-u', 'pgp-signer@example.test', '-s']);
  process.env.GNUPGHOME = otherHome;
  await fx.release('v1.5.0', { 'a.txt': '1.5\n' }, 'pgp by another key', ['-u', 'pgp-other@example.test', '-s']);
  delete process.env.GNUPGHOME;
  await deploy(fx, 'v1.0.0');
});

function feed(trust: Record<string, unknown>) {
  const t = GitTargetSchema.parse({ id: 'app', kind: 'git', install_dir: fx.installDir, trust: { signed_tags: trust } });
  const cli = new GitCli({ cwd: fx.installDir, timeoutMs: 30_000 });
  return new GitFeed(t, { git: cli, channel: 'stable', verifyTag: tagVerifier(t, cli, keys) });
}

describe('signed git tags', () => {
  it('accepts a tag signed with an SSH key in the allowed-signers file and marks the release signed', async () => {
    expect(await feed({ ssh_allowed_signers: 'allowed_signers' }).release('1.1.0')).toMatchObject({ version: '1.1.0', verification: 'signed' });
  });

  it.each([
    ['signed by a key not in allowed_signers', '1.2.0', 'ERR_SIGNATURE_INVALID'],
    ['unsigned', '1.3.0', 'ERR_SIGNATURE_MISSING'],
    ['OpenPGP-signed while only SSH keys are trusted', '1.4.0', 'ERR_SIGNATURE_INVALID'],
  ])('refuses a tag %s', async (_n, version, code) => {
    await expect(feed({ ssh_allowed_signers: 'allowed_signers' }).release(version)).rejects.toMatchObject({ code });
  });

  it('verifies OpenPGP-signed tags with the openpgp package against configured public keys', async () => {
    const f = feed({ openpgp_keys: ['pgp-signer@example.test.asc'] });
    expect(await f.release('1.4.0')).toMatchObject({ verification: 'signed' });
    await expect(f.release('1.5.0')).rejects.toMatchObject({ code: 'ERR_SIGNATURE_INVALID' });
    await expect(f.release('1.3.0')).rejects.toMatchObject({ code: 'ERR_SIGNATURE_MISSING' });
  });

  it('splits a tag object into payload and signature the way git signs it', () => {
    const text = git(fx.installDir, 'cat-file', 'tag', 'v1.4.0') + '\n';
    const split = splitTagObject(text);
    expect(split?.kind).toBe('openpgp');
    expect(split?.payload.endsWith('pgp signed\n')).toBe(true);
    expect(splitTagObject(git(fx.installDir, 'cat-file', 'tag', 'v1.3.0'))).toBeNull();
  });
});
