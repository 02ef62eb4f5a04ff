#!/usr/bin/env node
// Second step of `npm run build:node` (after tsc): the command line as one CommonJS file,
// dist/node/src-main/cli/upkeep-cli.js, which bin/upkeep.js loads instead of the ~150 modules tsc
// emits. Resolving, reading and wrapping each module file is most of a start-up, so one file
// answers `upkeep status` in about half the time. Commands still load their code on demand:
// esbuild keeps a `require()` of a bundled module lazy (the module runs on the first call).
//
// Packages that only some commands need (the HTTP server, signature formats, feed adapters'
// clients, archive readers) stay outside the bundle and are loaded from node_modules when used;
// what every config-reading command needs (zod, yaml, croner, write-file-atomic) is inside.
// semver stays outside too: bin/upkeep.js has loaded its modules for the Node.js version check
// before the bundle runs, so the bundle uses those instead of a second copy.
//
// bin/upkeep.js prefers the bundle unless tsc emitted after it (dist/node/.tsbuildinfo newer), and
// answers help and version from the small tsc modules, which load faster than the whole bundle.
// The bundle sits beside main.js, so `__dirname`-relative lookups (package.json in
// engine/version.ts, the dashboard in cli/commands/daemon.ts) find the same files.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Loaded from node_modules on first use, never at start. */
export const EXTERNAL = [
  'electron',
  'electron-log',
  'fastify',
  '@fastify/static',
  'prom-client',
  'jose',
  'undici',
  'axios',
  'openpgp',
  'pkijs',
  'asn1js',
  'tuf-js',
  'tar',
  'yauzl',
  'fast-xml-parser',
  'semver',
];

/**
 * zod's `z.locales` (error messages in ~50 languages, a third of zod's size) is not bundled: Upkeep
 * reports in English. The namespace keeps `en` alone (the module classic zod sets up on its own,
 * and src-main/engine/state/state-zod.ts sets up for zod/mini), so nothing that reads it breaks.
 */
const zodLocalesOut = {
  name: 'zod-locales-out',
  setup(b) {
    b.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) => (/[\\/]zod[\\/]v4[\\/](classic|core|mini)[\\/]/.test(args.importer) ? { path: 'zod-locales', namespace: 'zod-locales-out' } : undefined));
    b.onLoad({ filter: /.*/, namespace: 'zod-locales-out' }, () => ({ contents: "export { default as en } from 'zod/v4/locales/en.js';", loader: 'js', resolveDir: ROOT }));
  },
};

/**
 * Stands for the bundle's build identity in the bundle's text until the build replaces it with the
 * SHA-256 (hex) of that text (src-main/cli/config-cache-options.ts): 64 characters, like the
 * digest, so the source map's columns stay right.
 */
const BUILD_ID_PLACEHOLDER = 'upkeep-build-id-'.padEnd(64, '0');

/** The bundle's first line is this prefix and its build identity (bin/upkeep.js reads it). */
const BUILD_LINE_PREFIX = '// upkeep-build ';

export async function bundleCli() {
  const outfile = path.join(ROOT, 'dist', 'node', 'src-main', 'cli', 'upkeep-cli.js');
  await build({
    entryPoints: [path.join(ROOT, 'src-main', 'cli', 'main.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    // Subpaths too (tuf-js/dist/error, semver/functions/...): `pkg` and `pkg/*`.
    external: EXTERNAL.flatMap((p) => [p, `${p}/*`]),
    sourcemap: 'linked',
    legalComments: 'linked',
    logLevel: 'warning',
    plugins: [zodLocalesOut],
    define: { UPKEEP_BUILD_ID: JSON.stringify(BUILD_ID_PLACEHOLDER) },
    // bin/upkeep.js names the bundle's code cache by this line instead of hashing 1.5 MB at each start.
    banner: { js: `${BUILD_LINE_PREFIX}${BUILD_ID_PLACEHOLDER}` },
  });
  asciiOnly(outfile);
  stampBuildId(outfile);
  return outfile;
}

/**
 * Makes the bundle pure ASCII. esbuild escapes non-ASCII characters in strings and identifiers
 * but keeps comments as written, and a few comments (an ellipsis, a dash) make the whole 1.5 MB
 * file take Node's slow UTF-8 decoding path on every start (about 5 ms of `upkeep status`; an
 * ASCII file is read almost at copy speed). Such characters are written as `\uXXXX`, which
 * changes nothing in a comment. A non-ASCII character anywhere else (a regular expression or a
 * raw template the bundler left as written) fails the build rather than risk changing code.
 */
export function asciiOnly(file) {
  const text = fs.readFileSync(file, 'utf8');
  const lines = text.split('\n');
  lines.forEach((line, i) => {
    // Line comments, JSDoc/block comment lines, and block comments that close on the same line.
    const at = line.search(/[\u0080-\uffff]/);
    if (at < 0) return;
    const before = line.slice(0, at);
    const inComment = /^\s*(\/\*|\*)/.test(line) || before.includes('//') || (before.includes('/*') && !before.slice(before.lastIndexOf('/*')).includes('*/'));
    if (!inComment) throw new Error(`${file}:${i + 1}: a non-ASCII character outside a comment; escape it in the source`);
  });
  fs.writeFileSync(file, text.replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`));
}

/**
 * Replaces BUILD_ID_PLACEHOLDER in the bundle with the SHA-256 of the bundle's text: in its first
 * line (BUILD_LINE_PREFIX) and in the one place the code reads UPKEEP_BUILD_ID.
 */
export function stampBuildId(file) {
  const text = fs.readFileSync(file, 'utf8');
  const parts = text.split(BUILD_ID_PLACEHOLDER);
  if (parts.length !== 3 || parts[0] !== BUILD_LINE_PREFIX) throw new Error(`${file}: expected the build id placeholder in the first line and once in the code, found it ${parts.length - 1} times`);
  const id = createHash('sha256').update(text).digest('hex');
  fs.writeFileSync(file, parts.join(id));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const out = await bundleCli();
  console.log(`bundled ${path.relative(ROOT, out)}`);
}
