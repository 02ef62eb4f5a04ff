/**
 * Every non-native feed adapter through the real `upkeep` command line (a child process reading
 * a config file): a `files` target whose feed is `github`, `electron-builder`, `sparkle` or `tuf`,
 * served by HTTP servers on 127.0.0.1 with recorded-shape bodies. Each one installs 1.0.0,
 * `check`s and `apply`s 1.1.0, `rollback`s to 1.0.0 — the install dir compared byte for byte
 * (modes included) with the published tree at each step — and then refuses a tampered 1.2.0
 * (bad signature or digest) with its error code and exit 3, the install left byte-identical.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { runCli, type CliRun } from '../helpers/cli';
import { snapshot, tempDir, writeTree, type Entry } from '../helpers/tree';
import { startGithubFake, type GithubFake } from '../helpers/github-server';
import { startStaticServer, type StaticServer } from '../helpers/static-server';
import {
  TREES, appcast, ed25519Signer, electronBuilderYml, flipByte, githubRelease, minisigner, versionArchive, TufRepo, type AppcastItem, type ArchiveKind,
} from '../helpers/adapter-fixtures';

/** Each test spawns the CLI about ten times; on a loaded machine one spawn can take seconds. */
const CLI_TIMEOUT_MS = 240_000;

let work: string;
beforeAll(async () => {
  work = await tempDir('upkeep-adapters-cli-');
});
afterAll(async () => {
  await fsp.rm(work, { recursive: true, force: true });
});

/** The published tree of `version`, as a snapshot. */
async function treeOf(version: string): Promise<Entry[]> {
  const ref = await fsp.mkdtemp(path.join(work, 'ref-'));
  await writeTree(ref, TREES[version]!);
  return snapshot(ref);
}

/** A directory with an upkeep.yaml declaring the `app` files target with this feed and trust (YAML lines, indented 4). */
async function project(feed: string[], trust: string, env: Record<string, string> = {}) {
  const dir = await fsp.mkdtemp(path.join(work, 'project-'));
  const config = path.join(dir, 'upkeep.yaml');
  await fsp.writeFile(config, [
    'state_dir: ./state',
    'targets:',
    '  - id: app',
    '    kind: files',
    '    install_dir: ./install',
    '    product: app',
    '    platform: linux',
    '    arch: x64',
    '    retention: 3',
    '    feed:',
    ...feed.map((l) => `      ${l}`),
    `    trust: ${trust}`,
    '',
  ].join('\n'));
  const install = path.join(dir, 'install');
  return {
    dir,
    install,
    cli: (...args: string[]): Promise<CliRun> => runCli(['--config', config, ...args], { env: { GITHUB_TOKEN: undefined, THEMIS_GITHUB_API_TOKEN: undefined, ...env } }),
  };
}
type Project = Awaited<ReturnType<typeof project>>;

/**
 * The shared lifecycle: apply (fresh 1.0.0) → `publish11()` → check → apply 1.1.0 → rollback,
 * asserting exit codes, JSON and text output, and the install tree after each step.
 */
async function lifecycle(p: Project, publish11: () => Promise<void>): Promise<void> {
  const a1 = await p.cli('apply', '--json');
  expect(a1.code, a1.stderr + a1.stdout).toBe(0);
  expect(a1.json).toMatchObject({ success: true, version: '1.0.0', verify_only: false });
  expect(await snapshot(p.install)).toEqual(await treeOf('1.0.0'));

  const upToDate = await p.cli('check');
  expect(upToDate.code, upToDate.stderr).toBe(0);
  expect(upToDate.stdout).toMatch(/up to date/i);

  await publish11();
  const c = await p.cli('check', '--json');
  expect(c.code, c.stderr).toBe(0);
  expect(c.json).toMatchObject({ target: 'app', current_version: '1.0.0', latest_version: '1.1.0', update_available: true });
  expect(c.json.release_notes).toContain('Release notes of 1.1.0');

  const a2 = await p.cli('apply');
  expect(a2.code, a2.stderr + a2.stdout).toBe(0);
  expect(a2.stdout).toContain('1.1.0');
  expect(await snapshot(p.install)).toEqual(await treeOf('1.1.0'));

  const pts = await p.cli('points', '--json');
  expect(pts.json[0]).toMatchObject({ target: 'app', from_version: '1.0.0', to_version: '1.1.0' });
  const rb = await p.cli('rollback', '--json');
  expect(rb.code, rb.stderr + rb.stdout).toBe(0);
  expect(rb.json).toMatchObject({ success: true, version: '1.0.0', from_version: '1.1.0' });
  expect(await snapshot(p.install)).toEqual(await treeOf('1.0.0'));

  const h = await p.cli('history', '--json');
  expect(h.json.map((r: { operation: string; result: string }) => `${r.operation}:${r.result}`)).toEqual(expect.arrayContaining(['apply:success', 'rollback:success']));
}

/** `apply` of the tampered 1.2.0 is refused with `code` and exit 3; the install stays byte-identical. */
async function refused(p: Project, code: string): Promise<void> {
  const before = await snapshot(p.install);
  const r = await p.cli('apply', '--json');
  expect(r.code, r.stderr + r.stdout).toBe(3);
  expect(r.json.error.code).toBe(code);
  const text = await p.cli('apply');
  expect(text.code).toBe(3);
  expect(text.stderr).toContain(code);
  expect(await snapshot(p.install)).toEqual(before);
  expect(before).toEqual(await treeOf('1.0.0'));
  const st = await p.cli('status', 'app', '--json');
  expect(st.json).toMatchObject({ current_version: '1.0.0' });
  const h = await p.cli('history', '--json');
  expect(h.json[0]).toMatchObject({ operation: 'apply', result: 'refused', from_version: '1.0.0', to_version: '1.2.0', error_code: code });
}

/** A feed served on 127.0.0.1 for one adapter: its config lines, and how a version is published (or tampered with). */
interface Served {
  feed: string[];
  trust: string;
  env?: Record<string, string>;
  /** Publishes `version`; `tamper` serves bytes that the published signature or digest does not match. */
  publish(version: string, tamper?: boolean): Promise<void>;
  /** Checks on what the servers saw, after the lifecycle. */
  seen?(): void;
  close(): Promise<void>;
}

async function servedGithub(kind: ArchiveKind): Promise<Served> {
  const signer = await minisigner(await fsp.mkdtemp(path.join(work, 'minisign-')));
  const gh: GithubFake = await startGithubFake('acme/app', []);
  const name = (v: string) => `app-${v}-linux-x64.${kind}`;
  return {
    feed: ['type: github', 'repo: acme/app', `api_url: ${gh.apiUrl}`, `asset: "app-{version}-{platform}-{arch}.${kind}"`, 'checksums: SHA256SUMS', 'strip_components: 1'],
    trust: `{ keys: ["${signer.key}"] }`,
    env: { GITHUB_TOKEN: 'ghp_cli_e2e' },
    async publish(v, tamper) {
      const rel = await githubRelease(v, { name: name(v), bytes: await versionArchive(v, work, kind) }, signer);
      if (tamper) {
        // The asset and SHA256SUMS swapped together; the .minisig is still the one over the genuine SHA256SUMS.
        const evil = await githubRelease(v, { name: name(v), bytes: flipByte(rel.assets[0]!.bytes) }, signer);
        rel.assets = [evil.assets[0]!, evil.assets[1]!, rel.assets[2]!];
      }
      gh.releases.unshift(rel);
    },
    seen() {
      const assets = gh.seen.filter((s) => s.server === 'assets');
      expect(assets.some((s) => s.url.endsWith(`.${kind}`) && s.status === 200)).toBe(true);
      expect(gh.seen.some((s) => s.server === 'api' && s.status === 302)).toBe(true);
      // The token goes to the API origin only, never to the asset host the downloads redirect to.
      expect(assets.every((s) => s.headers.authorization === undefined)).toBe(true);
      expect(gh.seen.filter((s) => s.server === 'api' && s.url.includes('/releases')).every((s) => s.headers.authorization?.includes('ghp_cli_e2e'))).toBe(true);
    },
    close: () => gh.close(),
  };
}

async function servedElectronBuilder(): Promise<Served> {
  const server: StaticServer = await startStaticServer();
  return {
    feed: ['type: electron-builder', `url: ${server.url}/dl/`, 'strip_components: 1'],
    trust: '{ checksums_only: true }',
    async publish(v, tamper) {
      const file = { name: `app-${v}-linux-x64.tar.gz`, bytes: await versionArchive(v, work) };
      server.files.set(`/dl/${file.name}`, tamper ? flipByte(file.bytes) : file.bytes);
      server.files.set('/dl/latest-linux.yml', Buffer.from(electronBuilderYml(v, file)));
    },
    seen() {
      expect(server.requests).toContain('/dl/latest-linux.yml');
    },
    close: () => server.close(),
  };
}

async function servedSparkle(): Promise<Served> {
  const server: StaticServer = await startStaticServer();
  const signer = ed25519Signer();
  const items: AppcastItem[] = [];
  return {
    feed: ['type: sparkle', `url: ${server.url}/appcast.xml`, 'strip_components: 1'],
    trust: `{ keys: ["${signer.key}"] }`,
    async publish(v, tamper) {
      const bytes = await versionArchive(v, work);
      server.files.set(`/dl/app-${v}.tar.gz`, tamper ? flipByte(bytes) : bytes);
      items.unshift({ version: v, url: `dl/app-${v}.tar.gz`, length: bytes.length, edSignature: signer.sign(bytes) });
      server.files.set('/appcast.xml', Buffer.from(appcast(items)));
    },
    close: () => server.close(),
  };
}

async function servedTuf(): Promise<Served> {
  const server: StaticServer = await startStaticServer();
  const repo = new TufRepo(server.files);
  const rootFile = path.join(await fsp.mkdtemp(path.join(work, 'tuf-')), 'root.json');
  await fsp.writeFile(rootFile, repo.root);
  return {
    feed: ['type: tuf', `url: ${server.url}/metadata/`, 'target: "app-{version}.tar.gz"', 'strip_components: 1'],
    trust: `{ tuf_root: ${JSON.stringify(rootFile)} }`,
    async publish(v, tamper) {
      const name = `app-${v}.tar.gz`;
      const bytes = await versionArchive(v, work);
      repo.publish({ [name]: bytes }, { notes: { [name]: `Release notes of ${v}.` }, ...(tamper ? { serve: { [name]: flipByte(bytes) } } : {}) });
    },
    seen() {
      expect(server.requests).toEqual(expect.arrayContaining(['/metadata/timestamp.json', '/metadata/snapshot.json', '/metadata/targets.json', '/targets/app-1.1.0.tar.gz']));
    },
    close: () => server.close(),
  };
}

const ADAPTERS: Array<[string, string, () => Promise<Served>]> = [
  ['github (.tar.gz asset)', 'ERR_SIGNATURE_INVALID', () => servedGithub('tar.gz')],
  ['github (.tar.xz asset)', 'ERR_SIGNATURE_INVALID', () => servedGithub('tar.xz')],
  ['electron-builder', 'ERR_HASH_MISMATCH', servedElectronBuilder],
  ['sparkle', 'ERR_SIGNATURE_INVALID', servedSparkle],
  ['tuf', 'ERR_HASH_MISMATCH', servedTuf],
];

describe.each(ADAPTERS)('%s feed through the CLI', (_name, refusal, serve) => {
  let served: Served;
  let p: Project;
  beforeAll(async () => {
    served = await serve();
    await served.publish('1.0.0');
    p = await project(served.feed, served.trust, served.env);
  });
  afterAll(async () => {
    await served.close();
  });

  it('installs 1.0.0, applies 1.1.0 and rolls back, byte for byte', async () => {
    await lifecycle(p, () => served.publish('1.1.0'));
    served.seen?.();
  }, CLI_TIMEOUT_MS);

  it(`refuses a tampered 1.2.0 with ${refusal}, exit 3, the install byte-identical`, async () => {
    await served.publish('1.2.0', true);
    await refused(p, refusal);
  }, CLI_TIMEOUT_MS);
});
