/**
 * Where the command line keeps validated configs (engine/config/config-cache.ts) and the identity
 * of the program that validated them. Only the one-file bundle caches: scripts/bundle-cli.mjs
 * writes the SHA-256 of the bundle's text into UPKEEP_BUILD_ID, so any rebuild that changes the
 * code misses; the bundle file's size and mtime catch an edit without a rebuild. The tsc modules
 * (and tests calling `main` in-process) have no build identity and always validate.
 */
import { statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ConfigCacheOptions } from '../engine/config/config-cache';

/** Set by scripts/bundle-cli.mjs (esbuild `define`); not defined in the tsc output. */
declare const UPKEEP_BUILD_ID: string | undefined;

/** The cache's place and program identity, or undefined when this build does not cache. */
export function configCacheOptions(): ConfigCacheOptions | undefined {
  const build = typeof UPKEEP_BUILD_ID === 'string' ? UPKEEP_BUILD_ID : null;
  if (!build) return undefined;
  try {
    const st = statSync(__filename);
    const uid = typeof process.getuid === 'function' ? process.getuid() : 'user';
    return {
      // The directory of V8's code cache (bin/upkeep.js), with the same ownership checks.
      dir: path.join(os.tmpdir(), `upkeep-compile-cache-${uid}`),
      // The time zone check depends on Node's ICU and tz data; the rest on this code.
      program: JSON.stringify([build, st.size, st.mtimeMs, process.execPath, process.version, process.versions.icu ?? null, process.versions.tz ?? null, process.versions.unicode ?? null, process.platform, process.arch]),
    };
  } catch {
    return undefined;
  }
}
