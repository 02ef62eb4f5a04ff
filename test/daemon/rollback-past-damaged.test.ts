import { describe, expect, it } from 'vitest';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { RollbackPointView } from '../../src-shared/api';
import { corruptField, pointFiles } from '../helpers/state-files';
import { snapshot } from '../helpers/tree';
import { call, daemonPerTest, Fixture, startInProcess } from './helpers';

const s = daemonPerTest();

describe('rollback to a point newer than the damaged one', () => {
  for (const layout of ['in-place', 'versioned']) {
    it(`${layout}: rolls back, leaves the damaged point as it is`, async () => {
      s.fx = await Fixture.create('upkeep-tmp-');
      for (const v of ['1.0.0', '1.1.0', '1.2.0']) await s.fx.publish(v, { 'bin/demo': v });
      await s.fx.writeConfig(s.fx.configText({ target: [`layout: ${layout}`] }));
      s.d = await startInProcess(s.fx.configPath);
      for (const v of ['1.0.0', '1.1.0', '1.2.0']) await s.d.core.apply('demo', { version: v });
      const files = await pointFiles(s.fx.dir, 'demo');
      const ids = files.map((f) => path.basename(path.dirname(f)));
      await corruptField(files[1]!, 'to_version', 5);
      const versionsBefore = layout === 'versioned' ? (await fsp.readdir(path.join(s.fx.installDir, 'versions'))).sort() : [];
      const r = await call(s.d.url, 'POST', `/api/targets/demo/rollback/${ids[0]}`, { token: s.fx.admin.token, json: {} });
      expect(r.status, r.text).toBe(200);
      const demo = path.join(s.fx.installDir, layout === 'versioned' ? 'current' : '', 'bin', 'demo');
      expect(await fsp.readFile(demo, 'utf8')).toBe('1.1.0');
      const list = await call(s.d.url, 'GET', '/api/targets/demo/points', { token: s.fx.admin.token });
      expect((list.body as RollbackPointView[]).map((v) => [v.rollback_id, v.error?.code ?? null])).toEqual([[ids[1], 'ERR_STATE_CORRUPT'], [ids[2], null]]);
      if (layout === 'versioned') expect((await fsp.readdir(path.join(s.fx.installDir, 'versions'))).sort()).toEqual(versionsBefore);
      const before = await snapshot(s.fx.installDir);
      const again = await call(s.d.url, 'POST', '/api/targets/demo/rollback', { token: s.fx.admin.token, json: {} });
      expect(again.status, again.text).toBe(500);
      expect(again.body.error).toMatchObject({ code: 'ERR_STATE_CORRUPT', details: { file: files[1] } });
      expect(await snapshot(s.fx.installDir)).toEqual(before);
      const st = await call(s.d.url, 'GET', '/api/targets/demo', { token: s.fx.admin.token });
      expect(st.body).toMatchObject({ current_version: '1.1.0', points_count: 2 });
    }, 60_000);
  }
});
