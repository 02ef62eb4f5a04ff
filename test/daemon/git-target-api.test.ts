/**
 * A git target through the daemon's HTTP API: the canonical target view (kind, version, commit),
 * the seed-000 route for the default target, applying through the API, and a target group route.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { tempDir } from '../helpers/tree';
import { deploy, git, gitFixture, type GitFixture } from '../engine/git/git-fixture';
import { call, startInProcess, type InProcess } from './helpers';

let fx: GitFixture;
let d: InProcess;
const commits: Record<string, string> = {};
const TOKEN = 'git-target-admin-token-0123456789';

beforeAll(async () => {
  fx = await gitFixture();
  commits['1.0.0'] = await fx.release('v1.0.0', { 'VERSION': '1.0.0\n' });
  commits['1.1.0'] = await fx.release('v1.1.0', { 'VERSION': '1.1.0\n' }, 'Release 1.1.0 [critical]\n\nSecurity fix.');
  await deploy(fx, 'v1.0.0');
  const dir = await tempDir('upkeep-git-api-');
  const sha = (await import('node:crypto')).createHash('sha256').update(TOKEN).digest('hex');
  await fsp.writeFile(path.join(dir, 'upkeep.yaml'), [
    'state_dir: ./state',
    `api: { tokens: [{ name: ops, sha256: "${sha}", scopes: [admin] }] }`,
    'targets:',
    '  - id: app',
    '    kind: git',
    `    install_dir: ${fx.installDir}`,
    '    install: none',
    '  - id: other',
    '    kind: git',
    `    install_dir: ${fx.installDir}`,
    '    install: none',
    'groups:',
    '  - id: both',
    '    targets: [app, other]',
    '',
  ].join('\n'));
  d = await startInProcess(path.join(dir, 'upkeep.yaml'));
});
afterAll(async () => { await d?.close(); });

describe('git target over the HTTP API', () => {
  it('GET /api/targets/:id shows kind git, the version and the commit', async () => {
    const r = await call(d.url, 'GET', '/api/targets/app');
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ id: 'app', kind: 'git', current_version: '1.0.0', facts: [{ label: 'Commit', value: commits['1.0.0']!.slice(0, 12) }, { label: 'Tracks', value: 'origin tags v*' }] });
  });

  it('the seed-000 route reports the newer tag of the default target, critical from its annotation', async () => {
    const r = await call(d.url, 'GET', '/api/updates');
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ status: 'critical_update', current_version: '1.0.0', latest_release: { version: '1.1.0' } });
  });

  it('applies through the canonical route; an unknown group is 404', async () => {
    const r = await call(d.url, 'POST', '/api/targets/app/apply', { token: TOKEN, json: {} });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ success: true, version: '1.1.0', from_version: '1.0.0' });
    expect(git(fx.installDir, 'rev-parse', 'HEAD')).toBe(commits['1.1.0']);
    expect((await call(d.url, 'POST', '/api/groups/none/apply', { token: TOKEN, json: {} })).status).toBe(404);
    expect((await call(d.url, 'POST', '/api/groups/both/apply', { json: {} })).status).toBe(401);
    const g = await call(d.url, 'POST', '/api/groups/both/apply', { token: TOKEN, json: {} });
    expect(g.status).toBe(200);
    expect(g.body).toMatchObject({ group: 'both', success: true });
  });
});
