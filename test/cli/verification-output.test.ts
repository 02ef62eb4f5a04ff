/**
 * `upkeep check` and `upkeep status` name how a release is verified: a GitHub feed accepted with
 * `trust: { none: true }` prints "unverified", one with `trust: { checksums_only: true }` prints
 * "checksums only" — through the real CLI against a GitHub look-alike on 127.0.0.1.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCli } from '../helpers/cli';
import { sha256sums, startGithubFake, type FakeAsset, type GithubFake } from '../helpers/github-server';

let dir: string;
let fake: GithubFake;

const asset = (v: string): FakeAsset => ({ name: `app-${v}-${process.platform}-${process.arch}.tar.gz`, bytes: Buffer.from(`pretend tar.gz of ${v} `.repeat(40)) });

beforeEach(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'upkeep-cli-verification-'));
  const a = asset('1.1.0');
  fake = await startGithubFake('acme/app', [{ tag_name: 'v1.1.0', assets: [a, { name: 'SHA256SUMS', bytes: sha256sums([a]) }] }]);
  const target = (id: string, trust: string, extra: string[] = []) => [
    `  - id: ${id}`,
    '    kind: files',
    `    install_dir: ./${id}`,
    '    product: app',
    '    feed:',
    '      type: github',
    '      repo: acme/app',
    `      api_url: ${fake.apiUrl}`,
    '      asset: "app-{version}-{platform}-{arch}.tar.gz"',
    ...extra,
    `    trust: ${trust}`,
  ];
  await fsp.writeFile(
    path.join(dir, 'upkeep.yaml'),
    ['state_dir: ./state', 'targets:', ...target('bare', '{ none: true }'), ...target('sums', '{ checksums_only: true }', ['      checksums: SHA256SUMS'])].join('\n') + '\n',
  );
});
afterEach(async () => {
  await fake.close();
  await fsp.rm(dir, { recursive: true, force: true });
});

const env = { GITHUB_TOKEN: undefined, THEMIS_GITHUB_API_TOKEN: undefined, HTTPS_PROXY: undefined, https_proxy: undefined, HTTP_PROXY: undefined, http_proxy: undefined };

describe('the command line names the verification level', () => {
  it('check: "unverified" for trust.none, "checksums only" for trust.checksums_only', async () => {
    const bare = await runCli(['check', 'bare'], { cwd: dir, env });
    expect(bare.code, bare.stderr).toBe(0);
    expect(bare.stdout).toContain('bare: nothing installed -> 1.1.0 available (unverified)\n  verified:  Unverified: no signature or checksum is checked for this release (trust.none).');
    const sums = await runCli(['check', 'sums'], { cwd: dir, env });
    expect(sums.code, sums.stderr).toBe(0);
    expect(sums.stdout).toContain('sums: nothing installed -> 1.1.0 available (checksums only)\n  verified:  Checksums only: the hashes come from the same unsigned source as the files');
    // --json carries the level for scripts.
    const json = await runCli(['--json', 'check', 'bare'], { cwd: dir, env });
    expect(json.json.release.verification).toBe('none');
  });

  it('status: the state line of a checked target says "(unverified)" / "(checksums only)"', async () => {
    expect((await runCli(['check', 'bare'], { cwd: dir, env })).code).toBe(0);
    expect((await runCli(['check', 'sums'], { cwd: dir, env })).code).toBe(0);
    const r = await runCli(['status'], { cwd: dir, env });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('bare (bare)\n  installed: nothing yet\n  state:     update available: 1.1.0 (unverified)\n  verified:  Unverified: no signature or checksum is checked');
    expect(r.stdout).toContain('sums (sums)\n  installed: nothing yet\n  state:     update available: 1.1.0 (checksums only)\n  verified:  Checksums only:');
  });
});
