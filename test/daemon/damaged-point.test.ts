/**
 * One damaged point.json hides only its own rollback point. Three applies (points P1 none->1.0.0,
 * P2 1.0.0->1.1.0, P3 1.1.0->1.2.0), then P2's point.json made corrupt: the real CLI (`upkeep
 * points`, `status`) and the real HTTP API (GET .../points) list all three, P2 with ERR_STATE_CORRUPT
 * naming its file; a rollback to P2 or to the older P1 (which would consume P2) is refused with
 * ERR_STATE_CORRUPT naming P2's file, and the install stays byte-identical.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { RollbackPointView, TargetView } from '../../src-shared/api';
import { runCli } from '../helpers/cli';
import { snapshot } from '../helpers/tree';
import { corruptField, pointFiles } from '../helpers/state-files';
import { call, Fixture, startInProcess } from './helpers';

let fx: Fixture;
let files: string[]; // point.json of P3, P2, P1
let ids: string[];
const cli = (...args: string[]) => runCli(['--config', fx.configPath, ...args], { timeoutMs: 120_000 });

beforeAll(async () => {
  fx = await Fixture.create('upkeep-damaged-point-');
  for (const v of ['1.0.0', '1.1.0', '1.2.0']) await fx.publish(v, { 'bin/demo': v });
  await fx.writeConfig(fx.configText());
  const d = await startInProcess(fx.configPath);
  try {
    for (const v of ['1.0.0', '1.1.0', '1.2.0']) await d.core.apply('demo', { version: v });
  } finally {
    await d.close();
  }
  files = await pointFiles(fx.dir, 'demo');
  ids = files.map((f) => path.basename(path.dirname(f)));
  await corruptField(files[1]!, 'to_version', 5);
}, 120_000);

afterAll(async () => {
  await fx?.cleanup();
});

describe('a damaged rollback point among intact ones', () => {
  it('the CLI lists every point, the damaged one with its error, and refuses rollbacks that need it (exit 5)', async () => {
    const plain = await cli('points', 'demo');
    expect(plain.code, plain.stderr).toBe(5);
    const lines = plain.stdout.trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(new RegExp(`^${ids[0]}  1\\.1\\.0 -> 1\\.2\\.0  `));
    expect(lines[1]).toBe(`${ids[1]}  damaged (ERR_STATE_CORRUPT ${files[1]}): cannot be rolled back to, nor past`);
    expect(lines[2]).toMatch(new RegExp(`^${ids[2]}  none -> 1\\.0\\.0  `));
    expect(plain.stderr).toContain(`error: demo: Corrupt state file ${files[1]}: to_version:`);

    const json = await cli('points', 'demo', '--json');
    expect(json.code).toBe(5);
    const views = json.json as RollbackPointView[];
    expect(views.map((v) => v.rollback_id)).toEqual(ids);
    expect(views[1]!.error).toMatchObject({ code: 'ERR_STATE_CORRUPT', details: { file: files[1] } });
    expect(views[0]!.error).toBeUndefined();
    expect(views[2]).toMatchObject({ from_version: null, to_version: '1.0.0' });

    const status = await cli('status', 'demo');
    expect(status.code).toBe(5);
    expect(status.stdout).toContain('installed: 1.2.0');
    expect(status.stdout).toContain('rollback points: 3');
    expect(status.stdout).toContain(`Corrupt state file ${files[1]}`);

    const before = await snapshot(fx.installDir);
    for (const args of [['rollback', 'demo', ids[1]!, '--json'], ['rollback', 'demo', ids[2]!, '--yes', '--json']]) {
      const r = await cli(...args);
      expect(r.code, `${args.join(' ')}: ${r.stdout}${r.stderr}`).toBe(5);
      expect(r.json.error).toMatchObject({ code: 'ERR_STATE_CORRUPT', details: { file: files[1] } });
      expect(r.json.error.message).toContain(files[1]);
      if (args[2] === ids[2]) expect(r.json.error.message).toContain(`rollback point ${ids[1]}, which a rollback to ${ids[2]} consumes, is damaged`);
      expect(await snapshot(fx.installDir)).toEqual(before);
    }
  }, 120_000);

  it('the HTTP API lists every point (200), the damaged one with its error, and refuses rollbacks that need it', async () => {
    const d = await startInProcess(fx.configPath);
    try {
      const list = await call(d.url, 'GET', '/api/targets/demo/points', { token: fx.admin.token });
      expect(list.status, list.text).toBe(200);
      const views = list.body as RollbackPointView[];
      expect(views.map((v) => v.rollback_id)).toEqual(ids);
      expect(views.map((v) => v.error?.code ?? null)).toEqual([null, 'ERR_STATE_CORRUPT', null]);
      expect(views[1]!.error!.details).toMatchObject({ file: files[1] });

      const target = await call(d.url, 'GET', '/api/targets/demo', { token: fx.admin.token });
      expect(target.status).toBe(200);
      expect(target.body as TargetView).toMatchObject({ current_version: '1.2.0', points_count: 3, last_error: { code: 'ERR_STATE_CORRUPT', details: { file: files[1] } } });

      // The compatibility list offers only points that can be rolled back to.
      const seed = await call(d.url, 'GET', '/api/updates/rollback', { token: fx.admin.token });
      expect(seed.status, seed.text).toBe(200);
      expect(seed.body).toMatchObject({ count: 2 });
      expect((seed.body.rollback_points as Array<{ rollback_id: string }>).map((p) => p.rollback_id)).toEqual([ids[0], ids[2]]);

      const before = await snapshot(fx.installDir);
      for (const id of [ids[1], ids[2]]) {
        const r = await call(d.url, 'POST', `/api/targets/demo/rollback/${id}`, { token: fx.admin.token, json: {} });
        expect(r.status, `${id}: ${r.text}`).toBe(500);
        expect(r.body.error).toMatchObject({ code: 'ERR_STATE_CORRUPT', details: { file: files[1], rollback_id: ids[1] } });
        expect(r.body.error.message).toContain(`Cannot roll back: rollback point ${ids[1]}`);
        expect(await snapshot(fx.installDir)).toEqual(before);
      }
      expect(await fsp.readFile(path.join(fx.installDir, 'bin', 'demo'), 'utf8')).toBe('1.2.0');
    } finally {
      await d.close();
    }
  }, 120_000);
});
