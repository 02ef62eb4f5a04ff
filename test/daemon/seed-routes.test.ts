/**
 * Every seed-compatible route (seeds 000, 001, 002) and the canonical target routes against the
 * real daemon core and HTTP server over a real signed local feed: statuses, bodies and the bytes
 * in the install dir.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { runCli } from '../helpers/cli';
import { snapshot } from '../helpers/tree';
import { Fixture, call, rawRequest, startInProcess, exists, type InProcess } from './helpers';

const V1 = { 'bin/demo': '#!/bin/sh\necho demo 1.0.0\n', 'lib/core.so': 'core v1', 'share/old.txt': 'only in 1.0.0' };
const V2 = { 'bin/demo': '#!/bin/sh\necho demo 1.1.0\n', 'lib/core.so': 'core v1', 'share/new.txt': 'new in 1.1.0' };
const V3 = { 'bin/demo': '#!/bin/sh\necho demo 1.1.1\n', 'lib/core.so': 'core v1.1.1', 'share/new.txt': 'new in 1.1.0' };

describe('seed and canonical routes against a real daemon', () => {
  let fx: Fixture;
  let d: InProcess;
  let admin: string;
  let reader: string;
  let restartFile: string;
  let oldTree: Awaited<ReturnType<typeof snapshot>>;

  beforeAll(async () => {
    fx = await Fixture.create();
    admin = fx.admin.token;
    reader = fx.reader.token;
    restartFile = path.join(fx.dir, 'restarted.txt');
    await fx.publish('1.0.0', V1, { buildCommit: 'aaa100' });
    await fx.writeConfig(fx.configText({ target: [`restart: 'echo "restart $UPKEEP_TARGET $UPKEEP_TO_VERSION" >> ${JSON.stringify(restartFile).slice(1, -1)}'`] }));
    d = await startInProcess(fx.configPath);
    // The first install, through the canonical route.
    const first = await call(d.url, 'POST', '/api/targets/demo/apply', { token: admin, json: {} });
    expect(first.status, first.text).toBe(200);
    expect(first.body).toMatchObject({ success: true, version: '1.0.0', from_version: null });
    oldTree = await snapshot(fx.installDir);
    expect(oldTree).toEqual(await snapshot(await fx.build('1.0.0')));
  });

  afterAll(async () => {
    await d?.close();
    await fx?.cleanup();
  });

  it('GET /api/updates reports up_to_date, then update_available, then critical_update', async () => {
    const a = await call(d.url, 'GET', '/api/updates', { token: reader });
    expect(a.status, a.text).toBe(200);
    expect(a.body).toMatchObject({ status: 'up_to_date', current_version: '1.0.0', latest_release: null });

    await fx.publish('1.1.0', V2, { buildCommit: 'bbb110', notes: '## 1.1.0\n- faster' });
    // A status read answers from the last check (at most 60 s old) and writes no history; a new
    // release shows once a check ran (the schedule, or an explicit action as here).
    const historyBefore = (await call(d.url, 'GET', '/api/history?limit=1000', { token: reader })).body.length;
    for (let i = 0; i < 20; i++) {
      const r = await call(d.url, 'GET', '/api/updates', { token: reader });
      expect(r.body.status).toBe('up_to_date');
    }
    expect((await call(d.url, 'GET', '/api/history?limit=1000', { token: reader })).body.length).toBe(historyBefore);
    expect((await call(d.url, 'POST', '/api/targets/demo/check', { token: admin })).status).toBe(200);
    const b = await call(d.url, 'GET', '/api/updates', { token: reader });
    expect(b.status, b.text).toBe(200);
    expect(b.body.status).toBe('update_available');
    expect(b.body.current_version).toBe('1.0.0');
    expect(b.body.latest_release).toMatchObject({ version: '1.1.0', tag_name: 'v1.1.0', is_critical: false, release_notes: '## 1.1.0\n- faster', build_commit: 'bbb110' });

    await fx.publish('1.1.1', V3, { critical: true, buildCommit: 'ccc111' });
    expect((await call(d.url, 'POST', '/api/targets/demo/check', { token: admin })).status).toBe(200);
    const c = await call(d.url, 'GET', '/api/updates', { token: reader });
    expect(c.status, c.text).toBe(200);
    expect(c.body).toMatchObject({ status: 'critical_update', current_version: '1.0.0', latest_release: { version: '1.1.1', is_critical: true } });
  });

  it('GET /api/updates/manifests/:version has seed 000\'s shape, and its 404 body', async () => {
    const m = await call(d.url, 'GET', '/api/updates/manifests/1.1.0', { token: reader });
    expect(m.status, m.text).toBe(200);
    expect(m.body).toMatchObject({ version: '1.1.0', tag_name: 'v1.1.0', release_notes: '## 1.1.0\n- faster', is_critical: false, build_commit: 'bbb110' });
    expect(m.body.manifest_hash).toBe(fx.manifestHash.get('1.1.0'));
    expect(typeof m.body.signature).toBe('string');
    expect(m.body.signature.length).toBeGreaterThan(40);
    const files = [...m.body.files].sort((x: { path: string }, y: { path: string }) => x.path.localeCompare(y.path));
    expect(files.map((f: { path: string }) => f.path)).toEqual(Object.keys(V2).sort());
    const bin = files.find((f: { path: string }) => f.path === 'bin/demo');
    expect(Object.keys(bin).sort()).toEqual(['architecture', 'download_url', 'path', 'platform', 'sha256_hash', 'size_bytes', 'type']);
    expect(bin.size_bytes).toBe(Buffer.byteLength(V2['bin/demo']));
    expect(bin.sha256_hash).toMatch(/^[0-9a-f]{64}$/);

    const missing = await call(d.url, 'GET', '/api/updates/manifests/9.9.9', { token: reader });
    expect(missing.status).toBe(404);
    expect(missing.body).toMatchObject({ error: 'Manifest not found for version: 9.9.9', status: 404 });
    expect(missing.body.code).toBe('ERR_MANIFEST_NOT_FOUND');
  });

  it('POST /api/updates/download/:version stores the verified files', async () => {
    const r = await call(d.url, 'POST', '/api/updates/download/1.1.1', { token: admin });
    expect(r.status, r.text).toBe(200);
    expect(r.body).toMatchObject({ success: true, version: '1.1.1', manifest: { version: '1.1.1', is_critical: true } });
    expect(path.isAbsolute(r.body.download_path)).toBe(true);
    const files = await fsp.readdir(r.body.download_path, { recursive: true });
    expect(files.length).toBeGreaterThan(0);
    // Nothing is installed by a download.
    expect(await snapshot(fx.installDir)).toEqual(oldTree);
  });

  it('refuses without a token (401), with a read-only token (403) and from a foreign Host header', async () => {
    const none = await call(d.url, 'POST', '/api/updates/apply/1.1.0');
    expect(none.status).toBe(401);
    expect(none.body).toMatchObject({ success: false, code: 'ERR_UNAUTHORIZED' });

    const ro = await call(d.url, 'POST', '/api/updates/apply/1.1.0', { token: reader });
    expect(ro.status).toBe(403);
    expect(ro.body).toMatchObject({ success: false, code: 'ERR_FORBIDDEN' });

    const reload = await call(d.url, 'POST', '/admin/reload');
    expect(reload.status).toBe(401);
    expect(reload.body).toEqual({ status: 'error', message: 'Authentication required: Missing token', code: 'ERR_UNAUTHORIZED' });

    const readsLocked = await call(d.url, 'GET', '/api/updates/rollback');
    expect(readsLocked.status).toBe(401);

    const port = new URL(d.url).port;
    const evil = await rawRequest(d.url, 'GET', '/api/targets', { host: `evil.example:${port}`, authorization: `Bearer ${admin}` });
    expect(evil.status).toBe(403);
    expect(JSON.parse(evil.body).code).toBe('ERR_FORBIDDEN');
    const good = await rawRequest(d.url, 'GET', '/api/targets', { host: `localhost:${port}`, authorization: `Bearer ${admin}` });
    expect(good.status).toBe(200);

    expect(await snapshot(fx.installDir)).toEqual(oldTree);
  });

  it('POST /api/updates/apply/:version: verify_only leaves the disk alone, the real apply switches it', async () => {
    const dry = await call(d.url, 'POST', '/api/updates/apply/1.1.0', { token: admin, json: { verify_only: true } });
    expect(dry.status, dry.text).toBe(200);
    expect(dry.body).toMatchObject({ success: true, version: '1.1.0', verify_only: true, rollback_id: null });
    expect(await snapshot(fx.installDir)).toEqual(oldTree);

    const real = await call(d.url, 'POST', '/api/updates/apply/1.1.0', { token: admin });
    expect(real.status, real.text).toBe(200);
    expect(real.body).toMatchObject({ success: true, version: '1.1.0', verify_only: false });
    expect(real.body.rollback_id).toMatch(/^rb_/);
    expect([...real.body.files_updated].sort()).toEqual(['bin/demo', 'share/new.txt']);
    expect(await snapshot(fx.installDir)).toEqual(await snapshot(await fx.build('1.1.0')));
  });

  it('lists rollback points and POST /api/updates/rollback/:id restores the old bytes', async () => {
    const list = await call(d.url, 'GET', '/api/updates/rollback', { token: reader });
    expect(list.status, list.text).toBe(200);
    expect(list.body.count).toBe(list.body.rollback_points.length);
    expect(list.body.count).toBeGreaterThanOrEqual(1);
    const newest = list.body.rollback_points[0];
    expect(Object.keys(newest).sort()).toEqual(['rollback_id', 'timestamp']);
    expect(Number.isNaN(Date.parse(newest.timestamp))).toBe(false);

    const unknown = await call(d.url, 'POST', '/api/updates/rollback/rb_does_not_exist', { token: admin });
    expect(unknown.status).toBe(404);
    expect(unknown.body).toMatchObject({ success: false });

    const rb = await call(d.url, 'POST', `/api/updates/rollback/${newest.rollback_id}`, { token: admin });
    expect(rb.status, rb.text).toBe(200);
    expect(rb.body).toEqual({ success: true, rollback_id: newest.rollback_id });
    expect(await snapshot(fx.installDir)).toEqual(oldTree);

    const v = await call(d.url, 'GET', '/api/targets/demo', { token: reader });
    expect(v.body.current_version).toBe('1.0.0');
  });

  it('seed 002: POST /api/v1/update, GET /api/v1/version and POST /api/v1/restart', async () => {
    const none = await call(d.url, 'POST', '/api/v1/update', { json: { target_version: '1.1.1' } });
    expect(none.status).toBe(401);

    const up = await call(d.url, 'POST', '/api/v1/update', { token: admin, json: { target_version: '1.1.1' } });
    expect(up.status, up.text).toBe(200);
    expect(up.body).toEqual({ status: 'complete', progress: 100, message: 'Updated 1.0.0 to 1.1.1', requires_restart: true, error: null });
    expect(await snapshot(fx.installDir)).toEqual(await snapshot(await fx.build('1.1.1')));

    const ver = await call(d.url, 'GET', '/api/v1/version', { token: reader });
    expect(ver.status, ver.text).toBe(200);
    expect(ver.body).toMatchObject({ version: '1.1.1', commit: 'ccc111', build_date: '2026-11-20T00:00:00Z' });

    const again = await call(d.url, 'POST', '/api/v1/update', { token: admin, json: {} });
    expect(again.status, again.text).toBe(200);
    expect(again.body).toMatchObject({ status: 'complete', requires_restart: false });

    const bad = await call(d.url, 'POST', '/api/v1/update', { token: admin, json: { target_version: '9.9.9' } });
    expect(bad.status).toBe(404);
    expect(bad.body).toMatchObject({ status: 'failed', code: 'ERR_MANIFEST_NOT_FOUND', requires_restart: false });

    expect(await exists(restartFile)).toBe(false);
    const rs = await call(d.url, 'POST', '/api/v1/restart', { token: admin, json: { graceful: true } });
    expect(rs.status, rs.text).toBe(200);
    expect(rs.body.status).toBe('restarted');
    expect(await fsp.readFile(restartFile, 'utf8')).toBe('restart demo 1.1.1\n');
  });

  it('POST /admin/reload answers seed 001\'s success body with the next generation', async () => {
    const ro = await call(d.url, 'POST', '/admin/reload', { token: reader });
    expect(ro.status).toBe(403);
    const before = (await call(d.url, 'GET', '/api/info', { token: reader })).body.config_generation;
    const r = await call(d.url, 'POST', '/admin/reload', { token: admin });
    expect(r.status, r.text).toBe(200);
    expect(r.body).toMatchObject({ status: 'success', message: 'Configuration reloaded successfully', config_generation: before + 1, restart_required: [] });
    expect(Math.abs(r.body.timestamp - Date.now() / 1000)).toBeLessThan(600);
  });

  it('canonical /api/targets routes act on the named target', async () => {
    const list = await call(d.url, 'GET', '/api/targets', { token: reader });
    expect(list.status).toBe(200);
    expect(list.body.map((t: { id: string }) => t.id)).toEqual(['demo']);

    const unknown = await call(d.url, 'GET', '/api/targets/nope', { token: reader });
    expect(unknown.status).toBe(404);
    expect(unknown.body.code).toBe('ERR_TARGET_NOT_FOUND');

    const check = await call(d.url, 'POST', '/api/targets/demo/check', { token: admin });
    expect(check.status, check.text).toBe(200);
    expect(check.body).toMatchObject({ target: 'demo', current_version: '1.1.1', update_available: false });

    const points = await call(d.url, 'GET', '/api/targets/demo/points', { token: reader });
    expect(points.status).toBe(200);
    expect(points.body[0]).toMatchObject({ target: 'demo', from_version: '1.0.0', to_version: '1.1.1' });

    const rb = await call(d.url, 'POST', '/api/targets/demo/rollback', { token: admin });
    expect(rb.status, rb.text).toBe(200);
    expect(rb.body).toMatchObject({ success: true, version: '1.0.0', from_version: '1.1.1' });
    expect(await snapshot(fx.installDir)).toEqual(oldTree);

    const hist = await call(d.url, 'GET', '/api/targets/demo/history?limit=50', { token: reader });
    expect(hist.status).toBe(200);
    const ops = hist.body.map((h: { operation: string; result: string }) => `${h.operation}:${h.result}`);
    expect(ops).toContain('apply:success');
    expect(ops).toContain('verify:success');
    expect(ops).toContain('rollback:success');
    expect(ops).toContain('download:success');

    const ro = await call(d.url, 'POST', '/api/targets/demo/apply', { token: reader, json: {} });
    expect(ro.status).toBe(403);
    expect(await snapshot(fx.installDir)).toEqual(oldTree);
  });

  it('a token made by `upkeep token create` works once its hash is in the config and reloaded', async () => {
    const made = await runCli(['token', 'create', '--name', 'ci', '--scope', 'update:apply', '--json']);
    expect(made.code, made.stderr).toBe(0);
    expect(made.json.sha256).toMatch(/^[0-9a-f]{64}$/);
    const before = await call(d.url, 'POST', '/api/targets/demo/check', { token: made.json.token });
    expect(before.status).toBe(401);
    await fx.writeConfig(fx.configText({ api: ['allowed_hosts: []'] }).replace('  tokens:\n', `  tokens:\n    - { name: ci, sha256: ${made.json.sha256}, scopes: [update:apply] }\n`));
    expect((await call(d.url, 'POST', '/admin/reload', { token: admin })).status).toBe(200);
    const after = await call(d.url, 'POST', '/api/targets/demo/check', { token: made.json.token });
    expect(after.status, after.text).toBe(200);
    const notAdmin = await call(d.url, 'POST', '/admin/reload', { token: made.json.token });
    expect(notAdmin.status).toBe(403);
  });
});
