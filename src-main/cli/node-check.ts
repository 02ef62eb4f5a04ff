/**
 * The Node.js version check the `upkeep` command runs before anything else (bin/upkeep.js loads
 * this module first, so it must stay free of the engine's imports).
 *
 * Two ranges matter. `package.json` `engines.node` is what every installed dependency declares
 * (the intersection of their `engines` fields, including Electron's and the build tools'): a Node
 * inside it installs without EBADENGINE warnings. RUNTIME_NODE_RANGE is what the command line
 * itself cannot run without: `require()` of ES modules (jose, content-disposition are ESM-only
 * and loaded from this CommonJS package), unflagged since Node 20.19 and 22.12.
 */
// The two semver functions alone: `import 'semver'` loads all 47 of its modules on every start.
import coerce from 'semver/functions/coerce';
import satisfies from 'semver/functions/satisfies';

/** Node versions the command line runs on (require(esm) without a flag). */
export const RUNTIME_NODE_RANGE = '^20.19.0 || >=22.12.0';

export type NodeCheck =
  | { ok: true; warning?: string }
  | { ok: false; message: string };

/**
 * Checks `version` ("v20.20.2") against the runtime range (refused: one line saying what to do)
 * and, unless `o.warn` is false, against `engines` (outside it: a one-line warning about the
 * dependencies' declared need). bin/upkeep.js shows the warning only on a terminal, so it skips
 * that second range (parsing a range costs milliseconds of every start) when stderr is not one.
 */
export function checkNodeVersion(version: string, engines: string | undefined, o: { warn?: boolean } = {}): NodeCheck {
  const v = coerce(version)?.version ?? version;
  if (!satisfies(v, RUNTIME_NODE_RANGE)) {
    return {
      ok: false,
      message: `upkeep needs Node.js ${engines ?? RUNTIME_NODE_RANGE} (this is Node.js ${v}); install a newer Node.js (https://nodejs.org/) and run it again.`,
    };
  }
  if (o.warn !== false && engines && !satisfies(v, engines)) {
    return { ok: true, warning: `warning: Node.js ${v} is outside ${engines}, the range Upkeep's dependencies declare (package.json "engines"); upgrade Node.js to avoid surprises.` };
  }
  return { ok: true };
}
