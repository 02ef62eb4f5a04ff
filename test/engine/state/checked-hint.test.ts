/**
 * Digest hints of state documents (fs/atomic.ts writeCheckedHint): installed.json and point.json
 * are checked against their schema on every read unless their bytes still hash to the digest
 * Upkeep recorded when it wrote them. Any other bytes, a missing, torn or foreign hint, a hint of
 * another schema tag, a link or a FIFO at the hint's name: the full check, with ERR_STATE_CORRUPT
 * for a bad document.
 */
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { listPoints, readInstalled, writeInstalled, type Installed, type RollbackPoint } from '../../../src-main/engine/apply/index';
import { setInstalled } from '../../../src-main/engine/apply/installed';
import { writePoint } from '../../../src-main/engine/apply/points';
import { tempDir } from '../../helpers/tree';

let root: string;
beforeEach(async () => {
  root = await tempDir('upkeep-checked-hint-');
});
afterEach(async () => {
  await fsp.rm(root, { recursive: true, force: true });
});

const sha = (s: string): string => createHash('sha256').update(s).digest('hex');
const file = (p: string, body = 'x'): { path: string; sha256: string; size: number; mode: number } => ({ path: p, sha256: sha(body), size: body.length, mode: 0o644 });
const installed: Installed = { version: '1.2.0', layout: 'in-place', files: [file('bin/app'), file('lib/a.js', 'a')] };

/** A document the schema refuses (a path escaping the install dir), with a hint that matches its bytes. */
async function unsafeButHinted(doc: string, tag: string): Promise<string> {
  const text = (await fsp.readFile(doc, 'utf8')).replace('"lib/a.js"', '"../outside.js"');
  await fsp.writeFile(doc, text);
  return `${tag} ${sha(text)}\n`;
}

describe('installed.json digest hint', () => {
  it('is written beside installed.json, and reads give back exactly what was written', async () => {
    await writeInstalled(root, installed);
    const text = await fsp.readFile(path.join(root, 'installed.json'), 'utf8');
    expect(await fsp.readFile(path.join(root, 'installed.json.sha256'), 'utf8')).toBe(`installed/1 ${sha(text)}\n`);
    expect(await readInstalled(root)).toEqual(installed);
    await fsp.rm(path.join(root, 'installed.json.sha256'));
    expect(await readInstalled(root)).toEqual(installed); // checked in full, same value
  });

  it('goes with installed.json when the record is removed (a rollback to nothing installed)', async () => {
    await writeInstalled(root, installed);
    await setInstalled(root, null);
    expect((await fsp.readdir(root)).sort()).toEqual([]);
    expect(await readInstalled(root)).toBeNull();
  });

  it('an edited installed.json is checked in full: ERR_STATE_CORRUPT names the bad entry', async () => {
    await writeInstalled(root, installed);
    const doc = path.join(root, 'installed.json');
    await unsafeButHinted(doc, 'installed/1'); // the old hint no longer matches the bytes
    await expect(readInstalled(root)).rejects.toMatchObject({ code: 'ERR_STATE_CORRUPT', message: expect.stringContaining('files.1.path') });
  });

  it('a hint of another schema tag, a torn hint, a link or a FIFO at the hint all mean the full check', async () => {
    await writeInstalled(root, installed);
    const doc = path.join(root, 'installed.json');
    const hint = path.join(root, 'installed.json.sha256');
    const good = await unsafeButHinted(doc, 'installed/1');
    // The only case that skips the check: the exact bytes with the exact tag (as Upkeep writes it).
    await fsp.writeFile(hint, good);
    expect((await readInstalled(root))?.files[1]?.path).toBe('../outside.js');
    for (const [what, make] of [
      ['another tag', () => fsp.writeFile(hint, good.replace('installed/1', 'installed/2'))],
      ['a torn hint', () => fsp.writeFile(hint, good.slice(0, 40))],
      ['trailing bytes', () => fsp.writeFile(hint, `${good}more`)],
      ['a link to a matching hint', async () => {
        await fsp.writeFile(path.join(root, 'elsewhere'), good);
        await fsp.symlink(path.join(root, 'elsewhere'), hint);
      }],
      ['a FIFO', async () => execFileSync('mkfifo', [hint])],
    ] as Array<[string, () => Promise<unknown>]>) {
      await fsp.rm(hint, { force: true });
      await make();
      await expect(readInstalled(root), what).rejects.toMatchObject({ code: 'ERR_STATE_CORRUPT' });
    }
  });

  it('a link planted at the hint is removed, never written through, and the next write makes the hint', async () => {
    const victim = path.join(root, 'victim');
    await fsp.writeFile(victim, 'keep me');
    await fsp.symlink(victim, path.join(root, 'installed.json.sha256'));
    await writeInstalled(root, installed);
    expect(await fsp.readFile(victim, 'utf8')).toBe('keep me');
    await expect(fsp.lstat(path.join(root, 'installed.json.sha256'))).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await readInstalled(root)).toEqual(installed);
    await writeInstalled(root, installed);
    expect((await fsp.lstat(path.join(root, 'installed.json.sha256'))).isFile()).toBe(true);
  });
});

describe('point.json digest hint', () => {
  const point = (id: string): RollbackPoint => ({
    rollback_id: id, target: 'app', from_version: '1.0.0', to_version: '1.2.0', created_at: '2026-01-01T00:00:00.000Z',
    files: 2, seq: 1, layout: 'in-place', before: installed, backed_up: [file('bin/app'), file('lib/a.js', 'a')], displaced: [],
    kept_version_dir: null, size_bytes: 2,
  });

  it('a point read back equals the one written, with or without its hint', async () => {
    const p = point('rb_20260101T000000_abcdef');
    await writePoint(root, p);
    expect(await listPoints(root)).toEqual([p]);
    await fsp.rm(path.join(root, p.rollback_id, 'point.json.sha256'));
    expect(await listPoints(root)).toEqual([p]);
  });

  it('an edited point.json is checked in full (ERR_STATE_CORRUPT) even though a hint is there', async () => {
    const p = point('rb_20260101T000000_abcdef');
    await writePoint(root, p);
    await unsafeButHinted(path.join(root, p.rollback_id, 'point.json'), 'rollback-point/1');
    await expect(listPoints(root)).rejects.toMatchObject({ code: 'ERR_STATE_CORRUPT', message: expect.stringContaining('path') });
  });
});
