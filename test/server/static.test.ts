import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DASHBOARD_CSP } from '../../src-main/server/static';
import { apiWithTokens, call, startHarness, type Harness } from './helpers';

let dir: string;
let h: Harness | null = null;
beforeEach(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'upkeep-dashboard-'));
  await fsp.writeFile(path.join(dir, 'index.html'), '<!doctype html><html><head><script src="./assets/app.js"></script></head><body><div id="root"></div></body></html>');
  await fsp.mkdir(path.join(dir, 'assets'));
  await fsp.writeFile(path.join(dir, 'assets', 'app.js'), 'console.log("dashboard");');
});
afterEach(async () => {
  await h?.close();
  h = null;
  await fsp.rm(dir, { recursive: true, force: true });
});

describe('web dashboard', () => {
  it('serves index.html at / with the CSP and security headers', async () => {
    h = await startHarness(undefined, { staticDir: dir });
    const r = await call(h.server, 'GET', '/');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^text\/html/);
    expect(r.text).toContain('<div id="root">');
    expect(r.headers.get('content-security-policy')).toBe(DASHBOARD_CSP);
    expect(DASHBOARD_CSP).toContain("frame-ancestors 'none'");
    expect(r.headers.get('x-content-type-options')).toBe('nosniff');
    expect(r.headers.get('referrer-policy')).toBe('no-referrer');
  });

  it('serves assets, while the API routes keep working next to it', async () => {
    h = await startHarness(undefined, { staticDir: dir });
    const js = await call(h.server, 'GET', '/assets/app.js');
    expect(js.status).toBe(200);
    expect(js.text).toBe('console.log("dashboard");');
    expect(js.headers.get('x-content-type-options')).toBe('nosniff');
    expect((await call(h.server, 'GET', '/api/targets')).status).toBe(200);
    const missing = await call(h.server, 'GET', '/assets/none.js');
    expect(missing.status).toBe(404);
    expect(missing.body.code).toBe('ERR_NOT_FOUND');
  });

  it('stays reachable with public_reads off (the page asks for the token itself)', async () => {
    h = await startHarness(apiWithTokens({ public_reads: false }), { staticDir: dir });
    expect((await call(h.server, 'GET', '/')).status).toBe(200);
    expect((await call(h.server, 'GET', '/api/targets')).status).toBe(401);
  });

  it('does not serve files outside the directory', async () => {
    await fsp.writeFile(path.join(path.dirname(dir), `${path.basename(dir)}-secret.txt`), 'secret');
    h = await startHarness(undefined, { staticDir: dir });
    const res = await fetch(`${h.server.url}/..%2f${path.basename(dir)}-secret.txt`);
    // Refused as a client error, not an internal one.
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expect(await res.text()).not.toContain('secret');
    await fsp.rm(path.join(path.dirname(dir), `${path.basename(dir)}-secret.txt`), { force: true });
  });

  it('is not served without staticDir, or when the directory has no index.html', async () => {
    h = await startHarness();
    expect((await call(h.server, 'GET', '/')).status).toBe(404);
    await h.close();
    const empty = await fsp.mkdtemp(path.join(os.tmpdir(), 'upkeep-empty-'));
    const warnings: string[] = [];
    h = await startHarness(undefined, { staticDir: empty, log: (level, m) => warnings.push(`${level}: ${m}`) });
    expect((await call(h.server, 'GET', '/')).status).toBe(404);
    expect(warnings.some((w) => w.startsWith('warn:') && w.includes('index.html'))).toBe(true);
    await fsp.rm(empty, { recursive: true, force: true });
  });
});
