#!/usr/bin/env node
// `npm start` (electron-vite preview) and `npm run dev` (electron-vite dev): runs electron-vite
// only when Electron's runtime binary is there. Without it electron-vite would print a stack
// trace from node_modules/electron; this says in one line what is missing and what to do.
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Why Electron cannot start, in one line, or null when its binary exists. Mirrors how the
 * `electron` package finds it: `path.txt` names the executable under `dist/`, or
 * ELECTRON_OVERRIDE_DIST_PATH replaces `dist/`.
 */
export function electronProblem({ electronDir, env = process.env, exists = fs.existsSync, read = (p) => fs.readFileSync(p, 'utf8'), command = 'npm start' }) {
  if (!exists(path.join(electronDir, 'package.json'))) {
    return `${command}: the electron package is not installed (node_modules/electron is missing); run "npm ci" first.`;
  }
  const pathFile = path.join(electronDir, 'path.txt');
  const exe = exists(pathFile) ? read(pathFile).trim() : null;
  const base = env.ELECTRON_OVERRIDE_DIST_PATH || path.join(electronDir, 'dist');
  const binary = path.join(base, exe || 'electron');
  if (exe && exists(binary)) return null;
  const where = env.ELECTRON_OVERRIDE_DIST_PATH ? `ELECTRON_OVERRIDE_DIST_PATH=${env.ELECTRON_OVERRIDE_DIST_PATH} has no Electron executable` : 'node_modules/electron/dist is missing';
  return `${command}: the Electron runtime is not installed (${where}); run "npx install-electron" with internet access (or set ELECTRON_OVERRIDE_DIST_PATH to an unpacked Electron), or use "npm run demo" for the same UI as a web dashboard.`;
}

function main(argv) {
  const mode = argv[0] === 'dev' ? 'dev' : 'preview';
  const problem = electronProblem({ electronDir: path.join(ROOT, 'node_modules', 'electron'), command: mode === 'dev' ? 'npm run dev' : 'npm start' });
  if (problem) {
    console.error(problem);
    process.exitCode = 1;
    return;
  }
  const bin = path.join(ROOT, 'node_modules', 'electron-vite', 'bin', 'electron-vite.js');
  const child = spawn(process.execPath, [bin, mode, ...argv.slice(1)], { cwd: ROOT, stdio: 'inherit' });
  child.on('exit', (code, signal) => {
    process.exitCode = code ?? (signal ? 1 : 0);
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) main(process.argv.slice(2));
