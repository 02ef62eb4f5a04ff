/**
 * One target's corrupt state file never hides the others from the HTTP API: `GET /api/targets`
 * answers 200 with every target, the damaged one carrying ERR_STATE_CORRUPT (naming the file and
 * the field) as `last_error` and state `failed`; `GET /api/targets/:id` of it answers the same
 * view; its operations still refuse with ERR_STATE_CORRUPT (500) while the other target works. A
 * corrupt journal does not stop the daemon from starting. Real daemon core, real HTTP server.
 */
import { describe, expect, it } from 'vitest';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { TargetView } from '../../src-shared/api';
import { corruptField, pointFiles } from '../helpers/state-files';
import { call, daemonPerTest, Fixture, startInProcess, waitFor } from './helpers';

const s = daemonPerTest();

const OTHER = ['- id: other', '  kind: files', '  install_dir: ./other', '  product: demo'];

async function start(): Promise<void> {
  s.fx = await Fixture.create('upkeep-damaged-');
  await s.fx.publish('1.0.0', { 'bin/demo': 'one' });
  await s.fx.publish('1.1.0', { 'bin/demo': 'two' });
  const feed = `  feed: { url: ${JSON.stringify(s.fx.feedDir)} }`;
  const trust = `  trust: { keys: [${JSON.stringify(s.fx.key.line)}], threshold: 1 }`;
  await s.fx.writeConfig(s.fx.configText({ extraTargets: [...OTHER, feed, trust] }));
  s.d = await startInProcess(s.fx.configPath);
  for (const id of ['demo', 'other']) {
    await s.d.core.apply(id, { version: '1.0.0' });
    await s.d.core.apply(id, { version: '1.1.0' });
  }
}

const stateFile = (id: string, name: string) => path.join(s.fx.dir, 'state', 'targets', id, name);

/** The newest point's point.json: the rollback by default needs it. */
const pointFile = async (id: string): Promise<string> => (await pointFiles(s.fx.dir, id))[0]!;

describe('a target with a corrupt state file, through the HTTP API', () => {
  const cases = [
    { what: 'installed.json', file: async () => stateFile('demo', 'installed.json'), field: 'version', current: null },
    { what: 'point.json', file: () => pointFile('demo'), field: 'to_version', current: '1.1.0' },
    { what: 'runtime.json', file: async () => stateFile('demo', 'runtime.json'), field: 'version', current: '1.1.0' },
  ];
  for (const c of cases) {
    it(`${c.what} with "${c.field}": 5 — the list answers 200 with both targets, the damaged one with its error`, async () => {
      await start();
      const file = await c.file();
      const original = await corruptField(file, c.field, 5);
      // A view comes from memory at most a second old: the damage shows on a read after that.
      const list = await waitFor('the damaged target listed with its error', async () => {
        const r = await call(s.d!.url, 'GET', '/api/targets', { token: s.fx.admin.token });
        expect(r.status, r.text).toBe(200);
        return (r.body as TargetView[])[0]?.last_error?.code === 'ERR_STATE_CORRUPT' ? r : null;
      });
      const views = list.body as TargetView[];
      expect(views.map((v) => v.id)).toEqual(['demo', 'other']);
      expect(views[1]).toMatchObject({ current_version: '1.1.0', last_error: null });
      const demo = views[0]!;
      expect(demo.current_version).toBe(c.current);
      expect(demo.last_error).toMatchObject({ code: 'ERR_STATE_CORRUPT', details: { file } });
      expect(demo.last_error!.message).toContain(`Corrupt state file ${file}: ${c.what === 'runtime.json' ? '' : `${c.field}:`}`);
      expect(demo.state).toMatchObject({ kind: 'failed', error: { code: 'ERR_STATE_CORRUPT' } });

      const one = await call(s.d!.url, 'GET', '/api/targets/demo', { token: s.fx.admin.token });
      expect(one.status, one.text).toBe(200);
      expect((one.body as TargetView).last_error).toEqual(demo.last_error);

      for (const route of ['/api/targets/demo/apply', '/api/targets/demo/rollback', '/api/targets/demo/check']) {
        const r = await call(s.d!.url, 'POST', route, { token: s.fx.admin.token, json: {} });
        expect(r.status, `${route}: ${r.text}`).toBe(500);
        expect(r.body.error).toMatchObject({ code: 'ERR_STATE_CORRUPT' });
      }
      expect(await fsp.readFile(path.join(s.fx.installDir, 'bin', 'demo'), 'utf8')).toBe('two');
      const rb = await call(s.d!.url, 'POST', '/api/targets/other/rollback', { token: s.fx.admin.token, json: {} });
      expect(rb.status, rb.text).toBe(200);
      expect(await fsp.readFile(path.join(s.fx.dir, 'other', 'bin', 'demo'), 'utf8')).toBe('one');

      // Repaired: the next read shows the target as it is.
      await fsp.writeFile(file, original);
      const fixed = await call(s.d!.url, 'GET', '/api/targets/demo', { token: s.fx.admin.token });
      expect((fixed.body as TargetView).current_version).toBe('1.1.0');
      expect((fixed.body as TargetView).last_error?.code).not.toBe('ERR_STATE_CORRUPT');
    });
  }

  it('a corrupt journal: the daemon still starts and lists both targets, the damaged one with its error', async () => {
    await start();
    await s.d!.close();
    s.d = null;
    const journal = stateFile('demo', 'journal.json');
    await fsp.writeFile(journal, '{ torn');
    s.d = await startInProcess(s.fx.configPath);
    const list = await call(s.d.url, 'GET', '/api/targets', { token: s.fx.admin.token });
    expect(list.status, list.text).toBe(200);
    const views = list.body as TargetView[];
    expect(views[1]).toMatchObject({ id: 'other', last_error: null });
    expect(views[0]!.last_error).toMatchObject({ code: 'ERR_STATE_CORRUPT', details: { file: journal } });
    const apply = await call(s.d.url, 'POST', '/api/targets/demo/apply', { token: s.fx.admin.token, json: {} });
    expect(apply.body.error).toMatchObject({ code: 'ERR_STATE_CORRUPT' });
  });
});
