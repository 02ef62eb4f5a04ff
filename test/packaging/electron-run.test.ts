/**
 * `npm start` / `npm run dev` without Electron's runtime binary: one line saying what is missing
 * and what to do, exit 1, no stack trace.
 */
import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const ROOT = process.cwd();
const script = path.join(ROOT, 'scripts', 'electron-run.mjs');

describe('scripts/electron-run.mjs', () => {
  it('says in one line that the runtime is missing (real node_modules/electron without dist)', () => {
    const electronDir = path.join(ROOT, 'node_modules', 'electron');
    const hasBinary = fs.existsSync(path.join(electronDir, 'path.txt')) && fs.existsSync(path.join(electronDir, 'dist'));
    if (hasBinary) return; // a machine with Electron installed starts the app instead
    const r = spawnSync(process.execPath, [script, 'preview'], { encoding: 'utf8', env: { ...process.env, ELECTRON_OVERRIDE_DIST_PATH: '' } });
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines).toEqual([expect.stringMatching(/^npm start: the Electron runtime is not installed \(node_modules\/electron\/dist is missing\); run "npx install-electron"/)]);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('finds the binary the way the electron package does (path.txt under dist/ or ELECTRON_OVERRIDE_DIST_PATH)', async () => {
    const { electronProblem } = (await import(script)) as { electronProblem: (o: Record<string, unknown>) => string | null };
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'upkeep-electron-'));
    try {
      fs.writeFileSync(path.join(dir, 'package.json'), '{}');
      expect(electronProblem({ electronDir: dir, env: {} })).toMatch(/dist is missing/);
      fs.writeFileSync(path.join(dir, 'path.txt'), 'electron');
      expect(electronProblem({ electronDir: dir, env: {}, command: 'npm run dev' })).toMatch(/^npm run dev: the Electron runtime is not installed/);
      fs.mkdirSync(path.join(dir, 'dist'));
      fs.writeFileSync(path.join(dir, 'dist', 'electron'), '');
      expect(electronProblem({ electronDir: dir, env: {} })).toBeNull();
      const other = path.join(dir, 'elsewhere');
      expect(electronProblem({ electronDir: dir, env: { ELECTRON_OVERRIDE_DIST_PATH: other } })).toContain(`ELECTRON_OVERRIDE_DIST_PATH=${other} has no Electron executable`);
      expect(electronProblem({ electronDir: path.join(dir, 'none'), env: {} })).toMatch(/run "npm ci" first/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
