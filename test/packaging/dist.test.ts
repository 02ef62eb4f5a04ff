import { describe, it, expect } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';

const ROOT = process.cwd();
const load = async () => (await import(pathToFileURL(path.join(ROOT, 'scripts/dist.mjs')).href)) as { planDist: (o: Record<string, unknown>) => any };

describe('scripts/dist.mjs', () => {
  it('packages the host platform targets when Electron is installed', async () => {
    const { planDist } = await load();
    expect(planDist({ platform: 'linux', electronInstalled: true })).toEqual({ kind: 'builder', platform: 'linux', targets: ['AppImage', 'deb'] });
    expect(planDist({ platform: 'darwin', electronInstalled: true })).toEqual({ kind: 'builder', platform: 'darwin', targets: ['dmg'] });
    expect(planDist({ platform: 'win32', electronInstalled: true })).toEqual({ kind: 'builder', platform: 'win32', targets: ['nsis'] });
    expect(planDist({ platform: 'linux', electronInstalled: true, dirOnly: true }).targets).toEqual(['dir']);
  });

  it('without Electron: builds only the Linux dir target from ELECTRON_DIST, else skips', async () => {
    const { planDist } = await load();
    expect(planDist({ platform: 'linux', electronInstalled: false, electronDistEnv: '/opt/electron', electronDistExists: () => true })).toEqual({ kind: 'builder', platform: 'linux', targets: ['dir'], electronDist: path.resolve('/opt/electron') });
    expect(planDist({ platform: 'linux', electronInstalled: false, electronDistEnv: '/nope', electronDistExists: () => false }).kind).toBe('error');
    const skip = planDist({ platform: 'linux', electronInstalled: false });
    expect(skip.kind).toBe('skip');
    expect(skip.message).toContain('ELECTRON_DIST');
  });

  it.runIf(!fs.existsSync(path.join(ROOT, 'node_modules/electron/dist')))('fails with an explanation when Electron is missing (nothing packaged)', () => {
    const env = { ...process.env };
    delete env.ELECTRON_DIST;
    const r = spawnSync(process.execPath, [path.join(ROOT, 'scripts/dist.mjs'), '--skip-build'], { cwd: ROOT, encoding: 'utf8', env });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('Electron runtime is not installed');
    const bad = spawnSync(process.execPath, [path.join(ROOT, 'scripts/dist.mjs'), '--skip-build'], { cwd: ROOT, encoding: 'utf8', env: { ...env, ELECTRON_DIST: path.join(ROOT, 'does-not-exist') } });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain('does not exist');
  });

  it('fails when electron-builder returns no artifact', async () => {
    const { reportArtifacts } = (await import(pathToFileURL(path.join(ROOT, 'scripts/dist.mjs')).href)) as { reportArtifacts: (a: string[], log: (m: string) => void, err: (m: string) => void) => number };
    const errors: string[] = [];
    expect(reportArtifacts([], () => {}, (m) => void errors.push(m))).toBe(1);
    expect(errors).toEqual(['dist: electron-builder finished but packaged nothing']);
    const lines: string[] = [];
    expect(reportArtifacts([path.join(ROOT, 'release/Upkeep-x86_64.AppImage')], (m) => void lines.push(m), () => {})).toBe(0);
    expect(lines).toEqual(['dist: wrote release/Upkeep-x86_64.AppImage']);
  });
});
