import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeConfig } from './fake-core';
import { ADMIN, APPLIER, apiWithTokens, call, startHarness, type Harness } from './helpers';

let h: Harness;
beforeEach(async () => {
  h = await startHarness(apiWithTokens({ body_limit_bytes: 1024 }));
});
afterEach(async () => {
  await h.close();
});

describe('canonical routes', () => {
  it('GET /health is public and names version and config generation', async () => {
    const r = await call(h.server, 'GET', '/health');
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ status: 'ok', version: '9.9.9-test', config_generation: 1 });
  });

  it('GET /api/info, /api/targets and /api/targets/:id return the core views', async () => {
    const info = await call(h.server, 'GET', '/api/info');
    expect(info.body).toMatchObject({ version: '9.9.9-test', config_generation: 1, config_path: '/srv/upkeep/upkeep.yaml' });
    const list = await call(h.server, 'GET', '/api/targets');
    expect(list.body.map((t: { id: string }) => t.id)).toEqual(['app', 'tool']);
    const one = await call(h.server, 'GET', '/api/targets/tool');
    expect(one.body).toMatchObject({ id: 'tool', current_version: '2.0.0' });
  });

  it('GET /api/targets/:id/releases lists the eligible releases newest first; unknown targets are 404', async () => {
    const r = await call(h.server, 'GET', '/api/targets/app/releases');
    expect(r.status).toBe(200);
    expect(r.body.target).toBe('app');
    expect(r.body.eligible.map((x: { version: string }) => x.version)).toEqual(['1.2.0']);
    expect(r.body.installed?.version).toBe('1.0.0');
    expect(r.body.rollout_pending).toBeNull();
    expect(h.core.called('listReleases').map((c) => c.args)).toEqual([['app']]);
    const missing = await call(h.server, 'GET', '/api/targets/nope/releases');
    expect(missing.status).toBe(404);
    expect(missing.body.code).toBe('ERR_TARGET_NOT_FOUND');
  });

  it('an unknown target is 404 ERR_TARGET_NOT_FOUND in the canonical error body', async () => {
    const r = await call(h.server, 'GET', '/api/targets/ghost');
    expect(r.status).toBe(404);
    expect(r.body).toEqual({
      error: { code: 'ERR_TARGET_NOT_FOUND', message: "Unknown target 'ghost'" },
      code: 'ERR_TARGET_NOT_FOUND',
      message: "Unknown target 'ghost'",
    });
  });

  it('check, download, apply, points, rollback and history run against the target', async () => {
    const check = await call(h.server, 'POST', '/api/targets/app/check', { token: APPLIER });
    expect(check.status).toBe(200);
    expect(check.body).toMatchObject({ target: 'app', update_available: true, latest_version: '1.2.0' });

    const dl = await call(h.server, 'POST', '/api/targets/app/download', { token: APPLIER, json: { version: '1.2.0' } });
    expect(dl.body).toMatchObject({ success: true, version: '1.2.0', files: 1, bytes: 1024 });

    const verify = await call(h.server, 'POST', '/api/targets/app/apply', { token: APPLIER, json: { verify_only: true } });
    expect(verify.body).toMatchObject({ success: true, verify_only: true, version: '1.2.0' });
    expect(h.core.called('apply')[0].args).toEqual(['app', { verify_only: true }]);

    const applied = await call(h.server, 'POST', '/api/targets/app/apply', { token: APPLIER, json: { version: '1.2.0' } });
    expect(applied.body).toMatchObject({ success: true, from_version: '1.0.0', version: '1.2.0', files_updated: ['bin/demo'] });

    const points = await call(h.server, 'GET', '/api/targets/app/points');
    expect(points.body).toHaveLength(1);
    expect(points.body[0]).toMatchObject({ rollback_id: applied.body.rollback_id, to_version: '1.2.0' });

    const rb = await call(h.server, 'POST', '/api/targets/app/rollback', { token: APPLIER });
    expect(rb.body).toMatchObject({ success: true, rollback_id: applied.body.rollback_id, version: '1.0.0' });

    const hist = await call(h.server, 'GET', '/api/targets/app/history?limit=2');
    expect(hist.body.map((r: { operation: string }) => r.operation)).toEqual(['rollback', 'apply']);
    const all = await call(h.server, 'GET', '/api/history');
    expect(all.body).toHaveLength(3);
    expect(h.core.called('history').map((c) => c.args)).toEqual([['app', 2], [undefined, undefined]]);
  });

  it('POST /api/targets/:id/rollback/:rollback_id restores a named point', async () => {
    const applied = await call(h.server, 'POST', '/api/targets/app/apply', { token: ADMIN, json: {} });
    const rb = await call(h.server, 'POST', `/api/targets/app/rollback/${applied.body.rollback_id}`, { token: ADMIN });
    expect(rb.status).toBe(200);
    expect(rb.body.rollback_id).toBe(applied.body.rollback_id);
    const missing = await call(h.server, 'POST', '/api/targets/app/rollback/rb-none', { token: ADMIN });
    expect(missing.status).toBe(404);
    expect(missing.body.code).toBe('ERR_ROLLBACK_POINT_NOT_FOUND');
  });

  it('cancel, skip, settings and logs', async () => {
    const cancel = await call(h.server, 'POST', '/api/targets/app/cancel', { token: APPLIER });
    expect(cancel.body).toEqual({ cancelled: false });

    const skip = await call(h.server, 'POST', '/api/targets/app/skip', { token: APPLIER, json: { version: '1.2.0' } });
    expect(skip.body.policy.skip_versions).toEqual(['1.2.0']);

    const patch = await call(h.server, 'PATCH', '/api/targets/app/settings', { token: APPLIER, json: { auto_apply: 'critical', check_interval_s: 3600 } });
    expect(patch.status).toBe(200);
    expect(patch.body.policy).toMatchObject({ auto_apply: 'critical', check_interval_s: 3600 });

    h.core.lines.push({ at: '2025-01-01T00:00:00Z', level: 'info', message: 'one' }, { at: '2025-01-01T00:00:01Z', level: 'warn', message: 'two' });
    const logs = await call(h.server, 'GET', '/api/logs?limit=1');
    expect(logs.body).toEqual([{ at: '2025-01-01T00:00:01Z', level: 'warn', message: 'two' }]);
  });

  it('invalid settings are refused with 400 before reaching the core', async () => {
    const r = await call(h.server, 'PATCH', '/api/targets/app/settings', { token: APPLIER, json: { auto_apply: 'sometimes' } });
    expect(r.status).toBe(400);
    expect(r.body.code).toBe('ERR_BAD_REQUEST');
    expect(r.body.message).toContain('auto_apply');
    const unknown = await call(h.server, 'PATCH', '/api/targets/app/settings', { token: APPLIER, json: { install_dir: '/etc' } });
    expect(unknown.status).toBe(400);
    expect(h.core.called('updateSettings')).toHaveLength(0);
  });

  it('bad query and body values are 400', async () => {
    expect((await call(h.server, 'GET', '/api/history?limit=0')).status).toBe(400);
    expect((await call(h.server, 'GET', '/api/history?limit=abc')).body.code).toBe('ERR_BAD_REQUEST');
    const r = await call(h.server, 'POST', '/api/targets/app/apply', { token: APPLIER, json: { verify_only: 'yes' } });
    expect(r.status).toBe(400);
    expect(r.body.message).toContain('verify_only');
  });

  it('an unknown route is 404 ERR_NOT_FOUND', async () => {
    const r = await call(h.server, 'GET', '/api/nothing-here');
    expect(r.status).toBe(404);
    expect(r.body.code).toBe('ERR_NOT_FOUND');
  });
});

describe('request bodies and error mapping', () => {
  it('malformed JSON is 400 ERR_BAD_REQUEST with a clear message', async () => {
    const r = await call(h.server, 'POST', '/api/targets/app/apply', { token: ADMIN, body: '{"verify_only": tru', headers: { 'content-type': 'application/json' } });
    expect(r.status).toBe(400);
    expect(r.body.code).toBe('ERR_BAD_REQUEST');
    expect(r.body.message).toMatch(/^Malformed JSON body/);
    expect(h.core.called('apply')).toHaveLength(0);
  });

  it('a body over api.body_limit_bytes is 413', async () => {
    const big = { version: 'x'.repeat(2000) };
    const r = await call(h.server, 'POST', '/api/targets/app/apply', { token: ADMIN, json: big });
    expect(r.status).toBe(413);
    expect(r.body.code).toBe('ERR_BAD_REQUEST');
    expect(r.body.message).toContain('1024');
  });

  it('a chunked body without Content-Length is limited too', async () => {
    const chunks = ['{"version":"', 'y'.repeat(900), 'y'.repeat(900), '"}'];
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (const c of chunks) controller.enqueue(new TextEncoder().encode(c));
        controller.close();
      },
    });
    const res = await fetch(`${h.server.url}/api/targets/app/apply`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: stream,
      duplex: 'half',
    } as RequestInit);
    expect(res.status).toBe(413);
  });

  it('a hot-reloaded body limit applies to the next request', async () => {
    const body = { version: 'z'.repeat(200) };
    const before = await call(h.server, 'POST', '/api/targets/app/download', { token: ADMIN, json: body });
    expect(before.status).toBe(404); // within the limit: reaches the core, which has no such version
    h.core.setConfig(makeConfig(apiWithTokens({ body_limit_bytes: 100 })));
    const after = await call(h.server, 'POST', '/api/targets/app/download', { token: ADMIN, json: body });
    expect(after.status).toBe(413);
  });

  it.each([
    ['ERR_BUSY', 409],
    ['ERR_SIGNATURE_THRESHOLD', 422],
    ['ERR_DOWNGRADE', 422],
    ['ERR_USAGE', 400],
    ['ERR_NO_RELEASE', 404],
    ['ERR_DOWNLOAD_FAILED', 500],
  ] as const)('%s from the core is HTTP %i with the code in the body', async (code, status) => {
    h.core.failWith('check', code, `boom ${code}`);
    const r = await call(h.server, 'POST', '/api/targets/app/check', { token: ADMIN });
    expect(r.status).toBe(status);
    expect(r.body).toEqual({ error: { code, message: `boom ${code}` }, code, message: `boom ${code}` });
  });

  it('details of an engine error (rolled_back) reach the client', async () => {
    h.core.failWith('apply', 'ERR_HEALTH_CHECK_FAILED', 'health failed — rolled back to 1.0.0');
    const r = await call(h.server, 'POST', '/api/targets/app/apply', { token: ADMIN, json: {} });
    expect(r.status).toBe(500);
    expect(r.body.error).toEqual({ code: 'ERR_HEALTH_CHECK_FAILED', message: 'health failed — rolled back to 1.0.0', details: { rolled_back: true } });
  });

  it('a non-Upkeep error is a 500 ERR_INTERNAL without internals, and is logged', async () => {
    const logged: string[] = [];
    await h.close();
    h = await startHarness(apiWithTokens(), { log: (level, m) => logged.push(`${level}: ${m}`) });
    h.core.info = async () => {
      throw new TypeError('cannot read secret of undefined at /srv/internal.js');
    };
    const r = await call(h.server, 'GET', '/api/info');
    expect(r.status).toBe(500);
    expect(r.body).toMatchObject({ code: 'ERR_INTERNAL', message: 'Internal server error' });
    expect(logged.some((l) => l.startsWith('error:') && l.includes('cannot read secret'))).toBe(true);
  });
});
