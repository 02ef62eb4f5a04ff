/**
 * A plugin of the Electron main build (electron.vite.config.ts): every `fs` and `fs/promises`
 * (with or without `node:`) the bundle requires, the engine's and its dependencies', becomes
 * Electron's `original-fs`, the file system without asar support. Electron's own `fs` treats
 * `*.asar` files as directories (and throws "Invalid package" on damaged ones); the engine must
 * read, hash, back up and restore a managed install's `app.asar` as the file it is.
 *
 * It rewrites the CommonJS output (electron-vite marks Node built-ins external before any
 * resolve hook could redirect them): `require("fs")` → `require("original-fs")`,
 * `require("fs/promises")` → `require("original-fs").promises`.
 */

export interface RenderChunkPlugin {
  name: string;
  renderChunk(code: string): { code: string; map: null } | null;
}

/** The rewrite itself (also used by the test on the built bundle's source). */
export function useOriginalFs(code: string): string {
  return code
    .replace(/require\((["'])(?:node:)?fs\/promises\1\)/g, 'require("original-fs").promises')
    .replace(/require\((["'])(?:node:)?fs\1\)/g, 'require("original-fs")');
}

export function originalFsPlugin(): RenderChunkPlugin {
  return {
    name: 'upkeep-original-fs',
    renderChunk(code) {
      const out = useOriginalFs(code);
      return out === code ? null : { code: out, map: null };
    },
  };
}
