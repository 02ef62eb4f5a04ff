import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TARGET_VIEW_MAX_FILES } from '../../src-shared/api';
import { makeConfig, makeRelease } from './fake-core';
import { ADMIN, APPLIER, READER, apiWithTokens, call, startHarness, type Harness } from './helpers';

let h: Harness;
beforeEach(async () => {
  h = await startHarness();
});
afterEach(async () => {
  await h.close();
});

describe('seed 000: hot-reload API', () => {
  it('GET /api/updates reports an available update with the latest release', async () => {
    const r = await call(h.server, 'GET', '/api/updates');
    expect(r.status).toBe(200);
    expect(r.body.status).toBe('update_available');
    expect(r.body.current_version).toBe('1.0.0');
    expect(r.body.latest_release).toMatchObject({ version: '1.2.0', tag_name: 'v1.2.0', release_notes: 'Notes for 1.2.0', is_critical: false });
    expect(h.core.called('check')[0].args).toEqual(['app']);
  });

  it('GET /api/updates says critical_update for a critical release and up_to_date when current', async () => {
    h.core.releases.get('app')!.push(makeRelease('1.3.0', { is_critical: true }));
    const critical = await call(h.server, 'GET', '/api/updates');
    expect(critical.body.status).toBe('critical_update');
    expect(critical.body.latest_release.version).toBe('1.3.0');
    h.core.targets.get('app')!.current_version = '1.3.0';
    const current = await call(h.server, 'GET', '/api/updates');
    expect(current.body).toMatchObject({ status: 'up_to_date', current_version: '1.3.0', latest_release: null });
  });

  it('GET /api/updates lists at most TARGET_VIEW_MAX_FILES files of a big release with the whole count; the manifest route lists all', async () => {
    const files = Array.from({ length: TARGET_VIEW_MAX_FILES + 5 }, (_, i) => ({ path: `lib/f${i}`, type: 'library', sha256: 'cd'.repeat(32), size: 10, platform: 'linux', arch: 'x64', url: `http://127.0.0.1:1/files/1.4.0/lib/f${i}` }));
    h.core.releases.get('app')!.push(makeRelease('1.4.0', { files, file_count: files.length, total_size: 10 * files.length }));
    const r = await call(h.server, 'GET', '/api/updates');
    expect(r.status).toBe(200);
    expect(r.body.latest_release.version).toBe('1.4.0');
    expect(r.body.latest_release.file_count).toBe(TARGET_VIEW_MAX_FILES + 5);
    expect(r.body.latest_release.files.map((f: { path: string }) => f.path)).toEqual(files.slice(0, TARGET_VIEW_MAX_FILES).map((f) => f.path));
    expect(r.body.latest_release.files[0]).toMatchObject({ path: 'lib/f0', sha256_hash: 'cd'.repeat(32), size_bytes: 10 });
    const m = await call(h.server, 'GET', '/api/updates/manifests/1.4.0');
    expect(m.status).toBe(200);
    expect(m.body.files).toHaveLength(TARGET_VIEW_MAX_FILES + 5);
  });

  it('GET /api/updates/manifests/:version returns the seed manifest shape', async () => {
    const r = await call(h.server, 'GET', '/api/updates/manifests/1.2.0');
    expect(r.status).toBe(200);
    expect(r.body).toEqual({
      version: '1.2.0',
      tag_name: 'v1.2.0',
      release_notes: 'Notes for 1.2.0',
      is_critical: false,
      files: [{ path: 'bin/demo', type: 'executable', sha256_hash: 'cd'.repeat(32), size_bytes: 1024, platform: 'linux', architecture: 'x64', download_url: 'http://127.0.0.1:1/files/1.2.0/bin/demo' }],
      manifest_hash: 'ab'.repeat(32),
      signature: 'sig-of-1.2.0',
      build_commit: 'c0ffee120',
    });
  });

  it('an unknown manifest version is 404 with the seed body and a code', async () => {
    const r = await call(h.server, 'GET', '/api/updates/manifests/7.7.7');
    expect(r.status).toBe(404);
    expect(r.body).toEqual({ error: 'Manifest not found for version: 7.7.7', status: 404, code: 'ERR_MANIFEST_NOT_FOUND' });
  });

  it('POST /api/updates/download/:version downloads and includes the manifest', async () => {
    const r = await call(h.server, 'POST', '/api/updates/download/1.2.0', { token: APPLIER });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ success: true, version: '1.2.0', download_path: '/srv/upkeep/state/downloads/app/1.2.0' });
    expect(r.body.manifest).toMatchObject({ version: '1.2.0', manifest_hash: 'ab'.repeat(32) });
  });

  it('POST /api/updates/apply/:version with verify_only only verifies', async () => {
    const r = await call(h.server, 'POST', '/api/updates/apply/1.2.0', { token: ADMIN, json: { verify_only: true } });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ success: true, version: '1.2.0', verify_only: true, files_updated: [], rollback_id: null });
    expect(h.core.targets.get('app')!.current_version).toBe('1.0.0');
  });

  it('accepts the seed curl form: JSON sent without a JSON Content-Type', async () => {
    const res = await fetch(`${h.server.url}/api/updates/apply/1.2.0`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: '{"verify_only": true}',
    });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { verify_only: boolean }).verify_only).toBe(true);
  });

  it('POST /api/updates/apply/:version applies, then rollback points list and rollback work', async () => {
    const applied = await call(h.server, 'POST', '/api/updates/apply/1.2.0', { token: ADMIN });
    expect(applied.status).toBe(200);
    expect(applied.body).toMatchObject({ success: true, version: '1.2.0', verify_only: false, files_updated: ['bin/demo'] });
    const rollbackId = applied.body.rollback_id as string;
    expect(rollbackId).toMatch(/^rb-app-/);

    const list = await call(h.server, 'GET', '/api/updates/rollback');
    expect(list.status).toBe(200);
    expect(list.body.count).toBe(1);
    expect(list.body.rollback_points).toEqual([{ rollback_id: rollbackId, timestamp: expect.stringMatching(/^2025-01-20T10:30:\d\d/) }]);

    const rb = await call(h.server, 'POST', `/api/updates/rollback/${rollbackId}`, { token: APPLIER });
    expect(rb.status).toBe(200);
    expect(rb.body).toEqual({ success: true, rollback_id: rollbackId });
    expect(h.core.targets.get('app')!.current_version).toBe('1.0.0');
  });

  it('failures use the seed body {success:false, error, code} with the mapped status', async () => {
    h.core.failWith('apply', 'ERR_HASH_MISMATCH', 'Hash mismatch for file: bin/demo');
    const r = await call(h.server, 'POST', '/api/updates/apply/1.2.0', { token: ADMIN });
    expect(r.status).toBe(422);
    expect(r.body).toEqual({ success: false, error: 'Hash mismatch for file: bin/demo', code: 'ERR_HASH_MISMATCH' });

    const missing = await call(h.server, 'POST', '/api/updates/rollback/nope', { token: ADMIN });
    expect(missing.status).toBe(404);
    expect(missing.body).toMatchObject({ success: false, code: 'ERR_ROLLBACK_POINT_NOT_FOUND' });

    h.core.failWith('download', 'ERR_BUSY', 'Another operation is running on app');
    const busy = await call(h.server, 'POST', '/api/updates/download/1.2.0', { token: ADMIN });
    expect(busy.status).toBe(409);
    expect(busy.body).toEqual({ success: false, error: 'Another operation is running on app', code: 'ERR_BUSY' });
  });

  it('mutating seed routes need a token with an apply scope', async () => {
    const none = await call(h.server, 'POST', '/api/updates/apply/1.2.0');
    expect(none.status).toBe(401);
    expect(none.body).toMatchObject({ success: false, code: 'ERR_UNAUTHORIZED' });
    const reader = await call(h.server, 'POST', '/api/updates/apply/1.2.0', { token: READER });
    expect(reader.status).toBe(403);
    expect(reader.body.code).toBe('ERR_FORBIDDEN');
    expect(h.core.called('apply')).toHaveLength(0);
  });
});

describe('seed 001: POST /admin/reload', () => {
  it('reloads and answers with the seed success shape', async () => {
    const before = Math.floor(Date.now() / 1000);
    const r = await call(h.server, 'POST', '/admin/reload', { token: ADMIN });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ status: 'success', message: 'Configuration reloaded successfully', config_generation: 2, restart_required: [] });
    expect(r.body.timestamp).toBeGreaterThanOrEqual(before);
    expect(Number.isInteger(r.body.timestamp)).toBe(true);
    expect(h.core.called('reloadConfig')[0].args).toEqual(['api']);
  });

  it('an invalid config is 400 with the precise message, and the generation is kept', async () => {
    h.core.reloadError = "upkeep.yaml:4:3: targets[0].id: Duplicate target id 'app'";
    const r = await call(h.server, 'POST', '/admin/reload', { token: ADMIN });
    expect(r.status).toBe(400);
    expect(r.body).toEqual({
      status: 'error',
      message: 'Configuration reload failed',
      error: "upkeep.yaml:4:3: targets[0].id: Duplicate target id 'app'",
      code: 'ERR_CONFIG_INVALID',
    });
    expect(h.core.generation).toBe(1);
  });

  it('without a token is 401 with the seed message; a non-admin token is 403', async () => {
    const r = await call(h.server, 'POST', '/admin/reload');
    expect(r.status).toBe(401);
    expect(r.body).toEqual({ status: 'error', message: 'Authentication required: Missing token', code: 'ERR_UNAUTHORIZED' });
    const applier = await call(h.server, 'POST', '/admin/reload', { token: APPLIER });
    expect(applier.status).toBe(403);
    expect(applier.body).toMatchObject({ status: 'error', code: 'ERR_FORBIDDEN' });
    expect(h.core.called('reloadConfig')).toHaveLength(0);
  });
});

describe('seed 002: /api/v1', () => {
  it('GET /api/v1/version names the running version; build date and commit once the release was seen', async () => {
    const first = await call(h.server, 'GET', '/api/v1/version');
    expect(first.status).toBe(200);
    expect(first.body).toEqual({ version: '1.0.0', build_date: '', commit: 'unknown' });

    await call(h.server, 'POST', '/api/targets/app/check', { token: ADMIN });
    await call(h.server, 'POST', '/api/targets/app/apply', { token: ADMIN, json: {} });
    const after = await call(h.server, 'GET', '/api/v1/version');
    expect(after.body).toEqual({ version: '1.2.0', build_date: '2025-01-20T10:30:00Z', commit: 'c0ffee120' });
  });

  it('POST /api/v1/update applies synchronously and reports completion', async () => {
    const r = await call(h.server, 'POST', '/api/v1/update', { token: ADMIN, json: { target_version: '1.2.0' } });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ status: 'complete', progress: 100, message: 'Updated 1.0.0 to 1.2.0', requires_restart: true, error: null });
    expect(h.core.targets.get('app')!.current_version).toBe('1.2.0');
  });

  it('requires_restart is false for a target without a restart command', async () => {
    const loaded = makeConfig(apiWithTokens());
    for (const t of loaded.config.targets) delete t.restart;
    h.core.setConfig(loaded);
    const r = await call(h.server, 'POST', '/api/v1/update', { token: ADMIN });
    expect(r.body).toMatchObject({ status: 'complete', requires_restart: false });
  });

  it('a failed update reports status failed, the progress reached, the error and its code', async () => {
    h.core.failWith('apply', 'ERR_HEALTH_CHECK_FAILED', 'Health check failed: HTTP 503');
    const r = await call(h.server, 'POST', '/api/v1/update', { token: ADMIN, json: {} });
    expect(r.status).toBe(500);
    expect(r.body).toEqual({ status: 'failed', progress: 60, message: 'Update failed', requires_restart: false, error: 'Health check failed: HTTP 503', code: 'ERR_HEALTH_CHECK_FAILED' });
  });

  it('POST /api/v1/update and /api/v1/restart need admin', async () => {
    expect((await call(h.server, 'POST', '/api/v1/update', { token: APPLIER })).status).toBe(403);
    expect((await call(h.server, 'POST', '/api/v1/restart')).status).toBe(401);
    expect(h.core.called('restart')).toHaveLength(0);
  });

  it('POST /api/v1/restart restarts (graceful by default)', async () => {
    const r = await call(h.server, 'POST', '/api/v1/restart', { token: ADMIN });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ status: 'restarted', message: 'Restarted app gracefully' });
    const hard = await call(h.server, 'POST', '/api/v1/restart', { token: ADMIN, json: { graceful: false } });
    expect(hard.body).toEqual({ status: 'restarted', message: 'Restarted app' });
    expect(h.core.called('restart').map((c) => c.args)).toEqual([['app', true], ['app', false]]);
  });

  it('a failing restart is reported with status failed and a code', async () => {
    h.core.failWith('restart', 'ERR_HOOK_FAILED', 'restart command exited with 1');
    const r = await call(h.server, 'POST', '/api/v1/restart', { token: ADMIN, json: { graceful: true } });
    expect(r.status).toBe(500);
    expect(r.body).toMatchObject({ status: 'failed', message: 'restart command exited with 1', code: 'ERR_HOOK_FAILED' });
  });
});
