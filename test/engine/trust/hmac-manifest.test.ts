/**
 * Seed 003's HMAC-SHA256 release manifests: the exact bytes written (field order, JSON layout,
 * signature computed independently with `openssl dgst -hmac`), verification in every refusal case,
 * and `upkeep release manifest` as a real child process.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  HMAC_SHARED_SECRET_WARNING,
  hmacSigningInput,
  signHmacManifest,
  verifyHmacManifest,
  type HmacReleaseFields,
} from '../../../src-main/engine/trust/hmac-manifest';
import { runCli } from '../../helpers/cli';

const SECRET = 's3cret-shared';
const FIELDS: HmacReleaseFields = {
  version: '1.4.0',
  sha: '0f00ba5',
  channel: 'stable',
  migrations_required: true,
  breaking_changes: 'Drops legacy orders API',
  released_at: '2026-01-15T10:00:00.000Z',
};
const SIGNED_TEXT = '{"version":"1.4.0","sha":"0f00ba5","channel":"stable","migrations_required":true,"breaking_changes":"Drops legacy orders API","released_at":"2026-01-15T10:00:00.000Z"}';

/** HMAC-SHA256 by OpenSSL, not node. */
function opensslHmac(text: string, secret: string): string {
  return execFileSync('openssl', ['dgst', '-sha256', '-hmac', secret, '-r'], { input: text }).toString('utf8').split(' ')[0]!;
}

function expectedFile(signature: string, fields: HmacReleaseFields = FIELDS): string {
  return [
    '{',
    `  "version": "${fields.version}",`,
    `  "sha": "${fields.sha}",`,
    `  "channel": "${fields.channel}",`,
    `  "migrations_required": ${fields.migrations_required},`,
    `  "breaking_changes": ${JSON.stringify(fields.breaking_changes)},`,
    `  "released_at": "${fields.released_at}",`,
    `  "signature": "${signature}"`,
    '}',
    '',
  ].join('\n');
}

const codeOf = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    return (err as { code?: string }).code ?? 'untyped';
  }
  return 'no error';
};

describe('HMAC release manifests (seed 003)', () => {
  it('signs JSON.stringify of the six fields in order; the file is that object plus signature, two-space JSON', () => {
    expect(hmacSigningInput(FIELDS).toString('utf8')).toBe(SIGNED_TEXT);
    const { manifest, bytes } = signHmacManifest(FIELDS, SECRET);
    const hmac = opensslHmac(SIGNED_TEXT, SECRET);
    expect(manifest.signature).toBe(hmac);
    expect(bytes.toString('utf8')).toBe(expectedFile(hmac));
    expect(Object.keys(manifest)).toEqual(['version', 'sha', 'channel', 'migrations_required', 'breaking_changes', 'released_at', 'signature']);
  });

  it('verifies, returning the fields and the shared-secret warning; layout and key order of the file do not matter', () => {
    const { bytes } = signHmacManifest(FIELDS, SECRET);
    const r = verifyHmacManifest(bytes, SECRET);
    expect(r.manifest).toEqual({ ...FIELDS, signature: opensslHmac(SIGNED_TEXT, SECRET) });
    expect(r.warning).toBe(HMAC_SHARED_SECRET_WARNING);
    expect(r.warning).toMatch(/not public-key security/);
    const parsed = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
    const reordered = JSON.stringify({ signature: parsed.signature, released_at: parsed.released_at, channel: parsed.channel, sha: parsed.sha, version: parsed.version, breaking_changes: parsed.breaking_changes, migrations_required: parsed.migrations_required });
    expect(verifyHmacManifest(Buffer.from(reordered), SECRET).manifest.version).toBe('1.4.0');
  });

  it('null breaking_changes and false migrations_required round-trip', () => {
    const fields = { ...FIELDS, migrations_required: false, breaking_changes: null };
    const { bytes, manifest } = signHmacManifest(fields, SECRET);
    expect(bytes.toString('utf8')).toBe(expectedFile(manifest.signature, fields));
    expect(manifest.signature).toBe(opensslHmac(JSON.stringify(fields), SECRET));
    expect(verifyHmacManifest(bytes, SECRET).manifest.breaking_changes).toBeNull();
  });

  it('any altered signed field, or the wrong secret, is ERR_SIGNATURE_INVALID', () => {
    const { bytes } = signHmacManifest(FIELDS, SECRET);
    const doc = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
    const changes: Record<string, unknown> = { version: '1.4.1', sha: '0f00ba6', channel: 'beta', migrations_required: false, breaking_changes: null, released_at: '2026-01-15T10:00:01.000Z' };
    for (const [k, v] of Object.entries(changes)) {
      expect(codeOf(() => verifyHmacManifest(Buffer.from(JSON.stringify({ ...doc, [k]: v })), SECRET)), k).toBe('ERR_SIGNATURE_INVALID');
    }
    expect(codeOf(() => verifyHmacManifest(bytes, 'another-secret'))).toBe('ERR_SIGNATURE_INVALID');
    const sig = String(doc.signature);
    const flipped = sig.slice(0, 10) + (sig[10] === '0' ? '1' : '0') + sig.slice(11);
    expect(codeOf(() => verifyHmacManifest(Buffer.from(JSON.stringify({ ...doc, signature: flipped })), SECRET))).toBe('ERR_SIGNATURE_INVALID');
  });

  it('unsigned extra keys are dropped from the result', () => {
    const { bytes } = signHmacManifest(FIELDS, SECRET);
    const doc = { ...(JSON.parse(bytes.toString('utf8')) as object), download_url: 'https://evil.example/x' };
    expect(verifyHmacManifest(Buffer.from(JSON.stringify(doc)), SECRET).manifest).not.toHaveProperty('download_url');
  });

  it('refusal codes: missing signature, malformed signature or fields, not JSON, empty secret', () => {
    const { bytes } = signHmacManifest(FIELDS, SECRET);
    const doc = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
    const v = (o: unknown, secret = SECRET): string => codeOf(() => verifyHmacManifest(Buffer.from(typeof o === 'string' ? o : JSON.stringify(o)), secret));
    expect(v({ ...doc, signature: undefined })).toBe('ERR_SIGNATURE_MISSING');
    expect(v({ ...doc, signature: '' })).toBe('ERR_SIGNATURE_MISSING');
    expect(v({ ...doc, signature: 'abc' })).toBe('ERR_METADATA_INVALID');
    expect(v({ ...doc, signature: `${String(doc.signature)}00` })).toBe('ERR_METADATA_INVALID');
    expect(v({ ...doc, version: 'v1.4.0' })).toBe('ERR_METADATA_INVALID');
    expect(v({ ...doc, migrations_required: 'true' })).toBe('ERR_METADATA_INVALID');
    expect(v({ ...doc, released_at: 'yesterday' })).toBe('ERR_METADATA_INVALID');
    expect(v({ ...doc, sha: 'xyz' })).toBe('ERR_METADATA_INVALID');
    expect(v('{"version":')).toBe('ERR_METADATA_INVALID');
    expect(v('[]')).toBe('ERR_METADATA_INVALID');
    expect(v(doc, '')).toBe('ERR_KEY_INVALID');
    expect(codeOf(() => signHmacManifest({ ...FIELDS, version: '1.4' }, SECRET))).toBe('ERR_USAGE');
  });
});

describe('upkeep release manifest', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'upkeep-hmac-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const args = (out: string): string[] => [
    'release', 'manifest', '--version', '1.4.0', '--sha', '0f00ba5', '--channel', 'stable', '--migrations-required', 'true',
    '--breaking-changes', 'Drops legacy orders API', '--released-at', '2026-01-15T10:00:00.000Z', '--out', out,
  ];

  it('writes the seed-003 manifest signed with RELEASE_SIGNING_SECRET, byte for byte, and warns about the shared secret', async () => {
    const out = path.join(dir, 'release-manifest.json');
    const r = await runCli(args(out), { env: { RELEASE_SIGNING_SECRET: SECRET } });
    // Signing is not verifying: the publisher is told what signing with a shared secret means.
    expect(r.stderr).toContain('warning: release manifest signed with a shared HMAC secret');
    expect(r.stderr).not.toContain('verified');
    expect(r.code).toBe(0);
    expect(readFileSync(out, 'utf8')).toBe(expectedFile(opensslHmac(SIGNED_TEXT, SECRET)));
    expect(r.stdout).toContain(`Wrote release manifest 1.4.0 (stable, 0f00ba5) to ${out}`);
    expect(verifyHmacManifest(readFileSync(out), SECRET).manifest.sha).toBe('0f00ba5');
  });

  it('released_at defaults to now; breaking_changes to null', async () => {
    const out = path.join(dir, 'now.json');
    const before = Date.now();
    const r = await runCli(['release', 'manifest', '--version', '2.0.0-beta.1', '--sha', 'abcdef1234567', '--channel', 'beta', '--migrations-required', 'false', '--out', out], { env: { RELEASE_SIGNING_SECRET: SECRET } });
    expect(r.code).toBe(0);
    const m = verifyHmacManifest(readFileSync(out), SECRET).manifest;
    expect(m.breaking_changes).toBeNull();
    expect(m.migrations_required).toBe(false);
    expect(Date.parse(m.released_at)).toBeGreaterThanOrEqual(before - 1000);
  });

  it('refuses without the secret (ERR_KEY_INVALID) or with bad fields (ERR_USAGE), exit 2, writing nothing', async () => {
    const out = path.join(dir, 'refused.json');
    const noSecret = await runCli(args(out), { env: { RELEASE_SIGNING_SECRET: undefined } });
    expect(noSecret.code).toBe(2);
    expect(noSecret.stderr).toMatch(/set RELEASE_SIGNING_SECRET.*\(ERR_KEY_INVALID\)/);
    const badBool = await runCli([...args(out).slice(0, 9), 'yes', ...args(out).slice(10)], { env: { RELEASE_SIGNING_SECRET: SECRET } });
    expect(badBool.code).toBe(2);
    expect(badBool.stderr).toMatch(/--migrations-required must be true or false/);
    const badVersion = await runCli(['release', 'manifest', '--version', 'latest', '--sha', '0f00ba5', '--channel', 'stable', '--migrations-required', 'true', '--out', out], { env: { RELEASE_SIGNING_SECRET: SECRET } });
    expect(badVersion.code).toBe(2);
    expect(badVersion.stderr).toMatch(/version: not a SemVer 2.0 version \(ERR_USAGE\)/);
    expect(existsSync(out)).toBe(false);
  });
});
