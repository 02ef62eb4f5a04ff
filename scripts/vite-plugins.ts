/**
 * Vite plugins of the Electron build (electron.vite.config.ts).
 */
import { createHash } from 'node:crypto';

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

export interface HtmlPlugin {
  name: string;
  apply: 'serve';
  transformIndexHtml: { order: 'post'; handler(html: string): string };
}

/**
 * `npm run dev` only: widens the page's Content-Security-Policy just enough for Vite's dev server.
 * The inline React refresh preamble that @vitejs/plugin-react injects is allowed by its SHA-256
 * hash (nothing else inline runs), styles Vite inserts as <style> elements are allowed, and the
 * HMR websocket may connect. The production build keeps the strict policy untouched.
 */
export function devCspPlugin(): HtmlPlugin {
  return {
    name: 'upkeep-dev-csp',
    apply: 'serve',
    transformIndexHtml: {
      order: 'post',
      handler(html) {
        const hashes = [...html.matchAll(/<script(?![^>]*\bsrc=)[^>]*>([\s\S]*?)<\/script>/g)].map((m) => `'sha256-${createHash('sha256').update(m[1]!).digest('base64')}'`);
        return html.replace(/(http-equiv="Content-Security-Policy"\s+content=")([^"]*)(")/, (_all, pre: string, csp: string, post: string) => {
          const widened = csp
            .replace(/script-src ([^;]*)/, (_m, v: string) => `script-src ${[v, ...hashes].join(' ')}`)
            .replace(/style-src ([^;]*)/, (_m, v: string) => `style-src ${v} 'unsafe-inline'`)
            .replace(/connect-src ([^;]*)/, (_m, v: string) => `connect-src ${v} ws://localhost:* ws://127.0.0.1:*`);
          return `${pre}${widened}${post}`;
        });
      },
    },
  };
}
