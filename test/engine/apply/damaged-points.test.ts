/**
 * A damaged point.json hides only its own point: scanPoints lists the intact ones and the damaged
 * one apart (ERR_STATE_CORRUPT naming the file), pointViews lists it where its order is known, and
 * pointsForRollback refuses exactly the rollbacks that would consume it (to it, or to an older
 * point) while one to a newer intact point gets the intact points. Real point dirs in a temp dir.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { listPoints, pointViews, pointsForRollback, scanPoints, writePoint, type RollbackPoint } from '../../../src-main/engine/apply/points';
import { pruneVersions } from '../../../src-main/engine/apply/versioned';

let dir: string;
beforeEach(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'upkeep-points-'));
});
afterEach(async () => {
  await fsp.rm(dir, { recursive: true, force: true });
});

/** A point `rb_<stamp>_<hex>` of seq `seq` (1.0.<seq-1> -> 1.0.<seq>). */
async function point(seq: number, stamp: string, hex: string): Promise<RollbackPoint> {
  const p: RollbackPoint = {
    rollback_id: `rb_${stamp}_${hex}`, target: 'demo', from_version: seq === 1 ? null : `1.0.${seq - 1}`, to_version: `1.0.${seq}`,
    created_at: '2026-01-01T00:00:00.000Z', files: 1, size_bytes: 3, seq, layout: 'in-place', before: null, backed_up: [], displaced: [], kept_version_dir: null,
  };
  await writePoint(dir, p);
  return p;
}

const fileOf = (id: string) => path.join(dir, id, 'point.json');

/** Rewrites a field of a point.json (the checked hint no longer matches, so it is parsed). */
async function damage(id: string, field: string, value: unknown): Promise<void> {
  const doc = JSON.parse(await fsp.readFile(fileOf(id), 'utf8')) as Record<string, unknown>;
  await fsp.writeFile(fileOf(id), JSON.stringify({ ...doc, [field]: value }));
}

describe('a damaged rollback point', () => {
  it('three points, the middle one damaged (seq readable): listed in place, rollbacks to it or past it refused, to the newest allowed', async () => {
    const p1 = await point(1, '20260101T000001', 'aaaaaa');
    const p2 = await point(2, '20260101T000002', 'bbbbbb');
    const p3 = await point(3, '20260101T000003', 'cccccc');
    await damage(p2.rollback_id, 'to_version', 5);

    await expect(listPoints(dir)).rejects.toMatchObject({ code: 'ERR_STATE_CORRUPT', details: { file: fileOf(p2.rollback_id) } });
    const scan = await scanPoints(dir);
    expect(scan.points.map((p) => p.rollback_id)).toEqual([p3.rollback_id, p1.rollback_id]);
    expect(scan.damaged).toMatchObject([{ rollback_id: p2.rollback_id, seq: 2, from_version: '1.0.1', to_version: null, error: { code: 'ERR_STATE_CORRUPT' } }]);

    const views = pointViews(scan, 'demo');
    expect(views.map((v) => v.rollback_id)).toEqual([p3.rollback_id, p2.rollback_id, p1.rollback_id]);
    expect(views[0]!.error).toBeUndefined();
    expect(views[1]).toMatchObject({ to_version: '', size_bytes: 0, error: { code: 'ERR_STATE_CORRUPT', details: { file: fileOf(p2.rollback_id) } } });
    expect(views[1]!.error!.message).toContain(`Corrupt state file ${fileOf(p2.rollback_id)}: to_version:`);

    // To the newest (by default or by id): it consumes only p3.
    expect((await pointsForRollback(dir)).map((p) => p.rollback_id)).toEqual([p3.rollback_id, p1.rollback_id]);
    expect((await pointsForRollback(dir, p3.rollback_id)).map((p) => p.rollback_id)).toEqual([p3.rollback_id, p1.rollback_id]);
    // To the damaged one, or past it.
    for (const id of [p2.rollback_id, p1.rollback_id]) {
      const err = await pointsForRollback(dir, id).catch((e: unknown) => e);
      expect(err, id).toMatchObject({ code: 'ERR_STATE_CORRUPT', details: { file: fileOf(p2.rollback_id), rollback_id: p2.rollback_id } });
      expect((err as Error).message).toContain(p2.rollback_id);
    }
    // An id naming no point: the caller says ERR_ROLLBACK_POINT_NOT_FOUND.
    expect(await pointsForRollback(dir, 'rb_20990101T000000_dddddd')).toHaveLength(2);
  });

  it('the newest damaged: the default rollback is refused; without a readable seq the id orders it; the same second is not known to be older', async () => {
    const p1 = await point(1, '20260101T000001', 'aaaaaa');
    const p2 = await point(2, '20260101T000002', 'bbbbbb');
    await fsp.writeFile(fileOf(p2.rollback_id), '{"seq": ');
    const scan = await scanPoints(dir);
    expect(scan.damaged).toMatchObject([{ rollback_id: p2.rollback_id, seq: null, created_at: '2026-01-01T00:00:02.000Z' }]);
    expect(pointViews(scan, 'demo').map((v) => v.rollback_id)).toEqual([p2.rollback_id, p1.rollback_id]);
    await expect(pointsForRollback(dir)).rejects.toMatchObject({ code: 'ERR_STATE_CORRUPT', details: { file: fileOf(p2.rollback_id) } });
    await expect(pointsForRollback(dir, p1.rollback_id)).rejects.toMatchObject({ code: 'ERR_STATE_CORRUPT' });

    // The oldest damaged, unreadable, in another second: not needed by a rollback to p2.
    await fsp.writeFile(fileOf(p2.rollback_id), (await fsp.readFile(fileOf(p1.rollback_id), 'utf8')).replace(p1.rollback_id, p2.rollback_id).replace('"seq":1', '"seq":2'));
    await fsp.writeFile(fileOf(p1.rollback_id), 'not json');
    expect((await pointsForRollback(dir)).map((p) => p.rollback_id)).toEqual([p2.rollback_id]);

    // Made in the same second as the newest: its order is not known, so a rollback refuses.
    const p0 = await point(0, '20260101T000002', '000000');
    await fsp.writeFile(fileOf(p0.rollback_id), '[]');
    await expect(pointsForRollback(dir, p2.rollback_id)).rejects.toMatchObject({ details: { rollback_id: p0.rollback_id } });
    // Listed above every point a rollback to which it refuses (here: all of them).
    expect(pointViews(await scanPoints(dir), 'demo').map((v) => [v.rollback_id, v.error !== undefined])).toEqual([
      [p0.rollback_id, true], [p2.rollback_id, false], [p1.rollback_id, true],
    ]);
  });

  it('only damaged points: listed, and every rollback refused', async () => {
    const p1 = await point(1, '20260101T000001', 'aaaaaa');
    await fsp.writeFile(fileOf(p1.rollback_id), '');
    expect(pointViews(await scanPoints(dir), 'demo')).toMatchObject([{ rollback_id: p1.rollback_id, target: 'demo', error: { code: 'ERR_STATE_CORRUPT' } }]);
    await expect(pointsForRollback(dir)).rejects.toMatchObject({ code: 'ERR_STATE_CORRUPT', details: { rollback_id: p1.rollback_id } });
  });

  it('versioned: while a point is damaged no version dir is pruned (the one it keeps is not known); once repaired, unreferenced ones are', async () => {
    const install = path.join(dir, 'install');
    for (const v of ['1.0.0', '1.1.0', '1.2.0']) await fsp.mkdir(path.join(install, 'versions', v, 'bin'), { recursive: true });
    await fsp.symlink('versions/1.2.0', path.join(install, 'current'));
    const points = path.join(dir, 'points');
    const keep = async (seq: number, hex: string, kept: string): Promise<string> => {
      const p: RollbackPoint = {
        rollback_id: `rb_20260101T00000${seq}_${hex}`, target: 'demo', from_version: kept, to_version: 'next', created_at: '2026-01-01T00:00:00.000Z',
        files: 1, size_bytes: 3, seq, layout: 'versioned', before: null, backed_up: [], displaced: [], kept_version_dir: `versions/${kept}`,
      };
      await writePoint(points, p);
      return path.join(points, p.rollback_id, 'point.json');
    };
    await keep(2, 'bbbbbb', '1.1.0');
    const damaged = await keep(1, 'aaaaaa', '1.0.0');
    const good = await fsp.readFile(damaged, 'utf8');
    await fsp.writeFile(damaged, '{ torn');
    expect(await pruneVersions(install, points)).toEqual([]);
    expect((await fsp.readdir(path.join(install, 'versions'))).sort()).toEqual(['1.0.0', '1.1.0', '1.2.0']);
    // Repaired, and the point dropped: 1.0.0 is no longer kept by anything.
    await fsp.writeFile(damaged, good);
    await fsp.rm(path.dirname(damaged), { recursive: true });
    expect(await pruneVersions(install, points)).toEqual(['1.0.0']);
    expect((await fsp.readdir(path.join(install, 'versions'))).sort()).toEqual(['1.1.0', '1.2.0']);
  });
});
