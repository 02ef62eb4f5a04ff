#!/usr/bin/env node
'use strict';
// The built command line. `npm ci` builds it through the `prepare` script.
const fs = require('node:fs');
const path = require('node:path');
// Node 22.1+ keeps V8's compiled code of every module on disk, so later starts skip compiling.
if (typeof require('node:module').enableCompileCache === 'function') require('node:module').enableCompileCache();
const built = path.join(__dirname, '..', 'dist', 'node', 'src-main', 'cli');
if (!fs.existsSync(path.join(built, 'main.js'))) {
  console.error(`upkeep: the command line is not built (${built} is missing); run "npm run build:node" in ${path.join(__dirname, '..')}.`);
  process.exit(2);
}
// The Node.js check runs before anything that would fail on an old Node with a cryptic error.
function declaredEngines() {
  // Packaged, this file sits in app.asar.unpacked and package.json stays inside app.asar.
  for (const dir of [path.join(__dirname, '..'), path.join(__dirname, '..').replace(/app\.asar\.unpacked$/, 'app.asar')]) {
    try {
      return require(path.join(dir, 'package.json')).engines.node;
    } catch {
      // try the next place; without it only the runtime range is checked
    }
  }
  return undefined;
}
const check = require(path.join(built, 'node-check.js')).checkNodeVersion(process.version, declaredEngines());
if (!check.ok) {
  console.error(check.message);
  process.exit(2);
}
// The warning is for people at a terminal; scripts and logs get the command's output unchanged.
if (check.warning && process.stderr.isTTY) console.error(check.warning);

/**
 * The module that runs the command: the one-file bundle (scripts/bundle-cli.mjs) for commands that
 * do work, the small tsc modules for help and version (they need none of the bundle). Both are the
 * same program; a bundle older than the last tsc build is ignored.
 */
function entry(argv) {
  const args = argv.filter((a) => !a.startsWith('-'));
  const light = argv.length === 0 || argv.includes('--help') || argv.includes('-h') || argv.includes('--version') || ['help', 'version'].includes(args[0]);
  const bundle = path.join(built, 'upkeep-cli.js');
  if (light) return path.join(built, 'main.js');
  try {
    const at = fs.statSync(bundle).mtimeMs;
    let tsc = 0;
    try {
      tsc = fs.statSync(path.join(built, '..', '..', '.tsbuildinfo')).mtimeMs;
    } catch {
      // packaged: no build info, the bundle is what was built
    }
    return at >= tsc ? bundle : path.join(built, 'main.js');
  } catch {
    return path.join(built, 'main.js');
  }
}
const argv = process.argv.slice(2);
require(entry(argv)).main(argv).then(
  (code) => { process.exitCode = code; },
  (err) => { console.error(`upkeep: unexpected error: ${err && err.message ? err.message : String(err)}`); process.exitCode = 1; }
);
