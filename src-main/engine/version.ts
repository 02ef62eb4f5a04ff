/**
 * Upkeep's own version, from package.json (found from the source tree or the built dist/node tree).
 */
import path from 'node:path';

let cached: string | null = null;

/** The version in package.json, or "0.0.0" when it cannot be found. */
export function packageVersion(): string {
  if (cached) return cached;
  // src-main/engine/version.ts -> ../../package.json; dist/node/src-main/engine/version.js -> ../../../../package.json
  for (const rel of ['../../package.json', '../../../../package.json']) {
    try {
      const pkg = require(path.join(__dirname, rel)) as { name?: string; version?: string };
      if (pkg.name === 'upkeep' && pkg.version) return (cached = pkg.version);
    } catch {}
  }
  return (cached = '0.0.0');
}
