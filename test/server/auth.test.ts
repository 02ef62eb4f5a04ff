import { SignJWT } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { hashToken } from '../../src-main/server/auth';
import { isAllowedHost } from '../../src-main/server/host-check';
import { makeConfig } from './fake-core';
import { ADMIN, APPLIER, JWT_SECRET, READER, apiWithTokens, call, rawGet, rawRequest, startHarness, type Harness } from './helpers';

let h: Harness | null = null;
afterEach(async () => {
  await h?.close();
  h = null;
});

async function jwt(claims: Record<string, unknown>, o: { secret?: string; exp?: string | number; alg?: string } = {}): Promise<string> {
  let b = new SignJWT(claims).setProtectedHeader({ alg: o.alg ?? 'HS256' }).setIssuedAt();
  if (o.exp !== undefined) b = b.setExpirationTime(o.exp);
  return b.sign(new TextEncoder().encode(o.secret ?? JWT_SECRET));
}

describe('bearer tokens', () => {
  it('mutating routes: 401 without a token, 401 with an unknown one, 403 with a read-only one', async () => {
    h = await startHarness();
    const none = await call(h.server, 'POST', '/api/targets/app/check');
    expect(none.status).toBe(401);
    expect(none.body).toMatchObject({ code: 'ERR_UNAUTHORIZED', error: { code: 'ERR_UNAUTHORIZED' } });
    const bad = await call(h.server, 'POST', '/api/targets/app/check', { token: 'not-a-configured-token' });
    expect(bad.status).toBe(401);
    const reader = await call(h.server, 'POST', '/api/targets/app/check', { token: READER });
    expect(reader.status).toBe(403);
    expect(reader.body.code).toBe('ERR_FORBIDDEN');
    expect(h.core.called('check')).toHaveLength(0);
  });

  it('the configured hash itself is not a token: the presented token is hashed first', async () => {
    h = await startHarness();
    const r = await call(h.server, 'POST', '/api/targets/app/check', { token: hashToken(ADMIN) });
    expect(r.status).toBe(401);
    const ok = await call(h.server, 'POST', '/api/targets/app/check', { token: ADMIN });
    expect(ok.status).toBe(200);
  });

  it('update:apply may apply but not reload; admin may do both', async () => {
    h = await startHarness();
    expect((await call(h.server, 'POST', '/api/targets/app/apply', { token: APPLIER, json: {} })).status).toBe(200);
    expect((await call(h.server, 'POST', '/admin/reload', { token: APPLIER })).status).toBe(403);
    expect((await call(h.server, 'POST', '/admin/reload', { token: ADMIN })).status).toBe(200);
  });

  it('a token added by a config hot reload works at once; a removed one stops working', async () => {
    h = await startHarness();
    const fresh = 'fresh-token-after-reload';
    h.core.nextConfig = makeConfig({ tokens: [{ name: 'new', sha256: hashToken(fresh), scopes: ['admin'] }] });
    expect((await call(h.server, 'POST', '/admin/reload', { token: ADMIN })).status).toBe(200);
    expect((await call(h.server, 'POST', '/api/targets/app/check', { token: fresh })).status).toBe(200);
    expect((await call(h.server, 'POST', '/api/targets/app/check', { token: ADMIN })).status).toBe(401);
  });

  it('reads are public by default; public_reads: false needs any valid token', async () => {
    h = await startHarness();
    expect((await call(h.server, 'GET', '/api/targets')).status).toBe(200);
    await h.close();
    h = await startHarness(apiWithTokens({ public_reads: false }));
    const locked = await call(h.server, 'GET', '/api/targets');
    expect(locked.status).toBe(401);
    expect(locked.body.code).toBe('ERR_UNAUTHORIZED');
    expect((await call(h.server, 'GET', '/api/updates/rollback')).status).toBe(401);
    expect((await call(h.server, 'GET', '/metrics')).status).toBe(401);
    expect((await call(h.server, 'GET', '/api/targets', { token: READER })).status).toBe(200);
    expect((await call(h.server, 'GET', '/api/targets', { token: APPLIER })).status).toBe(200);
    expect((await call(h.server, 'GET', '/api/targets', { token: 'wrong' })).status).toBe(401);
    // /health stays public.
    expect((await call(h.server, 'GET', '/health')).status).toBe(200);
  });

  it('a presented token is checked on public reads too; /api/session names it', async () => {
    h = await startHarness();
    expect((await call(h.server, 'GET', '/api/targets', { token: 'wrong' })).status).toBe(401);
    const anonymous = await call(h.server, 'GET', '/api/session');
    expect(anonymous.status).toBe(200);
    expect(anonymous.body).toEqual({ authenticated: false, name: null, via: null, scopes: [] });
    const wrong = await call(h.server, 'GET', '/api/session', { token: 'not-a-configured-token' });
    expect(wrong.status).toBe(401);
    expect(wrong.body.code).toBe('ERR_UNAUTHORIZED');
    const reader = await call(h.server, 'GET', '/api/session', { token: READER });
    expect(reader.status).toBe(200);
    expect(reader.body).toMatchObject({ authenticated: true, via: 'token', scopes: ['read'] });
    const admin = await call(h.server, 'GET', '/api/session', { token: ADMIN });
    expect(admin.body).toMatchObject({ authenticated: true, scopes: ['admin'] });
  });

  it('the event stream takes the token as ?access_token= when reads are locked', async () => {
    h = await startHarness(apiWithTokens({ public_reads: false }));
    const denied = await fetch(`${h.server.url}/api/events`);
    expect(denied.status).toBe(401);
    await denied.body?.cancel();
    const ctrl = new AbortController();
    const ok = await fetch(`${h.server.url}/api/events?access_token=${READER}`, { signal: ctrl.signal });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-type')).toContain('text/event-stream');
    ctrl.abort();
    // Other routes do not read tokens from the query string.
    expect((await call(h.server, 'GET', `/api/targets?access_token=${READER}`)).status).toBe(401);
  });
});

describe('JWT (HS256)', () => {
  it('accepts a valid token with scope, an array scope, or role admin', async () => {
    h = await startHarness(apiWithTokens({ jwt_secret: JWT_SECRET }));
    const scoped = await jwt({ sub: 'deployer', scope: 'read update:apply' }, { exp: '5m' });
    expect((await call(h.server, 'POST', '/api/targets/app/check', { token: scoped })).status).toBe(200);
    expect((await call(h.server, 'POST', '/admin/reload', { token: scoped })).status).toBe(403);
    const array = await jwt({ scope: ['admin'] }, { exp: '5m' });
    expect((await call(h.server, 'POST', '/admin/reload', { token: array })).status).toBe(200);
    const role = await jwt({ role: 'admin' }, { exp: '5m' });
    expect((await call(h.server, 'POST', '/admin/reload', { token: role })).status).toBe(200);
  });

  it('rejects expired tokens, other secrets, other algorithms and tokens without scope', async () => {
    h = await startHarness(apiWithTokens({ jwt_secret: JWT_SECRET }));
    const expired = await jwt({ scope: 'admin' }, { exp: Math.floor(Date.now() / 1000) - 60 });
    const r = await call(h.server, 'POST', '/admin/reload', { token: expired });
    expect(r.status).toBe(401);
    expect(r.body).toMatchObject({ status: 'error', code: 'ERR_UNAUTHORIZED', message: 'Authentication required: Invalid token: expired' });

    const otherSecret = await jwt({ scope: 'admin' }, { secret: 'another-secret-that-is-32-chars-long!!' });
    expect((await call(h.server, 'POST', '/admin/reload', { token: otherSecret })).status).toBe(401);
    const hs512 = await jwt({ scope: 'admin' }, { alg: 'HS512' });
    expect((await call(h.server, 'POST', '/admin/reload', { token: hs512 })).status).toBe(401);
    const unsigned = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from('{"scope":"admin"}').toString('base64url')}.`;
    expect((await call(h.server, 'POST', '/admin/reload', { token: unsigned })).status).toBe(401);
    const noScope = await jwt({ sub: 'x' }, { exp: '5m' });
    expect((await call(h.server, 'POST', '/api/targets/app/check', { token: noScope })).status).toBe(403);
    // A token that never expires would be an admin credential forever: refused.
    const noExp = await jwt({ scope: 'admin' });
    expect((await call(h.server, 'POST', '/admin/reload', { token: noExp })).status).toBe(401);
    expect(h.core.called('reloadConfig')).toHaveLength(0);
  });

  it('JWTs are refused when no jwt_secret is configured', async () => {
    h = await startHarness();
    const token = await jwt({ scope: 'admin' });
    expect((await call(h.server, 'POST', '/admin/reload', { token })).status).toBe(401);
  });
});

describe('Host header (DNS rebinding)', () => {
  it('accepts the bound address, localhost and loopback names with the port; refuses others', async () => {
    h = await startHarness();
    const port = h.server.port;
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `LOCALHOST:${port}`, `[::1]:${port}`]) {
      expect((await rawGet(h.server, '/api/targets', { host })).status).toBe(200);
    }
    for (const host of ['evil.example', `evil.example:${port}`, `localhost:${port + 1}`, 'localhost']) {
      const r = await rawGet(h.server, '/api/targets', { host });
      expect(r.status).toBe(403);
      expect(JSON.parse(r.body).code).toBe('ERR_FORBIDDEN');
    }
    // Even /health: a rebinding page must learn nothing.
    expect((await rawGet(h.server, '/health', { host: 'evil.example' })).status).toBe(403);
  });

  it('refuses a request with two Host headers with 400, whichever comes first', async () => {
    h = await startHarness();
    const port = h.server.port;
    for (const hosts of [[`127.0.0.1:${port}`, 'evil.example'], ['evil.example', `127.0.0.1:${port}`], [`127.0.0.1:${port}`, `127.0.0.1:${port}`]]) {
      for (const route of ['/api/targets', '/health', '/api/updates']) {
        const r = await rawRequest(port, `GET ${route} HTTP/1.1\r\n${hosts.map((x) => `Host: ${x}\r\n`).join('')}Connection: close\r\n\r\n`);
        expect(r.status, `${route} with ${hosts.join(' + ')}`).toBe(400);
        expect(JSON.parse(r.body).code).toBe('ERR_BAD_REQUEST');
      }
    }
    const r = await rawRequest(port, `POST /api/v1/update HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nhost: 127.0.0.1:${port}\r\nAuthorization: Bearer ${ADMIN}\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}`);
    expect(r.status).toBe(400);
    expect(h.core.calls.some((c) => c.method === 'apply' || c.method === 'check' || c.method === 'download')).toBe(false);
    // One Host header still works on the same server.
    expect((await rawGet(h.server, '/api/targets', { host: `127.0.0.1:${port}` })).status).toBe(200);
  });

  it('accepts names listed in api.allowed_hosts (hot-reloadable)', async () => {
    h = await startHarness(apiWithTokens({ allowed_hosts: ['updates.internal'] }));
    expect((await rawGet(h.server, '/api/targets', { host: 'updates.internal' })).status).toBe(200);
    expect((await rawGet(h.server, '/api/targets', { host: 'updates.internal:8443' })).status).toBe(200);
    expect((await rawGet(h.server, '/api/targets', { host: 'other.internal' })).status).toBe(403);
    h.core.setConfig(makeConfig(apiWithTokens({ allowed_hosts: ['other.internal:443'] })));
    expect((await rawGet(h.server, '/api/targets', { host: 'other.internal:443' })).status).toBe(200);
    expect((await rawGet(h.server, '/api/targets', { host: 'updates.internal' })).status).toBe(403);
  });

  it('isAllowedHost handles IPv6 bound addresses and malformed values', () => {
    const policy = { boundHost: '::1', port: 8765, allowed: [] };
    expect(isAllowedHost('[::1]:8765', policy)).toBe(true);
    expect(isAllowedHost('[::1]:80', policy)).toBe(false);
    expect(isAllowedHost('127.0.0.1:8765@evil', policy)).toBe(false);
    expect(isAllowedHost(undefined, policy)).toBe(false);
    expect(isAllowedHost('192.168.1.5:8765', { boundHost: '192.168.1.5', port: 8765, allowed: [] })).toBe(true);
  });
});

describe('CORS', () => {
  it('sends no Access-Control-Allow-Origin unless the origin is configured', async () => {
    h = await startHarness();
    // A foreign page's request is refused outright (it could have side effects even unread).
    const r = await call(h.server, 'GET', '/api/targets', { headers: { origin: 'https://evil.example' } });
    expect(r.status).toBe(403);
    expect(r.headers.get('access-control-allow-origin')).toBeNull();
    const pre = await call(h.server, 'OPTIONS', '/api/targets/app/check', { headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' } });
    expect(pre.status).toBe(403);
    expect(pre.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('allows a configured origin, including the preflight', async () => {
    h = await startHarness(apiWithTokens({ cors_origins: ['https://ops.example'] }));
    const r = await call(h.server, 'GET', '/api/targets', { headers: { origin: 'https://ops.example' } });
    expect(r.headers.get('access-control-allow-origin')).toBe('https://ops.example');
    const pre = await call(h.server, 'OPTIONS', '/api/targets/app/check', { headers: { origin: 'https://ops.example', 'access-control-request-method': 'POST' } });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe('https://ops.example');
    expect(pre.headers.get('access-control-allow-headers')).toContain('Authorization');
  });
});

describe('cross-site requests', () => {
  it('refuses requests a page on another site makes, even simple GETs, unless the origin is allowed', async () => {
    h = await startHarness();
    const cross = await call(h.server, 'GET', '/api/updates', { headers: { 'sec-fetch-site': 'cross-site' } });
    expect(cross.status).toBe(403);
    expect(cross.body.code).toBe('ERR_FORBIDDEN');
    const foreign = await call(h.server, 'POST', '/api/targets/app/check', { token: ADMIN, headers: { origin: 'https://evil.example' } });
    expect(foreign.status).toBe(403);
    expect(h.core.called('check')).toHaveLength(0);
    // The dashboard's own requests (same origin) and non-browser clients (no headers) pass.
    const same = await call(h.server, 'POST', '/api/targets/app/check', { token: ADMIN, headers: { origin: h.server.url, 'sec-fetch-site': 'same-origin' } });
    expect(same.status).toBe(200);
    expect((await call(h.server, 'GET', '/api/targets')).status).toBe(200);
  });

  it('allows an origin listed in api.cors_origins', async () => {
    h = await startHarness(apiWithTokens({ cors_origins: ['https://ops.example'] }));
    const r = await call(h.server, 'POST', '/api/targets/app/check', { token: ADMIN, headers: { origin: 'https://ops.example', 'sec-fetch-site': 'cross-site' } });
    expect(r.status).toBe(200);
  });
});
