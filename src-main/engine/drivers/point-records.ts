/**
 * The rollback point records of drivers whose point is a record of the previous state rather
 * than a copy of files (git, compose): `<pointsDir>/<rollback id>/point.json`, each read against
 * the driver's own zod schema, and the lookup a rollback starts with.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { z } from 'zod';
import { NotFoundError } from '../../../src-shared/errors';
import { readJson } from '../fs/atomic';

/** What every driver's point record has: its id and its ISO 8601 creation time. */
export interface PointRecord {
  rollback_id: string;
  created_at: string;
}

/**
 * Every point recorded under `pointsDir`, newest first (by `created_at`). A missing or unreadable
 * directory is no points; an entry without `point.json` (a point still being written) is passed
 * over. A `point.json` that is not JSON of `schema` throws StateCorruptError (ERR_STATE_CORRUPT
 * naming it).
 */
export async function readPointRecords<S extends z.ZodType<PointRecord>>(pointsDir: string, schema: S): Promise<Array<z.output<S>>> {
  let names: string[];
  try {
    names = await fsp.readdir(pointsDir);
  } catch {
    return [];
  }
  const points: Array<z.output<S>> = [];
  for (const n of names) {
    const p = await readJson(path.join(pointsDir, n, 'point.json'), schema);
    if (p) points.push(p);
  }
  return points.sort((a, b) => b.created_at.localeCompare(a.created_at));
}

/**
 * The point `pointId` names among `points` (newest first), or the newest when `pointId` is null.
 * Throws NotFoundError (ERR_ROLLBACK_POINT_NOT_FOUND, `details.rollback_id`) when there is none.
 */
export function pointOrNewest<P extends PointRecord>(points: P[], pointId: string | null, targetId: string): P {
  const point = pointId ? points.find((p) => p.rollback_id === pointId) : points[0];
  if (!point) throw new NotFoundError('ERR_ROLLBACK_POINT_NOT_FOUND', pointId ? `No rollback point ${pointId} for ${targetId}` : `No rollback points for ${targetId}`, { rollback_id: pointId });
  return point;
}
