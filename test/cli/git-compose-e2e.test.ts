/**
 * git and compose targets through the real `upkeep` command line: check, apply, status (commit
 * and digests), rollback, and a target group rolled back together when its second member fails.
 * A real bare repository, a real registry; `docker` is a stand-in on PATH (no engine here).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { runCli } from '../helpers/cli';
import { tempDir } from '../helpers/tree';
import { deploy, git, gitFixture, type GitFixture } from '../engine/git/git-fixture';
import { startRegistry, type Registry } from '../engine/compose/registry-fixture';
import { installDockerStub } from '../engine/compose/docker-stub';

let fx: GitFixture;
let reg: Registry;
let dir: string;
let env: Record<string, string>;
let stub: Awaited<ReturnType<typeof installDockerStub>>;
const commits: Record<string, string> = {};
const app = (v: string, build = 'mkdir -p dist && echo ok > dist/out.txt') => ({ 'VERSION': `${v}\n`, 'build.sh': `${build}\n` });

beforeAll(async () => {
  fx = await gitFixture();
  commits['1.0.0'] = await fx.release('v1.0.0', app('1.0.0'));
  commits['1.1.0'] = await fx.release('v1.1.0', app('1.1.0'), 'Release 1.1.0\n\n- better search');
  await deploy(fx, 'v1.0.0');
  reg = await startRegistry();
  dir = await tempDir('upkeep-gc-e2e-');
  stub = await installDockerStub(path.join(dir, 'bin'), path.join(dir, 'world.json'), require.resolve('yaml'));
  env = { ...stub.env, PATH: `${path.join(dir, 'bin')}:${process.env.PATH}`, REG: reg.host };
  const api1 = await reg.push('acme/api', 'stable', 'api-1');
  await stub.seed({ images: { [`${reg.host}/acme/api@${api1}`]: true }, running: { api: `${reg.host}/acme/api@${api1}` } });
  await fsp.writeFile(path.join(dir, 'docker-compose.yml'), 'services:\n  api:\n    image: ${REG}/acme/api:stable\n');
  await fsp.writeFile(path.join(dir, 'upkeep.yaml'), [
    'state_dir: ./state',
    'targets:',
    '  - id: app',
    '    kind: git',
    `    install_dir: ${fx.installDir}`,
    '    track: { tags: "v*" }',
    '    install: none',
    '    build: sh build.sh',
    '    aside_paths: [dist]',
    '  - id: stack',
    '    kind: compose',
    '    compose_file: ./docker-compose.yml',
    'groups:',
    '  - id: full',
    '    targets: [app, stack]',
    '',
  ].join('\n'));
});
afterAll(async () => { await reg?.stop(); });

const cli = (...args: string[]) => runCli(['--config', path.join(dir, 'upkeep.yaml'), ...args], { env, timeoutMs: 120_000 });

describe('git and compose targets through the CLI', () => {
  it('checks, applies and rolls back a git target; status shows the commit', async () => {
    const status0 = await cli('status', 'app');
    expect(status0.code).toBe(0);
    expect(status0.stdout).toContain('installed: 1.0.0');
    expect(status0.stdout).toContain(`Commit:    ${commits['1.0.0']!.slice(0, 12)}`);
    const check = await cli('check', 'app', '--json');
    expect(check.code).toBe(0);
    expect(check.json).toMatchObject({ update_available: true, latest_version: '1.1.0', release: { release_notes: 'Release 1.1.0\n\n- better search' } });
    const apply = await cli('apply', 'app');
    expect(apply.code).toBe(0);
    expect(git(fx.installDir, 'rev-parse', 'HEAD')).toBe(commits['1.1.0']);
    expect((await cli('status', 'app', '--json')).json).toMatchObject({ kind: 'git', current_version: '1.1.0', facts: [{ label: 'Commit', value: commits['1.1.0']!.slice(0, 12) }, { label: 'Tracks', value: 'origin tags v*' }] });
    const rb = await cli('rollback', 'app', '--yes');
    expect(rb.code).toBe(0);
    expect(git(fx.installDir, 'rev-parse', 'HEAD')).toBe(commits['1.0.0']);
    const hist = await cli('history', 'app', '--json');
    expect(hist.json.map((h: { operation: string; result: string }) => `${h.operation}:${h.result}`)).toEqual(expect.arrayContaining(['apply:success', 'rollback:success']));
  });

  it('applies a compose target from the registry digest; status lists the digests', async () => {
    const api2 = await reg.push('acme/api', 'stable', 'api-2');
    const apply = await cli('apply', 'stack', '--json');
    expect(apply.code).toBe(0);
    expect(apply.json).toMatchObject({ files_updated: ['api'] });
    expect((await stub.world()).running.api).toBe(`${reg.host}/acme/api@${api2}`);
    const status = await cli('status', 'stack');
    expect(status.stdout).toContain(`api:       ${api2.slice(0, 19)}…`);
  });

  it('a group whose second member fails rolls the first back too', async () => {
    commits['1.2.0'] = await fx.release('v1.2.0', app('1.2.0'));
    await reg.push('acme/api', 'stable', 'api-3');
    const before = (await stub.world()).running.api;
    const r = await runCli(['--config', path.join(dir, 'upkeep.yaml'), 'apply', '--group', 'full'], { env: { ...env, DOCKER_STUB_FAIL: 'pull' }, timeoutMs: 120_000 });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/Group full: stack failed/);
    expect(r.stderr).toContain('app: rolled back');
    expect(git(fx.installDir, 'rev-parse', 'HEAD')).toBe(commits['1.0.0']);
    expect((await stub.world()).running.api).toBe(before);
    const ok = await cli('apply', '--group', 'full', '--json');
    expect(ok.code).toBe(0);
    expect(ok.json).toMatchObject({ group: 'full', success: true, members: [{ target: 'app', result: 'applied', version: '1.2.0' }, { target: 'stack', result: 'applied' }] });
    expect(git(fx.installDir, 'rev-parse', 'HEAD')).toBe(commits['1.2.0']);
  });

  it('refuses an unknown group with a clear error', async () => {
    const r = await cli('apply', '--group', 'nope');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('No target group "nope" (groups: full)');
  });
});
