/**
 * The built Electron main bundle (out/main/index.js) as the packaged app loads it from app.asar:
 * every npm dependency is bundled (ESM-only ones like jose could not be require()d from the
 * archive), every file system call goes through Electron's asar-unaware `original-fs`, and no
 * renderer-only package rides along.
 */
import { describe, it, expect, beforeAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { builtinModules } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';
import { useOriginalFs } from '../../scripts/vite-plugins';

const ROOT = process.cwd();
const bundle = path.join(ROOT, 'out', 'main', 'index.js');
let code = '';

beforeAll(() => {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'node_modules', 'electron-vite', 'bin', 'electron-vite.js'), 'build'], { cwd: ROOT, encoding: 'utf8' });
  expect(r.status, r.stderr + r.stdout).toBe(0);
  code = fs.readFileSync(bundle, 'utf8');
}, 180_000);

/** Module ids the bundle require()s at run time (the bundler writes them with double quotes; ids
 * inside comments or code-generation templates of fastify/ajv are quoted otherwise or follow a backtick). */
function requires(src: string): string[] {
  return [...new Set([...src.matchAll(/(?<![`'"\w.$])require\("([^"]+)"\)/g)].map((m) => m[1]!))];
}

describe('out/main/index.js', () => {
  it('requires only Node built-ins, electron and original-fs (npm dependencies are bundled)', () => {
    const builtins = new Set([...builtinModules, ...builtinModules.map((m) => `node:${m}`), 'node:sqlite', 'node:test']);
    const external = requires(code).filter((id) => !builtins.has(id) && id !== 'electron' && id !== 'original-fs');
    expect(external).toEqual([]);
    expect(requires(code)).not.toContain('jose');
  });

  it('uses original-fs for every fs and fs/promises', () => {
    const ids = requires(code);
    expect(ids).toContain('original-fs');
    for (const id of ['fs', 'node:fs', 'fs/promises', 'node:fs/promises']) expect(ids).not.toContain(id);
    expect(useOriginalFs('a(require("node:fs/promises")); b(require(\'fs\')); require("fs-extra")')).toBe('a(require("original-fs").promises); b(require("original-fs")); require("fs-extra")');
  });

  it('ships no renderer-only package', () => {
    for (const marker of ['react-dom', 'react-markdown', 'rehype-sanitize', 'zustand', '__SECRET_INTERNALS', 'react.element']) expect(code).not.toContain(marker);
  });
});
