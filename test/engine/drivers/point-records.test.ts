import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { pointOrNewest, readPointRecords } from '../../../src-main/engine/drivers/point-records';

const Schema = z.object({ rollback_id: z.string(), created_at: z.string(), note: z.string() }).strict();

let tmp: string;
beforeEach(async () => {
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'upkeep-point-records-'));
});
afterEach(async () => {
  await fsp.rm(tmp, { recursive: true, force: true });
});

async function writePoint(id: string, body: unknown): Promise<string> {
  const file = path.join(tmp, 'points', id, 'point.json');
  await fsp.mkdir(path.dirname(file), { recursive: true });
  await fsp.writeFile(file, typeof body === 'string' ? body : JSON.stringify(body));
  return file;
}

describe('rollback point records of git and compose targets', () => {
  it('are read newest first; a missing points dir is none, a point without point.json is passed over', async () => {
    expect(await readPointRecords(path.join(tmp, 'points'), Schema)).toEqual([]);
    await writePoint('b', { rollback_id: 'b', created_at: '2026-11-30T10:00:00.000Z', note: 'second' });
    await writePoint('a', { rollback_id: 'a', created_at: '2026-11-30T09:00:00.000Z', note: 'first' });
    await writePoint('c', { rollback_id: 'c', created_at: '2026-11-30T11:00:00.000Z', note: 'third' });
    await fsp.mkdir(path.join(tmp, 'points', 'half-written'));
    const points = await readPointRecords(path.join(tmp, 'points'), Schema);
    expect(points.map((p) => p.note)).toEqual(['third', 'second', 'first']);
    expect(pointOrNewest(points, null, 'web').rollback_id).toBe('c');
    expect(pointOrNewest(points, 'a', 'web').note).toBe('first');
  });

  it('refuse a point.json not of the schema (ERR_STATE_CORRUPT naming it) and an unknown point (ERR_ROLLBACK_POINT_NOT_FOUND)', async () => {
    const file = await writePoint('x', { rollback_id: 'x', created_at: '2026-11-30T10:00:00.000Z' });
    await expect(readPointRecords(path.join(tmp, 'points'), Schema)).rejects.toMatchObject({ code: 'ERR_STATE_CORRUPT', details: { file } });
    expect(() => pointOrNewest([], null, 'web')).toThrow(expect.objectContaining({ code: 'ERR_ROLLBACK_POINT_NOT_FOUND', message: 'No rollback points for web' }));
    expect(() => pointOrNewest([{ rollback_id: 'a', created_at: '' }], 'zz', 'web')).toThrow(expect.objectContaining({ code: 'ERR_ROLLBACK_POINT_NOT_FOUND', details: { rollback_id: 'zz' } }));
  });
});
