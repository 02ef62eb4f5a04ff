import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { promises as fsp } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { ComposeTargetSchema, type ComposeTargetConfig } from '../../../src-main/engine/config/schema';
import { ComposeDriver } from '../../../src-main/engine/compose/compose-driver';
import { ComposeFeed } from '../../../src-main/engine/compose/compose-feed';
import { systemClock } from '../../../src-main/engine/clock';
import { DEFAULT_LIMITS } from '../../../src-main/engine/limits';
import type { ApplyPlan } from '../../../src-main/engine/drivers/driver';
import { tempDir } from '../../helpers/tree';
import { startRegistry, type Registry } from './registry-fixture';
import { installDockerStub, type StubWorld } from './docker-stub';

let reg: Registry;
let dir: string;
let stub: Awaited<ReturnType<typeof installDockerStub>>;
let health: http.Server;
let healthUrl: string;
const bad = new Set<string>();
const saved = { PATH: process.env.PATH };

beforeAll(async () => {
  reg = await startRegistry();
  dir = await tempDir('upkeep-compose-');
  stub = await installDockerStub(path.join(dir, 'bin'), path.join(dir, 'docker-world.json'), require.resolve('yaml'));
  Object.assign(process.env, stub.env, { PATH: `${path.join(dir, 'bin')}:${process.env.PATH}`, REG: reg.host });
  // Healthy unless the api container runs a digest marked bad.
  health = http.createServer((_req, res) => {
    void stub.world().then((w) => {
      const api = w.running.api ?? '';
      res.writeHead([...bad].some((d) => api.endsWith(d)) ? 503 : 200);
      res.end();
    });
  });
  await new Promise<void>((r) => health.listen(0, '127.0.0.1', r));
  healthUrl = `http://127.0.0.1:${(health.address() as { port: number }).port}/health`;
});
afterAll(async () => {
  process.env.PATH = saved.PATH;
  health?.close();
  await reg?.stop();
});

function target(over: Record<string, unknown> = {}): ComposeTargetConfig {
  return ComposeTargetSchema.parse({
    id: 'stack', kind: 'compose', install_dir: dir, compose_file: path.join(dir, 'docker-compose.yml'), services: [],
    health: { url: healthUrl, retries: 1, interval_s: 0.1, timeout_s: 2 }, hooks: { rollback: `echo rolled >> ${path.join(dir, 'rollback.log')}` },
    ...over,
  });
}

function driverFor(t: ComposeTargetConfig): ComposeDriver {
  const state = path.join(dir, 'state');
  return new ComposeDriver(t, { paths: { stateDir: path.join(state, 'targets', t.id), pointsDir: path.join(state, 'points', t.id), cacheDir: path.join(state, 'blobs'), releasesDir: path.join(state, 'releases') }, reservedDirs: [], clock: systemClock, limits: DEFAULT_LIMITS });
}

async function checkAndPlan(t: ComposeTargetConfig, d: ComposeDriver, retention = 3): Promise<ApplyPlan | null> {
  const feed = new ComposeFeed(t, 'stable');
  const from = await d.currentVersion();
  const [c] = await feed.candidates(from, { skip_versions: [], machine_id: 'm' });
  if (!c) return null;
  return { opId: 'op', from, to: c.version, release: await feed.release(c.version), artifacts: new Map(), retention };
}

/** The compose subcommands that change the stack (pull, up), in order, without the -f/-p options. */
const composeCalls = (w: StubWorld) => w.calls.filter((c) => c[0] === 'compose')
  .map((c) => c.slice(c.findIndex((a, i) => i > 0 && !a.startsWith('-') && c[i - 1] !== '-f' && c[i - 1] !== '-p')).join(' '))
  .filter((c) => /^(pull|up)\b/.test(c));
const pinned = (repo: string, digest: string) => `${reg.host}/${repo}@${digest}`;

describe('compose target driver (real registry, stand-in docker)', () => {
  let api1: string;
  let web1: string;
  beforeEach(async () => {
    await fsp.rm(path.join(dir, 'state'), { recursive: true, force: true });
    await fsp.rm(path.join(dir, 'rollback.log'), { force: true });
    await fsp.writeFile(path.join(dir, 'docker-compose.yml'), [
      'services:',
      '  api:',
      '    image: ${REG}/acme/api:stable',
      '  web:',
      '    image: ${REG}/acme/web:stable',
      '  worker:',
      '    build: ./worker',
      '',
    ].join('\n'));
    api1 = await reg.push('acme/api', 'stable', `api-${Date.now()}-1`);
    web1 = await reg.pushIndex('acme/web', 'stable', `web-${Date.now()}`);
    await stub.seed({
      images: { [pinned('acme/api', api1)]: true, [pinned('acme/web', web1)]: true },
      running: { api: pinned('acme/api', api1), web: pinned('acme/web', web1) },
      calls: [],
    });
  });

  it('sees no update while the registry serves what runs, then pulls and recreates only the changed service', async () => {
    const t = target();
    const d = driverFor(t);
    expect(await checkAndPlan(t, d)).toBeNull();
    const api2 = await reg.push('acme/api', 'stable', `api-${Date.now()}-2`);
    const plan = await checkAndPlan(t, d);
    expect(plan).not.toBeNull();
    await stub.seed({ calls: [] });
    const out = await d.apply(plan!, new AbortController().signal, () => undefined);
    expect(out).toMatchObject({ kind: 'committed', files_updated: ['api'] });
    const w = await stub.world();
    expect(composeCalls(w)).toEqual(['pull api', 'up -d api']);
    expect(w.running).toEqual({ api: pinned('acme/api', api2), web: pinned('acme/web', web1) });
    expect(await fsp.readFile(path.join(dir, 'state', 'targets', 'stack', 'compose-pin.yml'), 'utf8')).toContain(`image: ${pinned('acme/api', api2)}`);
    expect(await d.currentVersion()).toBe(plan!.to);
    expect(await d.points()).toMatchObject([{ from_version: plan!.from, to_version: plan!.to }]);
    // The user's compose file is never edited.
    expect(await fsp.readFile(path.join(dir, 'docker-compose.yml'), 'utf8')).toContain('image: ${REG}/acme/api:stable');
  });

  it('pins the previous digests and recreates again when the health check fails', async () => {
    const t = target();
    const d = driverFor(t);
    const api3 = await reg.push('acme/api', 'stable', `api-${Date.now()}-bad`);
    bad.add(api3);
    const plan = await checkAndPlan(t, d);
    await stub.seed({ calls: [] });
    const out = await d.apply(plan!, new AbortController().signal, () => undefined);
    expect(out).toMatchObject({ kind: 'rolled_back', cause: { code: 'ERR_HEALTH_CHECK_FAILED' } });
    const w = await stub.world();
    expect(composeCalls(w)).toEqual(['pull api', 'up -d api', 'up -d api']);
    expect(w.running.api).toBe(pinned('acme/api', api1));
    expect(await fsp.readFile(path.join(dir, 'rollback.log'), 'utf8')).toBe('rolled\n');
    expect(await d.points()).toEqual([]);
  });

  it('rolls back when docker compose up fails, and reports the failing command', async () => {
    const t = target();
    const d = driverFor(t);
    await reg.push('acme/api', 'stable', `api-${Date.now()}-3`);
    const plan = await checkAndPlan(t, d);
    process.env.DOCKER_STUB_FAIL = 'up';
    try {
      const out = await d.apply(plan!, new AbortController().signal, () => undefined);
      expect(out).toMatchObject({ kind: 'undo_failed', cause: { code: 'ERR_STEP_FAILED', message: expect.stringMatching(/docker compose up failed: exit code 1\nError response from daemon: simulated up failure/) } });
    } finally {
      delete process.env.DOCKER_STUB_FAIL;
    }
    // The undo's `up` failed too (same simulated fault): recovery pins the old digests again.
    expect(await d.recover()).toBe('rolled-back');
    expect((await stub.world()).running.api).toBe(pinned('acme/api', api1));
  });

  it('rolls back manually to a point, and prunes images of points beyond retention', async () => {
    const t = target();
    const d = driverFor(t);
    const api2 = await reg.push('acme/api', 'stable', `api-${Date.now()}-a`);
    await d.apply((await checkAndPlan(t, d, 1))!, new AbortController().signal, () => undefined);
    const api3 = await reg.push('acme/api', 'stable', `api-${Date.now()}-b`);
    const out = await d.apply((await checkAndPlan(t, d, 1))!, new AbortController().signal, () => undefined);
    expect(out.kind).toBe('committed');
    let w = await stub.world();
    expect(w.running.api).toBe(pinned('acme/api', api3));
    // Retention 1: the point holding api1 went, and so did its image.
    expect(w.images[pinned('acme/api', api1)]).toBeUndefined();
    expect(w.images[pinned('acme/api', api2)]).toBe(true);
    const rb = await d.rollback(null, 'op_rb', new AbortController().signal, () => undefined);
    expect(rb).toMatchObject({ kind: 'committed' });
    w = await stub.world();
    expect(w.running.api).toBe(pinned('acme/api', api2));
    expect(await d.points()).toEqual([]);
  });
});
