/**
 * Seed 003 through the real `upkeep` command line: `upkeep release manifest` signs a release
 * manifest with $RELEASE_SIGNING_SECRET, an HTTP server on 127.0.0.1 serves it, and the default
 * `command` target (`feed: { type: hmac-manifest }`) runs the steps configured only by seed 003's
 * environment (UPDATE_BACKUP_CMD … UPDATE_ROLLBACK_CMD, UPDATE_HEALTHCHECK_URL). The step commands
 * append to a log file and the switch step writes the version the health endpoint reports, so
 * the order of the steps, their UPKEEP_* environment and what each run changed are observable.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { promises as fsp } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { runCli, type CliRun } from '../helpers/cli';
import { startStaticServer, type StaticServer } from '../helpers/static-server';
import { tempDir } from '../helpers/tree';

const SECRET = 'seed-003-release-signing-secret';
/** Each test spawns the CLI several times; on a loaded machine one spawn can take seconds. */
const CLI_TIMEOUT_MS = 240_000;
let dir: string;
let feed: StaticServer;
let health: http.Server;
let healthUrl: string;
let healthHits = 0;

const log = () => path.join(dir, 'steps.log');
const running = () => path.join(dir, 'running-version');
/** A step command: appends "<name> <from> -> <to>" to the log (then runs `more`). */
const step = (name: string, more = '') => `echo "${name} $UPKEEP_FROM_VERSION -> $UPKEEP_TO_VERSION" >> "${log()}"${more ? ` && ${more}` : ''}`;

function stepEnv(over: Record<string, string> = {}): Record<string, string> {
  return {
    RELEASE_SIGNING_SECRET: SECRET,
    UPDATE_BACKUP_CMD: step('backup'),
    UPDATE_PULL_CMD: step('pull'),
    UPDATE_MIGRATE_CMD: step('migrate'),
    UPDATE_SMOKE_CMD: step('smoke'),
    UPDATE_SWITCH_CMD: step('switch', `printf %s "$UPKEEP_TO_VERSION" > "${running()}"`),
    UPDATE_ROLLBACK_CMD: step('rollback', `printf %s "$UPKEEP_TO_VERSION" > "${running()}"`),
    UPDATE_HEALTHCHECK_URL: healthUrl,
    ...over,
  };
}

const cli = (args: string[], env: Record<string, string> = stepEnv()): Promise<CliRun> =>
  runCli(['--config', path.join(dir, 'upkeep.yaml'), ...args], { env });

/** `upkeep release manifest` for `version`, signed with `secret`, served as the feed's manifest. */
async function publish(version: string, o: { secret?: string; breaking?: string } = {}): Promise<Record<string, unknown>> {
  const out = path.join(dir, `release-manifest-${version}.json`);
  const r = await runCli([
    'release', 'manifest', '--version', version, '--sha', `0f00ba${version.replace(/\./g, '')}`, '--channel', 'stable',
    '--migrations-required', 'true', ...(o.breaking ? ['--breaking-changes', o.breaking] : []), '--released-at', '2026-11-29T10:00:00.000Z', '--out', out,
  ], { env: { RELEASE_SIGNING_SECRET: o.secret ?? SECRET } });
  expect(r.code, r.stderr).toBe(0);
  const bytes = await fsp.readFile(out);
  feed.files.set('/releases/latest.json', bytes);
  return JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
}

const logLines = async (): Promise<string[]> => (await fsp.readFile(log(), 'utf8').catch(() => '')).split('\n').filter(Boolean);

beforeAll(async () => {
  dir = await tempDir('upkeep-hmac-e2e-');
  feed = await startStaticServer();
  // The service's health endpoint reports the version the switch (or rollback) step left running.
  health = http.createServer((_req, res) => {
    healthHits += 1;
    void fsp.readFile(running(), 'utf8').catch(() => 'none').then((v) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ status: 'ok', version: v }));
    });
  });
  await new Promise<void>((r) => health.listen(0, '127.0.0.1', r));
  healthUrl = `http://127.0.0.1:${(health.address() as AddressInfo).port}/health`;
  await fsp.writeFile(running(), '1.3.0');
  await fsp.writeFile(path.join(dir, 'upkeep.yaml'), [
    'state_dir: ./state',
    'targets:',
    '  - id: api',
    '    kind: command',
    '    install_dir: ./srv',
    '    product: api',
    '    channel: stable',
    '    initial_version: 1.3.0',
    `    feed: { type: hmac-manifest, url: "${feed.url}/releases/latest.json" }`,
    '    trust: { hmac_secret_env: RELEASE_SIGNING_SECRET }',
    '    hook_timeout: 30',
    '',
  ].join('\n'));
  await fsp.mkdir(path.join(dir, 'srv'));
});
afterAll(async () => {
  await feed.close();
  await new Promise<void>((r) => { health.closeAllConnections(); health.close(() => r()); });
  await fsp.rm(dir, { recursive: true, force: true });
});

describe('seed 003: hmac-manifest feed driving the default command target through the CLI', () => {
  it('release manifest → check → apply runs backup, pull, migrate, smoke, switch, health in order → rollback', async () => {
    const m = await publish('1.4.0', { breaking: 'Drops legacy orders API' });
    expect(Object.keys(m)).toEqual(['version', 'sha', 'channel', 'migrations_required', 'breaking_changes', 'released_at', 'signature']);
    expect(m).toMatchObject({ version: '1.4.0', sha: '0f00ba140', channel: 'stable', migrations_required: true, breaking_changes: 'Drops legacy orders API' });
    expect(m.signature).toMatch(/^[0-9a-f]{64}$/);

    const check = await cli(['check', '--json']);
    expect(check.code, check.stderr).toBe(0);
    expect(check.json).toMatchObject({ target: 'api', current_version: '1.3.0', latest_version: '1.4.0', update_available: true });
    const text = await cli(['check']);
    expect(text.stdout).toContain('1.3.0 -> 1.4.0');
    // Accepted, with the warning that a shared secret is not public-key security.
    expect(text.stderr).toMatch(/^warn: api: .*shared HMAC secret.*not public-key security/m);

    const apply = await cli(['apply', '--json']);
    expect(apply.code, apply.stderr + apply.stdout).toBe(0);
    expect(apply.json).toMatchObject({ success: true, target: 'api', version: '1.4.0', from_version: '1.3.0' });
    expect(apply.json.rollback_id).toMatch(/^rb_/);
    expect(await logLines()).toEqual(['backup', 'pull', 'migrate', 'smoke', 'switch'].map((s) => `${s} 1.3.0 -> 1.4.0`));
    expect(healthHits).toBeGreaterThan(0);
    expect(await fsp.readFile(running(), 'utf8')).toBe('1.4.0');
    expect((await cli(['status', 'api', '--json'])).json).toMatchObject({ current_version: '1.4.0' });

    const rb = await cli(['rollback', '--yes', '--json']);
    expect(rb.code, rb.stderr + rb.stdout).toBe(0);
    expect(rb.json).toMatchObject({ success: true, version: '1.3.0', from_version: '1.4.0' });
    expect((await logLines()).slice(5)).toEqual(['rollback 1.4.0 -> 1.3.0']);
    expect(await fsp.readFile(running(), 'utf8')).toBe('1.3.0');
    const hist = await cli(['history', '--json']);
    expect(hist.json.map((h: { operation: string; result: string }) => `${h.operation}:${h.result}`)).toEqual(expect.arrayContaining(['apply:success', 'rollback:success']));
  }, CLI_TIMEOUT_MS);

  it('a failing smoke step runs the rollback command: exit 1, ERR_STEP_FAILED, the version kept, history rolled_back', async () => {
    await fsp.rm(log(), { force: true });
    await publish('1.5.0');
    const env = stepEnv({ UPDATE_SMOKE_CMD: step('smoke', 'exit 7') });
    const r = await cli(['apply', '--json'], env);
    expect(r.code, r.stderr + r.stdout).toBe(1);
    expect(r.json.error).toMatchObject({ code: 'ERR_STEP_FAILED', details: { rolled_back: true } });
    // The rollback command returns to 1.3.0 (FROM the version left, TO the one returned to, as in a manual rollback); switch never ran.
    expect(await logLines()).toEqual([...['backup', 'pull', 'migrate', 'smoke'].map((s) => `${s} 1.3.0 -> 1.5.0`), 'rollback 1.5.0 -> 1.3.0']);
    expect(await fsp.readFile(running(), 'utf8')).toBe('1.3.0');
    const text = await cli(['apply'], env);
    expect(text.code).toBe(1);
    expect(text.stderr).toContain('ERR_STEP_FAILED');
    expect(text.stderr).toMatch(/smoke/);
    expect((await cli(['status', 'api', '--json'], env)).json).toMatchObject({ current_version: '1.3.0' });
    const hist = await cli(['history', '--json'], env);
    expect(hist.json[0]).toMatchObject({ operation: 'apply', result: 'rolled_back', from_version: '1.3.0', to_version: '1.5.0', error_code: 'ERR_STEP_FAILED' });
  }, CLI_TIMEOUT_MS);

  it('a manifest signed with another secret is refused before any step runs: exit 3, ERR_SIGNATURE_INVALID', async () => {
    await fsp.rm(log(), { force: true });
    await publish('1.6.0', { secret: 'not-the-shared-secret' });
    const r = await cli(['apply', '--json']);
    expect(r.code, r.stderr + r.stdout).toBe(3);
    expect(r.json.error.code).toBe('ERR_SIGNATURE_INVALID');
    const check = await cli(['check']);
    expect(check.code).toBe(3);
    expect(check.stderr).toContain('ERR_SIGNATURE_INVALID');
    expect(await logLines()).toEqual([]);
    expect(await fsp.readFile(running(), 'utf8')).toBe('1.3.0');
    expect((await cli(['status', 'api', '--json'])).json).toMatchObject({ current_version: '1.3.0' });
    const hist = await cli(['history', '--json']);
    expect(hist.json[0]).toMatchObject({ operation: 'check', result: 'refused', error_code: 'ERR_SIGNATURE_INVALID' });
    expect(hist.json[1]).toMatchObject({ operation: 'apply', result: 'refused', error_code: 'ERR_SIGNATURE_INVALID' });
  }, CLI_TIMEOUT_MS);
});
