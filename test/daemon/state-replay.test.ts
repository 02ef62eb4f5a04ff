/**
 * Replays operations through the real daemon's event stream (GET /api/events over HTTP) and
 * checks what every UI sees: the exact sequence of state kinds, and a percent that never goes
 * down within an operation — for an apply with a health check, a manual rollback, an automatic
 * rollback after a failed health check, and a cancelled download (409 ERR_CANCELLED).
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { createReadStream, promises as fsp } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Fixture, call, collectEvents, startInProcess, type InProcess } from './helpers';

type Ev = { event: string; data: any };

/** State kinds of target demo in stream order, consecutive repeats collapsed, the initial snapshot dropped. */
function kinds(events: Ev[]): string[] {
  const out: string[] = [];
  for (const e of events.slice(1)) {
    if (e.event !== 'state' || e.data.target.id !== 'demo') continue;
    const k = e.data.target.state.kind as string;
    if (out[out.length - 1] !== k) out.push(k);
  }
  return out;
}

/** Every percent the stream showed for operation `op` (progress events and progress inside states). */
function percents(events: Ev[], op: string): number[] {
  const out: number[] = [];
  for (const e of events) {
    const p = e.event === 'progress' ? e.data.progress : e.event === 'state' ? e.data.target.state.progress : undefined;
    if (p && p.operation_id === op) out.push(p.percent);
  }
  return out;
}

function expectMonotonic(xs: number[]): void {
  expect(xs.length).toBeGreaterThan(1);
  for (let i = 1; i < xs.length; i++) expect(xs[i], `percent ${xs[i]} after ${xs[i - 1]}`).toBeGreaterThanOrEqual(xs[i - 1]!);
}

const opOf = (events: Ev[], operation: string): string => events.find((e) => e.event === 'history' && e.data.record.operation === operation)!.data.record.id;
const RESTING = new Set(['idle', 'up-to-date', 'available', 'failed']);
/** The operation's history record arrived and a resting state followed it. */
const ended = (operation: string) => (evs: Ev[]) => {
  const h = evs.findIndex((e) => e.event === 'history' && e.data.record.operation === operation);
  return h >= 0 && evs.slice(h).some((e) => e.event === 'state' && e.data.target.id === 'demo' && RESTING.has(e.data.target.state.kind));
};

describe('the state sequence every UI sees', () => {
  let fx: Fixture;
  let d: InProcess;

  beforeAll(async () => {
    fx = await Fixture.create();
    await fx.publish('1.0.0', { 'bin/demo': 'v1', 'lib/a.so': 'a1' });
    const health = `health: { command: ${JSON.stringify(`test ! -f ${path.join(fx.installDir, 'bin', 'broken')}`)}, retries: 0, interval_s: 0 }`;
    await fx.writeConfig(fx.configText({ target: [health] }));
    d = await startInProcess(fx.configPath);
  });

  afterAll(async () => {
    await d?.close();
    await fx?.cleanup();
  });

  async function replay(operation: string, start: () => Promise<{ status: number; body: any; text: string }>): Promise<{ events: Ev[]; res: { status: number; body: any; text: string } }> {
    let res: Promise<{ status: number; body: any; text: string }> | null = null;
    const events = await collectEvents(d.url, fx.reader.token, ended(operation), { onOpen: () => (res = start()) });
    expect(res).not.toBeNull();
    return { events, res: await res! };
  }

  it('apply with a health check: checking → downloading → verifying → applying → health-checking → up-to-date', async () => {
    const { events, res } = await replay('apply', () => call(d.url, 'POST', '/api/targets/demo/apply', { token: fx.admin.token, json: {} }));
    expect(res.status, res.text).toBe(200);
    expect(kinds(events), JSON.stringify(kinds(events))).toEqual(['checking', 'downloading', 'verifying', 'applying', 'health-checking', 'up-to-date']);
    const ps = percents(events, opOf(events, 'apply'));
    expectMonotonic(ps);
    expect(ps[ps.length - 1]).toBe(100);
  });

  it('a failed health check rolls back automatically: … → health-checking → rolling-back → failed', async () => {
    await fx.publish('1.1.0', { 'bin/demo': 'v2', 'lib/a.so': 'a2', 'bin/broken': 'x' });
    const { events, res } = await replay('apply', () => call(d.url, 'POST', '/api/targets/demo/apply', { token: fx.admin.token, json: {} }));
    expect(res.status).toBe(500);
    expect(res.body.error).toMatchObject({ code: 'ERR_HEALTH_CHECK_FAILED', details: { rolled_back: true, to_version: '1.1.0', rolled_back_to: '1.0.0' } });
    expect(kinds(events), JSON.stringify(kinds(events))).toEqual(['checking', 'downloading', 'verifying', 'applying', 'health-checking', 'rolling-back', 'failed']);
    expectMonotonic(percents(events, opOf(events, 'apply')));
    expect(await fsp.readFile(path.join(fx.installDir, 'bin', 'demo'), 'utf8')).toBe('v1');
  });

  it('a manual rollback: rolling-back → available (the version rolled back from is offered again)', async () => {
    await fx.publish('1.2.0', { 'bin/demo': 'v3', 'lib/a.so': 'a3' });
    const up = await call(d.url, 'POST', '/api/targets/demo/apply', { token: fx.admin.token, json: { version: '1.2.0' } });
    expect(up.status, up.text).toBe(200);
    const { events, res } = await replay('rollback', () => call(d.url, 'POST', '/api/targets/demo/rollback', { token: fx.admin.token }));
    expect(res.status, res.text).toBe(200);
    expect(res.body).toMatchObject({ version: '1.0.0', from_version: '1.2.0' });
    expect(kinds(events), JSON.stringify(kinds(events))).toEqual(['rolling-back', 'available']);
    expectMonotonic(percents(events, opOf(events, 'rollback')));
    expect(await fsp.readFile(path.join(fx.installDir, 'bin', 'demo'), 'utf8')).toBe('v1');
  });
});

describe('a cancelled download through the daemon', () => {
  let fx: Fixture;
  let d: InProcess;
  let server: http.Server;
  const stalled = new Set<http.ServerResponse>();

  beforeAll(async () => {
    fx = await Fixture.create();
    // The feed over HTTP; the new release's big blob sends a first chunk, then stalls.
    const big = 'x'.repeat(256 * 1024);
    server = http.createServer((req, res) => {
      const file = path.join(fx.feedDir, decodeURIComponent(new URL(req.url ?? '/', 'http://h').pathname));
      void fsp.readFile(file).then((bytes) => {
        if (bytes.length === big.length) {
          res.writeHead(200, { 'content-length': String(bytes.length) });
          res.write(bytes.subarray(0, 1024));
          stalled.add(res);
          return;
        }
        res.writeHead(200, { 'content-length': String(bytes.length) });
        createReadStream(file).pipe(res);
      }, () => {
        res.writeHead(404).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    await fx.publish('1.0.0', { 'bin/demo': 'v1' });
    await fx.writeConfig(fx.configText().replace(`feed: { url: ${JSON.stringify(fx.feedDir)} }`, `feed: { url: ${JSON.stringify(url)} }`));
    d = await startInProcess(fx.configPath);
    expect((await call(d.url, 'POST', '/api/targets/demo/apply', { token: fx.admin.token, json: {} })).status).toBe(200);
    await fx.publish('1.1.0', { 'bin/demo': 'v2', 'share/big.bin': big });
    expect((await call(d.url, 'POST', '/api/targets/demo/check', { token: fx.admin.token })).status).toBe(200);
  });

  afterAll(async () => {
    for (const r of stalled) r.destroy();
    await d?.close();
    await new Promise((r) => server?.close(r));
    await fx?.cleanup();
  });

  it('checking → downloading → available; 409 ERR_CANCELLED; history cancelled; a Cancelled notification', async () => {
    let res: Promise<{ status: number; body: any; text: string }> | null = null;
    let cancelled: Promise<{ status: number; body: any }> | null = null;
    const events = await collectEvents(d.url, fx.reader.token, (evs) => {
      if (!cancelled && evs.some((e) => e.event === 'state' && e.data.target.state.kind === 'downloading')) {
        cancelled = call(d.url, 'POST', '/api/targets/demo/cancel', { token: fx.admin.token });
      }
      return ended('apply')(evs) && evs.some((e) => e.event === 'state' && e.data.target.state.kind === 'available');
    }, { onOpen: () => (res = call(d.url, 'POST', '/api/targets/demo/apply', { token: fx.admin.token, json: {} })) });
    expect((await cancelled!).body).toEqual({ cancelled: true });
    const r = await res!;
    expect(r.status, r.text).toBe(409);
    expect(r.body.error.code).toBe('ERR_CANCELLED');
    expect(kinds(events), JSON.stringify(kinds(events))).toEqual(['checking', 'downloading', 'available']);
    const rec = events.find((e) => e.event === 'history')!.data.record;
    expect(rec).toMatchObject({ operation: 'apply', result: 'cancelled', error_code: 'ERR_CANCELLED' });
    const types = events.filter((e) => e.event === 'notification').map((e) => e.data.notification.type);
    expect(types).toContain('update_cancelled');
    expect(types).not.toContain('update_failed');
    expect(await fsp.readFile(path.join(fx.installDir, 'bin', 'demo'), 'utf8')).toBe('v1');
  });
});
