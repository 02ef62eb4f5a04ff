#!/usr/bin/env node
// `npm run dist`: builds the app and packages it with electron-builder for what this machine can
// produce (Linux → AppImage + deb, macOS → dmg, Windows → nsis; cross-building needs Apple's tools
// or wine, so it is not attempted).
//
// 1. `tsc -p tsconfig.node.json` (dist/node: engine, CLI and server used by the CLI shim)
// 2. `electron-vite build` (out/main, out/preload, out/renderer)
// 3. electron-builder with electron-builder.yml.
//    Electron's runtime binary (node_modules/electron/dist) may be missing (e.g. offline installs).
//    Then, if ELECTRON_DIST names a local Electron dist folder, only the unpacked Linux `dir`
//    target is built from it (electronDist option); otherwise it says so and fails (exit 1)
//    after step 2: `npm run dist` succeeds only when something was packaged.
//
// Options: --dir (unpacked app only), --skip-build (reuse out/ and dist/node/).
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const TARGETS_BY_PLATFORM = { linux: ['AppImage', 'deb'], darwin: ['dmg'], win32: ['nsis'] };
const BUILDER_PLATFORM = { linux: 'LINUX', darwin: 'MAC', win32: 'WINDOWS' };

/**
 * What to package: { kind: 'builder', platform, targets, electronDist? } or { kind: 'skip', message }.
 * Pure: decided from the host platform, whether node_modules/electron/dist exists, $ELECTRON_DIST and flags.
 */
export function planDist({ platform, electronInstalled, electronDistEnv, dirOnly = false, electronDistExists = (p) => fs.existsSync(p) }) {
  if (!(platform in TARGETS_BY_PLATFORM)) return { kind: 'skip', message: `dist: no packaging target for platform ${platform}` };
  if (electronInstalled) {
    return { kind: 'builder', platform, targets: dirOnly ? ['dir'] : TARGETS_BY_PLATFORM[platform] };
  }
  if (electronDistEnv) {
    if (!electronDistExists(electronDistEnv)) {
      return { kind: 'error', message: `dist: ELECTRON_DIST=${electronDistEnv} does not exist` };
    }
    return { kind: 'builder', platform: 'linux', targets: ['dir'], electronDist: path.resolve(electronDistEnv) };
  }
  return {
    kind: 'skip',
    message:
      'dist: the Electron runtime is not installed (node_modules/electron/dist is missing), so nothing was packaged.\n' +
      '      The app is built in out/ and dist/node/. To package the unpacked Linux app from a local Electron\n' +
      '      build, set ELECTRON_DIST=/path/to/electron/dist and run `npm run dist` again.',
  };
}

function run(label, file, args) {
  console.log(`dist: ${label}`);
  const r = spawnSync(file, args, { cwd: ROOT, stdio: 'inherit', env: process.env });
  if (r.status !== 0) {
    console.error(`dist: ${label} failed (${r.error ? r.error.message : `exit ${r.status}`})`);
    process.exit(r.status || 1);
  }
}

async function main(argv) {
  const dirOnly = argv.includes('--dir');
  if (!argv.includes('--skip-build')) {
    const require = createRequire(path.join(ROOT, 'package.json'));
    run('tsc -p tsconfig.node.json', process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.node.json']);
    const viteBin = path.join(path.dirname(require.resolve('electron-vite/package.json')), 'bin', 'electron-vite.js');
    run('electron-vite build', process.execPath, [viteBin, 'build']);
  }
  const plan = planDist({
    platform: process.platform,
    electronInstalled: fs.existsSync(path.join(ROOT, 'node_modules', 'electron', 'dist')),
    electronDistEnv: process.env.ELECTRON_DIST,
    dirOnly,
  });
  if (plan.kind === 'skip') {
    console.error(plan.message);
    return 1;
  }
  if (plan.kind === 'error') {
    console.error(plan.message);
    return 1;
  }
  const require = createRequire(path.join(ROOT, 'package.json'));
  const builder = require('electron-builder');
  const YAML = require('yaml');
  const config = YAML.parse(fs.readFileSync(path.join(ROOT, 'electron-builder.yml'), 'utf8'));
  if (plan.electronDist) config.electronDist = plan.electronDist;
  const platform = builder.Platform[BUILDER_PLATFORM[plan.platform]];
  console.log(`dist: electron-builder ${plan.platform} ${plan.targets.join(', ')}${plan.electronDist ? ` (Electron from ${plan.electronDist})` : ''}`);
  const artifacts = await builder.build({ projectDir: ROOT, targets: platform.createTarget(plan.targets), config, publish: 'never' });
  return reportArtifacts(artifacts, (m) => console.log(m), (m) => console.error(m));
}

/** Lists what was written; no artifact at all is a failure (exit code 1). */
export function reportArtifacts(artifacts, log, error) {
  if (!artifacts || artifacts.length === 0) {
    error('dist: electron-builder finished but packaged nothing');
    return 1;
  }
  for (const a of artifacts) log(`dist: wrote ${path.relative(ROOT, a)}`);
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err) => {
      console.error(err && err.stack ? err.stack : String(err));
      process.exitCode = 1;
    },
  );
}
