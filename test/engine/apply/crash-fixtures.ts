/**
 * The releases the engine-level crash suites apply: >= 2,000 small files with varied modes,
 * nested directories, a directory that empties, and type changes (file -> directory,
 * directory -> file, file -> link, link -> file) between the two.
 */
import type { SpecFile } from './helpers';

/** Regular files in the first release (the second keeps most of them). */
export const CRASH_FILES = 2000;

export function releaseV1(): SpecFile[] {
  const files: SpecFile[] = [];
  for (let i = 0; i < CRASH_FILES; i++) {
    const dir = i % 5 === 0 ? '' : `d${i % 17}/${i % 3 === 0 ? 'deep/er/' : ''}`;
    files.push({ path: `${dir}f${i}.txt`, content: `v1 file ${i} ${'x'.repeat(i % 97)}\n`, mode: i % 7 === 0 ? 0o755 : i % 11 === 0 ? 0o600 : 0o644 });
  }
  files.push({ path: 'gone/only/here.txt', content: 'removed in v2 with its dirs' });
  // Type changes in v2: file -> directory, directory -> file, file -> link, link -> file.
  files.push({ path: 'docs', content: 'docs as one file in v1' });
  files.push({ path: 'manual/index.md', content: 'manual as a directory in v1' });
  files.push({ path: 'manual/part/two.md', content: 'part two' });
  files.push({ path: 'lib/libx.so', content: 'a copy in v1' });
  files.push({ path: 'lib/libx.so.1', content: 'libx 1', mode: 0o755 });
  files.push({ path: 'lib/current', target: 'libx.so.1' });
  return files;
}

const TYPE_CHANGED = new Set(['docs', 'manual/index.md', 'manual/part/two.md', 'lib/libx.so', 'lib/current']);

export function releaseV2(v1: SpecFile[]): SpecFile[] {
  const out: SpecFile[] = [];
  v1.forEach((f, i) => {
    if (f.path.startsWith('gone/')) return; // removed, and its directories become empty
    if (TYPE_CHANGED.has(f.path)) return;
    if (i % 10 === 1) return; // removed
    if (i % 4 === 0) out.push({ ...f, content: `v2 changed ${i}\n` }); // changed bytes
    else if (i % 13 === 0) out.push({ ...f, mode: 0o640 }); // changed mode only
    else out.push(f); // unchanged
  });
  out.push({ path: 'docs/index.md', content: 'docs as a directory in v2' });
  out.push({ path: 'manual', content: 'manual as one file in v2' });
  out.push({ path: 'lib/libx.so', target: 'libx.so.1' });
  out.push({ path: 'lib/current', content: 'a file where a link was' });
  for (let i = 0; i < 300; i++) out.push({ path: `newdir/n${i % 4}/a${i}.txt`, content: `added ${i}\n`, mode: i % 9 === 0 ? 0o755 : 0o644 });
  return out;
}
