import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { runHealthCheck, reportsVersion } from '../../src-main/engine/health';
import { HealthSchema } from '../../src-main/engine/config/schema';
import { UpkeepError } from '../../src-shared/errors';

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;
const routes = new Map<string, Handler>();
const hits = new Map<string, number>();
let server: http.Server;
let base: string;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const p = req.url ?? '/';
    hits.set(p, (hits.get(p) ?? 0) + 1);
    const h = routes.get(p);
    if (h) h(req, res);
    else res.writeHead(404).end('not found');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

const waits: number[] = [];
const sleep = async (ms: number): Promise<void> => { waits.push(ms); };
const cfg = (o: Record<string, unknown>) => HealthSchema.parse(o);

async function failure(p: Promise<unknown>): Promise<UpkeepError> {
  const err = await p.then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(UpkeepError);
  return err as UpkeepError;
}

describe('URL health checks', () => {
  it('passes on a 2xx answer at the first attempt', async () => {
    routes.set('/ok', (_q, s) => s.writeHead(204).end());
    expect(await runHealthCheck(cfg({ url: `${base}/ok` }), { version: '1.1.0', sleep })).toEqual({ attempts: 1 });
  });

  it('retries an unhealthy service until it becomes healthy', async () => {
    let n = 0;
    routes.set('/flaky', (_q, s) => { n++; if (n < 3) s.writeHead(503).end('starting'); else s.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok","version":"1.1.0"}'); });
    waits.length = 0;
    const r = await runHealthCheck(cfg({ url: `${base}/flaky`, retries: 5, interval_s: 0.25, expect_version: true }), { version: '1.1.0', sleep });
    expect(r).toEqual({ attempts: 3 });
    expect(waits).toEqual([250, 250]);
    expect(hits.get('/flaky')).toBe(3);
  });

  it('fails with the last reason after every retry', async () => {
    routes.set('/down', (_q, s) => s.writeHead(500).end('boom'));
    hits.delete('/down');
    const err = await failure(runHealthCheck(cfg({ url: `${base}/down`, retries: 2, interval_s: 0 }), { version: '1.1.0', sleep }));
    expect(err.code).toBe('ERR_HEALTH_CHECK_FAILED');
    expect(err.message).toContain('after 3 attempts');
    expect(err.message).toContain('HTTP 500');
    expect(err.details).toMatchObject({ attempts: 3 });
    expect(hits.get('/down')).toBe(3);
  });

  it('requires the new version when expect_version is set', async () => {
    routes.set('/old', (_q, s) => s.writeHead(200, { 'content-type': 'application/json' }).end('{"version":"1.0.0","build":"1.1.0"}'));
    const err = await failure(runHealthCheck(cfg({ url: `${base}/old`, retries: 1, interval_s: 0, expect_version: true }), { version: '1.1.0', sleep }));
    expect(err.code).toBe('ERR_HEALTH_CHECK_FAILED');
    expect(err.message).toContain('does not report version 1.1.0');

    routes.set('/text', (_q, s) => s.writeHead(200).end('demo server v1.1.0 up'));
    expect(await runHealthCheck(cfg({ url: `${base}/text`, expect_version: true }), { version: '1.1.0', sleep })).toEqual({ attempts: 1 });
    // Without expect_version the old version is still healthy.
    expect(await runHealthCheck(cfg({ url: `${base}/old` }), { version: '1.1.0', sleep })).toEqual({ attempts: 1 });
  });

  it('counts an answer slower than timeout_s as a failure', async () => {
    routes.set('/slow', (_q, s) => { const t = setTimeout(() => s.writeHead(200).end('late'), 5_000); s.on('close', () => clearTimeout(t)); });
    const err = await failure(runHealthCheck(cfg({ url: `${base}/slow`, timeout_s: 0.3, retries: 1, interval_s: 0 }), { version: '1.1.0', sleep }));
    expect(err.code).toBe('ERR_HEALTH_CHECK_FAILED');
    expect(err.message).toContain('did not answer within 0.3s');
  });

  it('reports a refused connection', async () => {
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', () => r()));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const err = await failure(runHealthCheck(cfg({ url: `http://127.0.0.1:${port}/`, retries: 0 }), { version: '1', sleep }));
    expect(err.message).toContain('ECONNREFUSED');
    expect(err.message).toContain('after 1 attempt:');
  });

  it('stops with ERR_CANCELLED when aborted between attempts', async () => {
    routes.set('/never', (_q, s) => s.writeHead(503).end());
    const ac = new AbortController();
    const err = await failure(runHealthCheck(cfg({ url: `${base}/never`, retries: 10, interval_s: 30 }), { version: '1', signal: ac.signal, sleep: async () => { ac.abort(); } }));
    expect(err.code).toBe('ERR_CANCELLED');
    const real = await failure((() => { const c = new AbortController(); setTimeout(() => c.abort(), 100); return runHealthCheck(cfg({ url: `${base}/never`, retries: 10, interval_s: 30 }), { version: '1', signal: c.signal }); })());
    expect(real.code).toBe('ERR_CANCELLED');
  });
});

describe.runIf(process.platform !== 'win32')('command health checks', () => {
  it('passes on exit 0 and checks the version in stdout', async () => {
    expect(await runHealthCheck(cfg({ command: 'echo "demo $WANT"', expect_version: true }), { version: '2.0.0', env: { WANT: '2.0.0' }, sleep })).toEqual({ attempts: 1 });
    const err = await failure(runHealthCheck(cfg({ command: 'echo demo 1.9.9', expect_version: true, retries: 0 }), { version: '2.0.0', sleep }));
    expect(err.message).toContain('does not report version 2.0.0');
  });

  it('retries a failing command and reports its last error', async () => {
    const err = await failure(runHealthCheck(cfg({ command: 'echo "db not ready" >&2; exit 2', retries: 2, interval_s: 0 }), { version: '1', sleep }));
    expect(err.code).toBe('ERR_HEALTH_CHECK_FAILED');
    expect(err.message).toBe('health check failed after 3 attempts: command exited with code 2: db not ready');
  });

  it('times a hanging command out', async () => {
    const err = await failure(runHealthCheck(cfg({ command: 'sleep 30', timeout_s: 0.3, retries: 0 }), { version: '1', sleep }));
    expect(err.message).toContain('command timed out after 0.3s');
  });
});

describe('reportsVersion', () => {
  it('matches the JSON field or a whole version word', () => {
    expect(reportsVersion('{"version":"v1.2.3"}', '1.2.3')).toBe(true);
    expect(reportsVersion('{"version":"1.2.4","old":"1.2.3"}', '1.2.3')).toBe(false);
    expect(reportsVersion('{"status":"ok","app":{"v":"1.2.3"}}', '1.2.3')).toBe(true);
    expect(reportsVersion('running 1.2.3.', '1.2.3')).toBe(true);
    expect(reportsVersion('running 11.2.3', '1.2.3')).toBe(false);
    expect(reportsVersion('running 1.2.3-rc.1', '1.2.3')).toBe(false);
    expect(reportsVersion('running 1.2.30', '1.2.3')).toBe(false);
    expect(reportsVersion('1x2y3', '1.2.3')).toBe(false);
  });
});
