/**
 * Property test (fast-check) over plan building: for random pairs of trees over a small path
 * alphabet — files, modes, symbolic links, and paths that change type between the two — an
 * apply whose verification fails is undone to exactly the old tree, and a successful apply
 * rolled back restores it too (bytes, modes, links, directories).
 */
import fc from 'fast-check';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { applyRelease, rollbackToPoint } from '../../../src-main/engine/apply/index';
import type { SpecFile } from './helpers';
import { leftovers, makeSandbox, snapshot, toPlanned } from './helpers';

const PATHS = ['a', 'a/b', 'a/c', 'a/b/d', 'b', 'b/x', 'c', 'C', 'd/e/f', 'd'];

/** Drops entries that are a parent directory of another entry (a tree cannot hold both). */
function shape(entries: SpecFile[]): SpecFile[] {
  const seen = new Map<string, SpecFile>();
  for (const e of entries) if (!seen.has(e.path)) seen.set(e.path, e);
  const all = [...seen.values()];
  return all.filter((e) => !all.some((o) => o.path.startsWith(`${e.path}/`)));
}

const entry = fc.record({
  path: fc.constantFrom(...PATHS),
  kind: fc.constantFrom('file', 'file', 'link'),
  content: fc.constantFrom('one', 'two', 'three'),
  mode: fc.constantFrom(0o644, 0o600, 0o755),
  target: fc.constantFrom('c', 'b/x', '../a', 'missing'),
}).map((r): SpecFile => (r.kind === 'link' ? { path: r.path, target: r.target } : { path: r.path, content: r.content, mode: r.mode }));
const tree = fc.array(entry, { minLength: 1, maxLength: 7 }).map(shape);

describe('plan building (fast-check)', () => {
  it('every plan undoes to the old tree, and rollback restores it after a commit', async () => {
    let runs = 0;
    await fc.assert(
      fc.asyncProperty(tree, tree, fc.boolean(), async (oldTree, newTree, userFile) => {
        const sb = await makeSandbox('upkeep-fuzz-');
        try {
          await applyRelease(sb.plan(`o${++runs}a`, '1.0.0', await toPlanned(sb.cacheDir, oldTree)));
          if (userFile) await fsp.writeFile(path.join(sb.installDir, 'user.txt'), 'not managed');
          const before = await snapshot(sb.installDir);
          const planned = await toPlanned(sb.cacheDir, newTree);
          const err = await applyRelease(sb.plan(`o${runs}b`, '2.0.0', planned), { verify: async () => { throw new Error('verify says no'); } }).catch((e: unknown) => e);
          expect((err as Error).message).toBe('verify says no');
          expect(await snapshot(sb.installDir)).toEqual(before);
          await applyRelease(sb.plan(`o${runs}c`, '2.0.0', planned));
          const want = newTree.map((f) => f.path).sort();
          const got = (await snapshot(sb.installDir)).filter((e) => e.type !== 'dir' && e.path !== 'user.txt').map((e) => e.path);
          expect(got).toEqual(want);
          await rollbackToPoint({ target: 'app', installDir: sb.installDir, stateDir: sb.stateDir, pointsDir: sb.pointsDir, opId: `o${runs}d` });
          expect(await snapshot(sb.installDir)).toEqual(before);
          expect(await leftovers(sb.root)).toEqual([]);
        } finally {
          await sb.cleanup();
        }
      }),
      { numRuns: Number(process.env.UPKEEP_FUZZ_RUNS ?? 40) },
    );
  }, 300_000);
});
