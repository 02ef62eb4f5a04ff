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
// The warning is for people at a terminal; scripts and logs get the command's output unchanged.
// What the command line cannot run without is require() of ES modules (node-check.ts): a Node that
// reports it (process.features.require_module) needs the version check only for that warning,
// so scripts skip loading semver and parsing ranges at every start.
/**
 * Whether stderr is a terminal. One fstat tells a file, a pipe or /dev/null, which are never one,
 * without loading node:tty (it loads node:net, a few ms of every start); the same check as
 * src-main/cli/terminal.ts.
 */
function isTerminal(fd) {
  if (process.platform !== 'win32') {
    try {
      const st = fs.fstatSync(fd);
      if (!st.isCharacterDevice() || st.rdev === fs.statSync('/dev/null').rdev) return false;
    } catch {
      return false;
    }
  }
  return require('node:tty').isatty(fd);
}
const terminal = isTerminal(2);
if (terminal || !(process.features && process.features.require_module === true)) {
  const check = require(path.join(built, 'node-check.js')).checkNodeVersion(process.version, declaredEngines(), { warn: terminal });
  if (!check.ok) {
    console.error(check.message);
    process.exit(2);
  }
  if (check.warning) console.error(check.warning);
}

/**
 * The module that runs the command: the one-file bundle (scripts/bundle-cli.mjs) for commands that
 * do work, the small tsc modules for help and version (they need none of the bundle). Both are the
 * same program; a bundle older than the last tsc build is ignored.
 */
function entry(argv) {
  // Only a first word of help or version: `upkeep apply app --version 2.0.0` names a release.
  const light = argv.length === 0 || ['--help', '-h', '--version', 'help', 'version'].includes(argv[0]);
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

/** Commands that keep a compiled-code cache of their own; any other first word shares `other`. */
const CACHED_COMMANDS = ['status', 'check', 'download', 'apply', 'rollback', 'points', 'history', 'daemon', 'config', 'release', 'token'];

/**
 * Which cache a run uses: its command, or `help` for a usage text. V8 keeps the code of the
 * functions that ran, so a cache written by one command lacks most of another's: with one shared
 * file, whatever ran first (`apply --help`, a mistyped option) left `status` compiling its own
 * code at every later start (tens of ms of each `upkeep status`).
 */
function cacheKind(argv) {
  if (argv.includes('--help') || argv.includes('-h')) return 'help';
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--config' || argv[i] === '-c') i++;
    else if (!argv[i].startsWith('-')) return CACHED_COMMANDS.includes(argv[i]) ? argv[i] : 'other';
  }
  return 'other';
}

/**
 * V8's compiled code of the bundle, kept between runs where Node has no compile cache of its own
 * (before 22.1): compiling the 1.5 MB bundle is a large part of every start. The cache lives in
 * `<tmpdir>/upkeep-compile-cache-<uid>` (mode 0700; used only when it is a real directory owned by
 * this user and writable by no one else, since V8 runs what it finds there), one file per bundle
 * content (its build identity, size and mtime: buildName), Node version and command (cacheKind), written once after the first run of that command
 * from that bundle (files of other builds are removed a day after their last write). V8 itself
 * refuses data made for another source or V8; then the bundle compiles as usual and the file is
 * rewritten. V8 checks only a header, not the data (damaged data aborts the process with a V8
 * fatal error at every later run of that command), so each file starts with the SHA-256 of the
 * data after it (CACHE_DIGEST_BYTES) and a file whose data does not match is treated as absent.
 * V8 keeps the code of every function that ran (and of every function it was given), so the
 * run that writes a file decides what every later start deserializes: a run that failed, or that
 * validated the config (a config cache miss: the YAML parser and the config schemas, which later
 * runs skip), writes a file marked provisional (the byte after the digest, CACHE_KIND). The next
 * run compiles without it and writes its own; when that one is provisional too, it stays.
 * Any failure of the cache only means a slower start.
 */
/** Bytes of the SHA-256 digest each code cache file starts with. */
const CACHE_DIGEST_BYTES = 32;
/** The byte after the digest: which run wrote the code (see above); `settled` is a second provisional one. */
const CACHE_KIND = { typical: 1, provisional: 2, settled: 3 };

function sha256(data) {
  return require('node:crypto').createHash('sha256').update(data).digest();
}

/**
 * The name of the bundle's build in its cache files: the build identity scripts/bundle-cli.mjs
 * writes in the bundle's first line (`// upkeep-build <SHA-256 of the text as built>`; reading it
 * spares hashing 1.5 MB at every start) with the file's size and mtime, which change when the
 * file is edited without a rebuild; the SHA-256 of the text itself when that line is missing.
 */
function buildName(source, stat) {
  const line = /^\/\/ upkeep-build ([0-9a-f]{64})\n/.exec(source.subarray(0, 96).toString('latin1'));
  if (!line) return sha256(source).toString('hex').slice(0, 32);
  return `${line[1].slice(0, 32)}-${stat.size}-${stat.mtimeNs}`;
}

function loadWithCodeCache(file, argv) {
  const vm = require('node:vm');
  const Module = require('node:module');
  const os = require('node:os');
  let cacheFile = null;
  let build = null;
  const fd = fs.openSync(file, 'r');
  let source;
  let stat;
  try {
    stat = fs.fstatSync(fd, { bigint: true });
    source = fs.readFileSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  try {
    const dir = path.join(os.tmpdir(), `upkeep-compile-cache-${typeof process.getuid === 'function' ? process.getuid() : 'user'}`);
    try {
      fs.mkdirSync(dir, { mode: 0o700 });
    } catch (err) {
      if (err.code !== 'EEXIST') throw err;
    }
    const d = fs.lstatSync(dir);
    const ownedHere = typeof process.getuid !== 'function' || d.uid === process.getuid();
    // Named by the bundle's content: V8 checks only the source's length, and two builds of one
    // size (npm gives every packed file the same mtime) must never share compiled code.
    build = `upkeep-cli-${process.version}-${process.arch}-${buildName(source, stat)}-`;
    if (d.isDirectory() && ownedHere && (d.mode & 0o022) === 0) cacheFile = path.join(dir, `${build}${cacheKind(argv)}.v8`);
  } catch {
    cacheFile = null;
  }
  let cachedData;
  let cachedKind;
  if (cacheFile) {
    try {
      const kept = fs.readFileSync(cacheFile);
      const body = kept.subarray(CACHE_DIGEST_BYTES);
      if (kept.length > CACHE_DIGEST_BYTES + 1 && sha256(body).equals(kept.subarray(0, CACHE_DIGEST_BYTES))) {
        cachedKind = body[0];
        if (cachedKind !== CACHE_KIND.provisional) cachedData = body.subarray(1);
      }
    } catch {
      cachedData = undefined;
    }
  }
  const script = new vm.Script(Module.wrap(source.toString('utf8')), { filename: file, ...(cachedData ? { cachedData } : {}) });
  const m = new Module(file, module);
  m.filename = file;
  m.paths = Module._nodeModulePaths(path.dirname(file));
  Module._cache[file] = m;
  script.runInThisContext().call(m.exports, m.exports, Module.createRequire(file), m, file, path.dirname(file));
  m.loaded = true;
  const save = (code) => {
    // A successful run that read the config from its cache, or read no config (main.ts).
    const typical = code === 0 && !(typeof m.exports.configValidated === 'function' && m.exports.configValidated());
    if (!cacheFile || (cachedData && !script.cachedDataRejected)) return;
    const kind = typical ? CACHE_KIND.typical : cachedKind === CACHE_KIND.provisional ? CACHE_KIND.settled : CACHE_KIND.provisional;
    try {
      const tmp = `${cacheFile}.${process.pid}.tmp`;
      const body = Buffer.concat([Buffer.from([kind]), script.createCachedData()]);
      fs.writeFileSync(tmp, Buffer.concat([sha256(body), body]), { mode: 0o600 });
      fs.renameSync(tmp, cacheFile);
      // Caches of other builds go once a day has passed (another install may still use its own);
      // those of this build's other commands stay.
      const dir = path.dirname(cacheFile);
      for (const name of fs.readdirSync(dir)) {
        const other = path.join(dir, name);
        if (!name.startsWith(build) && /^upkeep-cli-.*\.v8(\.\d+\.tmp)?$/.test(name) && Date.now() - fs.statSync(other).mtimeMs > 24 * 3600 * 1000) fs.rmSync(other, { force: true });
      }
    } catch {
      // a read-only or full temp dir: the next start compiles again
    }
  };
  return {
    main: (args) => m.exports.main(args).then(
      (code) => { save(code); return code; },
      (err) => { save(1); throw err; },
    ),
  };
}

function load(file, argv) {
  const nodeHasCompileCache = typeof require('node:module').enableCompileCache === 'function';
  if (nodeHasCompileCache || !file.endsWith('upkeep-cli.js') || process.env.UPKEEP_NO_CODE_CACHE) return require(file);
  return loadWithCodeCache(file, argv);
}

const argv = process.argv.slice(2);
load(entry(argv), argv).main(argv).then(
  (code) => { process.exitCode = code; },
  (err) => { console.error(`upkeep: unexpected error: ${err && err.message ? err.message : String(err)}`); process.exitCode = 1; }
);
