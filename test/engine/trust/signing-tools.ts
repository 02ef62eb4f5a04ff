/**
 * Signing keys and signatures made by the real tools for the trust tests: Debian's `gpg` (batch
 * key generation in a temporary GNUPGHOME), `openssl` (certificates, `openssl cms -sign`) and
 * `minisign`, each in a temp dir the caller removes.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface GpgKey {
  home: string;
  fingerprint: string;
  /** Armored public key file (`gpg --armor --export`). */
  pubFile: string;
  /**
   * Detached signature of `file`: armored (.asc) or binary (.sig); returns its path. `expire`
   * gives the signature an expiration time (gpg's `--default-sig-expire`, e.g. "1d").
   */
  sign(file: string, armored?: boolean, o?: { expire?: string }): string;
}

const gpgHomes = new Set<string>();

/** Stops the gpg-agent of every GNUPGHOME made here (call before removing the temp dir). */
export function stopGpgAgents(): void {
  for (const home of gpgHomes) {
    try {
      execFileSync('gpgconf', ['--kill', 'gpg-agent'], { env: { ...process.env, GNUPGHOME: home }, stdio: 'ignore' });
    } catch {
      // Already gone.
    }
  }
  gpgHomes.clear();
}

/** A new Ed25519 (or RSA) signing key in its own GNUPGHOME under `dir`. */
export function makeGpgKey(dir: string, name: string, algo: 'ed25519' | 'rsa3072' = 'ed25519'): GpgKey {
  const home = path.join(dir, `gnupg-${name}`);
  execFileSync('mkdir', ['-m', '700', '-p', home]);
  gpgHomes.add(home);
  const env = { ...process.env, GNUPGHOME: home };
  const gpg = (args: string[]): Buffer => execFileSync('gpg', ['--batch', '--no-tty', '--quiet', '--pinentry-mode', 'loopback', '--passphrase', '', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  gpg(['--quick-generate-key', `${name} <${name}@example.org>`, algo, 'sign', 'never']);
  const fingerprint = /^fpr:+([0-9A-F]{40}):/m.exec(gpg(['--with-colons', '--list-keys']).toString('utf8'))![1]!;
  const pubFile = path.join(dir, `${name}.asc`);
  writeFileSync(pubFile, gpg(['--armor', '--export', fingerprint]));
  return {
    home,
    fingerprint,
    pubFile,
    sign(file, armored = true, o = {}) {
      const out = `${file}.${name}${o.expire ? `-exp${o.expire}` : ''}.${armored ? 'asc' : 'sig'}`;
      gpg(['--yes', '--local-user', fingerprint, ...(o.expire ? ['--default-sig-expire', o.expire] : []), ...(armored ? ['--armor'] : []), '--output', out, '--detach-sign', file]);
      return out;
    },
  };
}

export interface Cert {
  cert: string;
  key: string;
}

/**
 * A self-signed EC P-256 certificate (or one issued by `ca`), valid for `days` from now. `eku` adds
 * an extendedKeyUsage extension (openssl names: "codeSigning", "serverAuth", …), `keyUsage`
 * replaces the leaf's keyUsage value, and `keyFile` reuses an existing private key (a second
 * certificate over the same key).
 */
export function makeCert(dir: string, name: string, o: { ca?: Cert; isCa?: boolean; days?: number; eku?: string; keyUsage?: string; keyFile?: string } = {}): Cert {
  const cert = path.join(dir, `${name}.crt`);
  const key = o.keyFile ?? path.join(dir, `${name}.key`);
  const days = String(o.days ?? 30);
  const newKey = o.keyFile ? ['-key', o.keyFile] : ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key];
  if (!o.ca) {
    execFileSync('openssl', ['req', '-x509', ...newKey, '-out', cert, '-days', days, '-subj', `/CN=${name}`,
      ...(o.isCa ? ['-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign,digitalSignature'] : []),
      ...(o.keyUsage ? ['-addext', `keyUsage=critical,${o.keyUsage}`] : []),
      ...(o.eku ? ['-addext', `extendedKeyUsage=${o.eku}`] : [])], { stdio: 'pipe' });
    return { cert, key };
  }
  const csr = path.join(dir, `${name}.csr`);
  execFileSync('openssl', ['req', '-new', ...newKey, '-out', csr, '-subj', `/CN=${name}`], { stdio: 'pipe' });
  const ext = path.join(dir, `${name}.ext`);
  writeFileSync(ext, `basicConstraints=CA:FALSE\nkeyUsage=critical,${o.keyUsage ?? 'digitalSignature'}\n${o.eku ? `extendedKeyUsage=${o.eku}\n` : ''}`);
  execFileSync('openssl', ['x509', '-req', '-in', csr, '-CA', o.ca.cert, '-CAkey', o.ca.key, '-CAcreateserial', '-out', cert, '-days', days, '-extfile', ext], { stdio: 'pipe' });
  return { cert, key };
}

/** `openssl cms -sign -binary` of `file` by `signer`: DER (default) or PEM; returns the bytes. */
export function cmsSign(file: string, signer: Cert, o: { pem?: boolean; noCerts?: boolean; extraSigner?: Cert } = {}): Buffer {
  const out = `${file}.${path.basename(signer.cert)}.${o.pem ? 'pem' : 'p7s'}`;
  execFileSync('openssl', ['cms', '-sign', '-binary', '-in', file, '-signer', signer.cert, '-inkey', signer.key,
    ...(o.extraSigner ? ['-signer', o.extraSigner.cert, '-inkey', o.extraSigner.key] : []),
    ...(o.noCerts ? ['-nocerts'] : []), '-outform', o.pem ? 'PEM' : 'DER', '-out', out], { stdio: 'pipe' });
  return readFileSync(out);
}

export interface MinisignKey {
  pubFile: string;
  /** The key line (`RW…`) for a `minisign:` trust line. */
  line: string;
  /** `minisign -S` of `file` (prehashed by default, `-l` legacy); returns the .minisig bytes. */
  sign(file: string, o?: { legacy?: boolean; comment?: string }): Buffer;
}

/** A new minisign key pair made by `minisign -G -W` (no password). */
export function makeMinisignKey(dir: string, name: string): MinisignKey {
  const pubFile = path.join(dir, `${name}.pub`);
  const secFile = path.join(dir, `${name}.key`);
  execFileSync('minisign', ['-G', '-W', '-p', pubFile, '-s', secFile], { stdio: 'pipe' });
  return {
    pubFile,
    line: readFileSync(pubFile, 'utf8').split('\n')[1]!.trim(),
    sign(file, o = {}) {
      const out = `${file}.${name}.minisig`;
      execFileSync('minisign', ['-S', ...(o.legacy ? ['-l'] : []), '-s', secFile, '-m', file, '-x', out, ...(o.comment ? ['-t', o.comment] : [])], { stdio: 'pipe' });
      return readFileSync(out);
    },
  };
}
