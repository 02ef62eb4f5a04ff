/**
 * Reads never starve an operation: while a target is working, status reads are paced by a token
 * bucket (delayed in FIFO order, never refused); when no operation works they pass straight
 * through, and the moment the last operation ends every waiting read is answered.
 */
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createDaemon, type Daemon } from '../../src-main/engine/daemon';
import { startServer, type RunningServer } from '../../src-main/server/index';
import type { TargetView } from '../../src-shared/api';
import { ReadGate } from '../../src-main/server/read-gate';
import { call as daemonCall, exists, Fixture, waitFor } from '../daemon/helpers';
import { call, startHarness, type Harness } from './helpers';

const progress = { operation_id: 'op1', phase: 'apply', message: 'Applying', bytes_done: 0, bytes_total: 0, speed_bps: 0, eta_s: null, files_done: 0, files_total: 10, percent: 50, cancellable: false } as const;
const working = (id: string): TargetView => ({ id, state: { kind: 'applying', progress } }) as unknown as TargetView;
const resting = (id: string): TargetView => ({ id, state: { kind: 'idle' } }) as unknown as TargetView;

describe('ReadGate', () => {
  it('admits every read at once while no operation works', () => {
    const g = new ReadGate({ ratePerSecond: 1, burst: 1 });
    for (let i = 0; i < 100; i++) expect(g.admit()).toBeUndefined();
    expect(g.pacing).toBe(false);
  });

  it('while an operation works: a burst at once, then one read per 1/rate s in arrival order; all released when it ends', async () => {
    let now = 0;
    const g = new ReadGate({ ratePerSecond: 100, burst: 2, now: () => now });
    g.onEvent({ type: 'state', target: working('a') });
    expect(g.pacing).toBe(true);
    expect(g.admit()).toBeUndefined();
    expect(g.admit()).toBeUndefined();
    const order: number[] = [];
    const waits = [0, 1, 2, 3].map((i) => g.admit()!.then(() => order.push(i)));
    expect(g.waiting).toBe(4);
    now = 10; // one token
    await new Promise((r) => setTimeout(r, 30));
    expect(order).toEqual([0]);
    now = 20;
    await new Promise((r) => setTimeout(r, 30));
    expect(order).toEqual([0, 1]);
    // Another target starting and ending changes nothing while 'a' still works.
    g.onEvent({ type: 'state', target: working('b') });
    g.onEvent({ type: 'state', target: resting('b') });
    expect(g.waiting).toBe(2);
    g.onEvent({ type: 'state', target: resting('a') });
    await Promise.all(waits);
    expect(order).toEqual([0, 1, 2, 3]);
    expect(g.pacing).toBe(false);
    expect(g.admit()).toBeUndefined();
  });

  it('a target a reload removed stops being followed: its waiting reads are let through', async () => {
    const g = new ReadGate({ ratePerSecond: 1, burst: 1, now: () => 0 });
    g.onEvent({ type: 'state', target: working('gone') });
    g.onEvent({ type: 'state', target: working('kept') });
    expect(g.admit()).toBeUndefined();
    const waiting = g.admit()!;
    g.keepOnly(new Set(['kept']));
    expect(g.pacing).toBe(true);
    g.keepOnly(new Set(['other']));
    expect(g.pacing).toBe(false);
    await waiting;
    expect(g.admit()).toBeUndefined();
  });

  it('past maxQueue waiting reads, a read is admitted at once rather than queued without bound', () => {
    const g = new ReadGate({ ratePerSecond: 1, burst: 1, maxQueue: 3, now: () => 0 });
    g.onEvent({ type: 'state', target: working('a') });
    expect(g.admit()).toBeUndefined();
    for (let i = 0; i < 3; i++) expect(g.admit()).toBeInstanceOf(Promise);
    expect(g.admit()).toBeUndefined();
    g.close();
  });
});

describe('status reads over HTTP while an operation works', () => {
  let h: Harness;
  afterEach(async () => h?.close());

  it('GET /api/targets is paced (never refused) while a target applies; /health is not; the end of the operation lets the rest through', async () => {
    h = await startHarness(undefined, { readGate: { ratePerSecond: 10, burst: 1 } });
    h.core.emit({ type: 'state', target: working('app') });
    const t0 = performance.now();
    const first = await Promise.all([0, 1, 2].map(() => call(h.server, 'GET', '/api/targets')));
    // One read at once, then one per 100 ms: three answers cannot come sooner than 200 ms.
    expect(performance.now() - t0).toBeGreaterThanOrEqual(190);
    expect(first.map((r) => r.status)).toEqual([200, 200, 200]);
    const health = await call(h.server, 'GET', '/health');
    expect(health.status).toBe(200);
    // Many more waiting: ending the operation answers them all, with the seed routes paced the same way.
    const pending = Promise.all([...Array.from({ length: 20 }, () => call(h.server, 'GET', '/api/targets')), call(h.server, 'GET', '/api/updates')]);
    await new Promise((r) => setTimeout(r, 50));
    h.core.emit({ type: 'state', target: resting('app') });
    const rest = await pending;
    expect(rest.every((r) => r.status === 200)).toBe(true);
  });
});

describe('status reads on the real daemon when a reload removes the working target', () => {
  let fx: Fixture;
  let core: Daemon | null = null;
  let server: RunningServer | null = null;
  afterEach(async () => {
    await server?.close();
    await core?.close();
    await fx?.cleanup();
  });

  it('once the removed target\'s apply ends, reads pass straight through again', async () => {
    fx = await Fixture.create('upkeep-gate-');
    await fx.publish('1.0.0', { 'bin/demo': 'v1' });
    const started = path.join(fx.dir, 'smoke-started');
    const other = (smoke: boolean) => [
      '- id: other',
      '  kind: files',
      '  install_dir: ./install-other',
      '  product: demo',
      `  feed: { url: ${JSON.stringify(fx.feedDir)} }`,
      `  trust: { keys: [${JSON.stringify(fx.key.line)}], threshold: 1 }`,
      ...(smoke ? ['  hooks:', `    smoke: 'touch ${started}; sleep 1'`] : []),
    ];
    await fx.writeConfig(fx.configText({ extraTargets: other(true) }));
    core = await createDaemon({ configPath: fx.configPath, env: {}, actor: 'api' });
    server = await startServer(core, { host: '127.0.0.1', port: 0, readGate: { ratePerSecond: 4, burst: 1 } });
    const url = server.url;
    const applying = daemonCall(url, 'POST', '/api/targets/other/apply', { token: fx.admin.token, json: { version: '1.0.0' } });
    applying.catch(() => undefined);
    await waitFor('the smoke hook to start', () => exists(started));
    await fx.writeConfig(fx.configText());
    expect((await daemonCall(url, 'POST', '/admin/reload', { token: fx.admin.token })).status).toBe(200);
    expect((await applying).status).toBe(200);
    // Nothing works any more: five reads at 4 a second would take a second if still paced.
    await new Promise((r) => setTimeout(r, 100));
    const t0 = performance.now();
    for (let i = 0; i < 5; i++) expect((await daemonCall(url, 'GET', '/api/targets', { token: fx.reader.token })).status).toBe(200);
    expect(performance.now() - t0).toBeLessThan(600);
  });
});
