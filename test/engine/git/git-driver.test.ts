import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { promises as fsp } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { GitTargetSchema, type GitTargetConfig } from '../../../src-main/engine/config/schema';
import { GitDriver } from '../../../src-main/engine/git/git-driver';
import { parseConfig } from '../../../src-main/engine/config/load';
import { GitFeed } from '../../../src-main/engine/git/git-feed';
import { GitCli, detectInstallCommand } from '../../../src-main/engine/git/git-cli';
import { systemClock } from '../../../src-main/engine/clock';
import { DEFAULT_LIMITS } from '../../../src-main/engine/limits';
import type { ApplyPlan, DriverProgress } from '../../../src-main/engine/drivers/driver';
import { snapshot } from '../../helpers/tree';
import { deploy, git, gitFixture, type GitFixture } from './git-fixture';

const INSTALL = 'rm -rf node_modules && mkdir node_modules && cp deps.lock node_modules/installed.txt';

function files(version: string, o: { build?: 'ok' | 'fail'; migrate?: 'ok' | 'fail'; health?: 'ok' | 'bad' } = {}): Record<string, string> {
  return {
    'deps.lock': `deps for ${version}\n`,
    'src/app.js': `console.log("app ${version}");\n`,
    'build.sh': o.build === 'fail' ? 'echo "compile error in src/app.js" >&2\nexit 1\n' : `mkdir -p dist && echo "${version} ${o.health === 'bad' ? 'unhealthy' : 'ok'}" > dist/app.txt\n`,
    'migrate.sh': o.migrate === 'fail' ? 'echo MIGRATED=half >> .env\necho "relation users already exists" >&2\nexit 3\n' : `echo "MIGRATED=${version}" >> .env\n`,
  };
}

let fx: GitFixture;
let healthUrl: string;
let server: http.Server;
const commits: Record<string, string> = {};

beforeAll(async () => {
  fx = await gitFixture();
  commits['1.0.0'] = await fx.release('v1.0.0', files('1.0.0'));
  commits['1.1.0'] = await fx.release('v1.1.0', files('1.1.0'), 'Release 1.1.0\n\n- faster search');
  server = http.createServer((req, res) => {
    fsp.readFile(path.join(fx.installDir, 'dist', 'app.txt'), 'utf8').then((text) => {
      const [version, status] = text.trim().split(' ');
      res.writeHead(status === 'ok' ? 200 : 503, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ version }));
    }, () => { res.writeHead(503); res.end(); });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  healthUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}/health`;
});
afterAll(async () => { server?.close(); });

function target(over: Record<string, unknown> = {}): GitTargetConfig {
  return GitTargetSchema.parse({
    id: 'app', kind: 'git', install_dir: fx.installDir, track: { tags: 'v*' }, install: INSTALL, build: 'sh build.sh',
    hooks: { migrate: 'sh migrate.sh', rollback: `echo "rolled back to $UPKEEP_TO_VERSION" >> ${path.join(fx.root, 'rollback.log')}` },
    health: { url: healthUrl, expect_version: true, retries: 1, interval_s: 0.1, timeout_s: 2 },
    backup_paths: ['.env'], aside_paths: ['node_modules', 'dist'], hook_timeout: 60, ...over,
  });
}

function driverFor(t: GitTargetConfig): GitDriver {
  const state = path.join(fx.root, 'state');
  return new GitDriver(t, { paths: { stateDir: path.join(state, 'targets', t.id), pointsDir: path.join(state, 'points', t.id), cacheDir: path.join(state, 'blobs'), releasesDir: path.join(state, 'releases') }, reservedDirs: [], clock: systemClock, limits: DEFAULT_LIMITS });
}

async function planFor(t: GitTargetConfig, d: GitDriver, version: string): Promise<ApplyPlan> {
  const feed = new GitFeed(t, { git: new GitCli({ cwd: t.install_dir, timeoutMs: 30_000 }), channel: 'stable', verifyTag: null });
  const release = await feed.release(version);
  return { opId: 'op_test', from: await d.currentVersion(), to: version, release, artifacts: new Map(), retention: 3 };
}

const points0 = (p: Array<{ rollback_id: string }>) => p[0]?.rollback_id ?? '';

/** What a user could tell apart: tracked files, the dependency folder, .env and the build output. */
const view = (dir: string) => snapshot(dir, ['.git', '.upkeep']);

describe('git target driver against a real repository', () => {
  beforeEach(async () => {
    await fsp.rm(fx.installDir, { recursive: true, force: true });
    await fsp.rm(path.join(fx.root, 'state'), { recursive: true, force: true });
    await fsp.rm(path.join(fx.root, 'rollback.log'), { force: true });
    await deploy(fx, 'v1.0.0');
    await fsp.writeFile(path.join(fx.installDir, 'node_modules', 'installed.txt'), 'deps for 1.0.0\n');
    await fsp.writeFile(path.join(fx.installDir, '.env'), 'SECRET=keep-me\n');
    await fsp.mkdir(path.join(fx.installDir, 'dist'));
    await fsp.writeFile(path.join(fx.installDir, 'dist', 'app.txt'), '1.0.0 ok\n');
    await fsp.writeFile(path.join(fx.installDir, 'uploads.db'), 'user data\n');
  });

  it('finds newer SemVer tags after a fetch, with the annotation as notes and the critical marker', async () => {
    const t = target();
    const d = driverFor(t);
    expect(await d.currentVersion()).toBe('1.0.0');
    const feed = new GitFeed(t, { git: new GitCli({ cwd: fx.installDir, timeoutMs: 30_000 }), channel: 'stable', verifyTag: null });
    expect(await feed.candidates('1.0.0', { skip_versions: [], machine_id: 'm' })).toEqual([{ version: '1.1.0', is_critical: false }]);
    const r = await feed.release('1.1.0');
    expect(r).toMatchObject({ version: '1.1.0', tag_name: 'v1.1.0', build_commit: commits['1.1.0'], notes: 'Release 1.1.0\n\n- faster search', verification: 'checksums' });
    expect(await feed.candidates('1.0.0', { skip_versions: ['1.1.0'], machine_id: 'm' })).toEqual([]);
  });

  it('applies a tag: detached checkout, install, migrate, build, health; node_modules and dist move into the rollback point', async () => {
    const t = target();
    const d = driverFor(t);
    const phases: string[] = [];
    const out = await d.apply(await planFor(t, d, '1.1.0'), new AbortController().signal, (p: DriverProgress) => phases.push(p.phase));
    expect(out).toMatchObject({ kind: 'committed', files_updated: expect.arrayContaining(['deps.lock', 'src/app.js']) });
    expect(git(fx.installDir, 'rev-parse', 'HEAD')).toBe(commits['1.1.0']);
    expect(await fsp.readFile(path.join(fx.installDir, 'node_modules', 'installed.txt'), 'utf8')).toBe('deps for 1.1.0\n');
    expect(await fsp.readFile(path.join(fx.installDir, 'dist', 'app.txt'), 'utf8')).toBe('1.1.0 ok\n');
    expect(await fsp.readFile(path.join(fx.installDir, '.env'), 'utf8')).toBe('SECRET=keep-me\nMIGRATED=1.1.0\n');
    expect(phases).toEqual(expect.arrayContaining(['backup', 'switch', 'migrate', 'health', 'commit']));
    expect(await d.currentVersion()).toBe('1.1.0');
    expect(git(fx.installDir, 'status', '--porcelain', '--untracked-files=no')).toBe('');
    expect(await fsp.readFile(path.join(fx.installDir, 'uploads.db'), 'utf8')).toBe('user data\n');
    expect(await fsp.readFile(path.join(fx.installDir, '.upkeep', 'points', points0(await d.points()), 'node_modules', 'installed.txt'), 'utf8')).toBe('deps for 1.0.0\n');
    const points = await d.points();
    expect(points).toHaveLength(1);
    expect(points[0]).toMatchObject({ from_version: '1.0.0', to_version: '1.1.0' });
  });

  it.each([
    ['a failing build', { build: 'fail' as const }, 'ERR_STEP_FAILED', /build step failed: exit code 1\ncompile error/],
    ['a failing migration', { migrate: 'fail' as const }, 'ERR_HOOK_FAILED', /migrate hook failed: exit code 3/],
    ['a failing health check', { health: 'bad' as const }, 'ERR_HEALTH_CHECK_FAILED', /./],
  ])('rolls back %s: commit, dependencies and .env exactly as before, rollback hook run', async (_name, how, code, message) => {
    const tag = `v1.2.${Object.keys(how)[0] === 'build' ? 1 : Object.keys(how)[0] === 'migrate' ? 2 : 3}`;
    if (!commits[tag]) commits[tag] = await fx.release(tag, files(tag.slice(1), how));
    const t = target();
    const d = driverFor(t);
    const before = await view(fx.installDir);
    const out = await d.apply(await planFor(t, d, tag.slice(1)), new AbortController().signal, () => undefined);
    expect(out.kind).toBe('rolled_back');
    if (out.kind !== 'rolled_back') return;
    expect(out.cause.code).toBe(code);
    expect(out.cause.message).toMatch(message);
    expect(git(fx.installDir, 'rev-parse', 'HEAD')).toBe(commits['1.0.0']);
    expect(await view(fx.installDir)).toEqual(before);
    expect(await d.points()).toEqual([]);
    expect(await fsp.readFile(path.join(fx.root, 'rollback.log'), 'utf8')).toBe('rolled back to 1.0.0\n');
    expect(await d.currentVersion()).toBe('1.0.0');
  });

  it('refuses a work tree with local changes to tracked files, listing them, and changes nothing', async () => {
    const t = target();
    const d = driverFor(t);
    await fsp.appendFile(path.join(fx.installDir, 'src', 'app.js'), '// hotfix\n');
    const before = await view(fx.installDir);
    await expect(d.apply(await planFor(t, d, '1.1.0'), new AbortController().signal, () => undefined))
      .rejects.toMatchObject({ code: 'ERR_LOCAL_CHANGES', details: { files: ['src/app.js'] } });
    expect(await view(fx.installDir)).toEqual(before);
    expect(git(fx.installDir, 'rev-parse', 'HEAD')).toBe(commits['1.0.0']);
  });

  it('with on_local_change: stash, stashes the edit, and a rollback brings it back', async () => {
    const t = target({ on_local_change: 'stash' });
    const d = driverFor(t);
    await fsp.appendFile(path.join(fx.installDir, 'src', 'app.js'), '// hotfix\n');
    const before = await view(fx.installDir);
    const out = await d.apply(await planFor(t, d, '1.1.0'), new AbortController().signal, () => undefined);
    expect(out).toMatchObject({ kind: 'committed', warnings: [expect.stringMatching(/stashed/)] });
    expect(await fsp.readFile(path.join(fx.installDir, 'src', 'app.js'), 'utf8')).toBe('console.log("app 1.1.0");\n');
    const rb = await d.rollback(null, 'op_rb', new AbortController().signal, () => undefined);
    expect(rb).toMatchObject({ kind: 'committed', version: '1.0.0', from_version: '1.1.0' });
    expect(await view(fx.installDir)).toEqual(before);
  });

  it('rolls back manually to the point byte for byte: commit, node_modules, .env', async () => {
    const t = target();
    const d = driverFor(t);
    const before = await view(fx.installDir);
    await d.apply(await planFor(t, d, '1.1.0'), new AbortController().signal, () => undefined);
    expect(await view(fx.installDir)).not.toEqual(before);
    const rb = await d.rollback(null, 'op_rb', new AbortController().signal, () => undefined);
    expect(rb.kind).toBe('committed');
    expect(await view(fx.installDir)).toEqual(before);
    expect(git(fx.installDir, 'rev-parse', 'HEAD')).toBe(commits['1.0.0']);
    expect(await d.points()).toEqual([]);
    await expect(d.rollback(null, 'op_rb2', new AbortController().signal, () => undefined)).rejects.toMatchObject({ code: 'ERR_ROLLBACK_POINT_NOT_FOUND' });
  });

  it('follows a branch head when track is a branch: the version is the short commit', async () => {
    const t = target({ track: { branch: 'main' } });
    const d = driverFor(t);
    const head = git(fx.remote, 'rev-parse', 'main');
    const feed = new GitFeed(t, { git: new GitCli({ cwd: fx.installDir, timeoutMs: 30_000 }), channel: 'stable', verifyTag: null });
    const [c] = await feed.candidates(await d.currentVersion(), { skip_versions: [], machine_id: 'm' });
    expect(c?.version).toBe(head.slice(0, 12));
  });
});

describe('UPDATE_BRANCH (seed 004)', () => {
  it('makes the default git target follow the branch head, and is refused for other kinds', async () => {
    const yaml = (kind: string) => `targets:\n  - id: app\n    kind: ${kind}\n    install_dir: /srv/app\n${kind === 'command' ? '    steps: {}\n' : ''}`;
    const loaded = parseConfig(yaml('git'), { file: '/etc/upkeep.yaml', dir: '/etc', env: { UPDATE_BRANCH: 'main' } });
    expect(loaded.config.targets[0]).toMatchObject({ kind: 'git', track: { branch: 'main' } });
    expect(() => parseConfig(yaml('command'), { file: '/etc/upkeep.yaml', dir: '/etc', env: { UPDATE_BRANCH: 'main' } })).toThrow(/UPDATE_BRANCH/);
  });
});

describe('git feed policy and install detection', () => {
  it('picks npm, pnpm or yarn from the lockfile (yarn berry by .yarnrc.yml), or nothing', () => {
    expect(detectInstallCommand(new Set(['package.json', 'package-lock.json']))).toBe('npm ci');
    expect(detectInstallCommand(new Set(['package.json', 'pnpm-lock.yaml']))).toBe('pnpm install --frozen-lockfile');
    expect(detectInstallCommand(new Set(['package.json', 'yarn.lock', '.yarnrc.yml']))).toBe('yarn install --immutable');
    expect(detectInstallCommand(new Set(['package.json', 'yarn.lock']))).toBe('yarn install --frozen-lockfile');
    expect(detectInstallCommand(new Set(['package.json']))).toBe('npm install');
    expect(detectInstallCommand(new Set(['go.mod']))).toBeNull();
  });

  it('channel stable takes release tags only; channel beta also takes beta prereleases; a major bump is breaking', async () => {
    await fsp.rm(fx.installDir, { recursive: true, force: true });
    await deploy(fx, 'v1.0.0');
    if (!commits['2.0.0-beta.1']) commits['2.0.0-beta.1'] = await fx.release('v2.0.0-beta.1', files('2.0.0-beta.1'));
    const t = target();
    const feedOn = (channel: string) => new GitFeed(t, { git: new GitCli({ cwd: fx.installDir, timeoutMs: 30_000 }), channel, verifyTag: null });
    const stable = (await feedOn('stable').candidates('1.0.0', { skip_versions: [], machine_id: 'm' })).map((c) => c.version);
    expect(stable).not.toContain('2.0.0-beta.1');
    const beta = (await feedOn('beta').candidates('1.0.0', { skip_versions: [], machine_id: 'm' })).map((c) => c.version);
    expect(beta[0]).toBe('2.0.0-beta.1');
    const f = feedOn('beta');
    expect(f.assess('1.0.0', await f.release('2.0.0-beta.1'), { allowDowngrade: false, explicit: false })).toEqual({ breaking: true });
    const older = { ...(await f.release('2.0.0-beta.1')), version: '1.0.0' };
    expect(() => f.assess('1.1.0', older, { allowDowngrade: false, explicit: true })).toThrow(expect.objectContaining({ code: 'ERR_DOWNGRADE' }));
  });
});
