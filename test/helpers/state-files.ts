/**
 * Test helpers for persisted state: the rollback points' files of a target, and a way to make a
 * JSON state file corrupt by one field.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';

/** The `point.json` files of target `id`'s rollback points under `<dir>/state/points`, newest (highest seq) first. */
export async function pointFiles(dir: string, id: string): Promise<string[]> {
  const pts = path.join(dir, 'state', 'points', id);
  const files = (await fsp.readdir(pts)).filter((n) => n.startsWith('rb_')).map((n) => path.join(pts, n, 'point.json'));
  const seqs = await Promise.all(files.map(async (f) => (JSON.parse(await fsp.readFile(f, 'utf8')) as { seq: number }).seq));
  return files.map((f, i) => ({ f, seq: seqs[i]! })).sort((a, b) => b.seq - a.seq).map((e) => e.f);
}

/** Rewrites one field of a JSON state file (e.g. `to_version: 5`), making it corrupt; returns the original text. */
export async function corruptField(file: string, field: string, value: unknown): Promise<string> {
  const original = await fsp.readFile(file, 'utf8');
  await fsp.writeFile(file, JSON.stringify({ ...(JSON.parse(original) as Record<string, unknown>), [field]: value }));
  return original;
}
