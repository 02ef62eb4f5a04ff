import { describe, it, expect, afterEach } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { dashboardDir } from '../../src-main/cli/commands/daemon';

const ROOT = process.cwd();
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

// Builds a packaged-app layout in a temp dir whose "Electron executable" is real Node, so the
// shim's environment and entry selection are observed from the child it starts.
function linuxLayout(opts: { unpacked: boolean }) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'upkeep-shim-'));
  dirs.push(root);
  const res = path.join(root, 'resources');
  fs.mkdirSync(path.join(res, 'bin'), { recursive: true });
  fs.copyFileSync(path.join(ROOT, 'resources/bin/upkeep'), path.join(res, 'bin/upkeep'));
  fs.chmodSync(path.join(res, 'bin/upkeep'), 0o755);
  fs.writeFileSync(path.join(root, 'upkeep-tray'), `#!/bin/sh\nexec "${process.execPath}" "$@"\n`, { mode: 0o755 });
  const entryDir = path.join(res, opts.unpacked ? 'app.asar.unpacked' : 'app', 'bin');
  fs.mkdirSync(entryDir, { recursive: true });
  fs.writeFileSync(
    path.join(entryDir, 'upkeep.js'),
    "process.stdout.write(JSON.stringify({ entry: __filename, args: process.argv.slice(2), runAsNode: process.env.ELECTRON_RUN_AS_NODE, nodePath: process.env.NODE_PATH || null })); process.exitCode = Number(process.env.EXIT_WITH || 0);\n",
  );
  return { root, res };
}

describe.runIf(process.platform !== 'win32')('CLI shim resources/bin/upkeep', () => {
  it('runs the unpacked CLI entry with ELECTRON_RUN_AS_NODE=1, passing arguments and the exit code', () => {
    const { res } = linuxLayout({ unpacked: true });
    const r = spawnSync(path.join(res, 'bin/upkeep'), ['status', '--json', 'a b'], { encoding: 'utf8', env: { ...process.env, EXIT_WITH: '3', NODE_PATH: '' } });
    expect(r.status).toBe(3);
    const out = JSON.parse(r.stdout);
    expect(fs.realpathSync(out.entry)).toBe(fs.realpathSync(path.join(res, 'app.asar.unpacked/bin/upkeep.js')));
    expect(out.args).toEqual(['status', '--json', 'a b']);
    expect(out.runAsNode).toBe('1');
    expect(out.nodePath).toBe(path.join(fs.realpathSync(res), 'app.asar/node_modules'));
  });

  it('works through a symlink (e.g. /usr/local/bin/upkeep) and without asar', () => {
    const { root, res } = linuxLayout({ unpacked: false });
    const link = path.join(root, 'upkeep-link');
    fs.symlinkSync(path.join(res, 'bin/upkeep'), link);
    const r = spawnSync(link, ['history'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(fs.realpathSync(out.entry)).toBe(fs.realpathSync(path.join(res, 'app/bin/upkeep.js')));
    expect(out.args).toEqual(['history']);
  });

  it('fails clearly when the app executable is missing', () => {
    const { root, res } = linuxLayout({ unpacked: true });
    fs.rmSync(path.join(root, 'upkeep-tray'));
    const r = spawnSync(path.join(res, 'bin/upkeep'), ['status'], { encoding: 'utf8', env: { ...process.env, UPKEEP_ELECTRON: '' } });
    expect(r.status).toBe(127);
    expect(r.stderr).toContain('cannot find the Upkeep executable');
  });

  it('names the same executable as electron-builder.yml and a Windows twin exists', () => {
    const shim = fs.readFileSync(path.join(ROOT, 'resources/bin/upkeep'), 'utf8');
    const yml = fs.readFileSync(path.join(ROOT, 'electron-builder.yml'), 'utf8');
    const exe = /executableName:\s*(\S+)/.exec(yml)?.[1];
    expect(exe).toBeTruthy();
    expect(shim).toContain(`$resources/../${exe}`);
    const cmd = fs.readFileSync(path.join(ROOT, 'resources/bin/upkeep.cmd'), 'utf8');
    expect(cmd).toContain('set ELECTRON_RUN_AS_NODE=1');
    expect(cmd).toContain('Upkeep.exe');
    expect(cmd.split('\n').slice(0, -1).every((l) => l.endsWith('\r'))).toBe(true);
  });
});

describe('the packaged CLI finds what stays inside app.asar', () => {
  it('serves the dashboard from app.asar while running from app.asar.unpacked', () => {
    const res = '/opt/Upkeep/resources';
    const present = new Set([`${res}/app.asar.unpacked/package.json`, `${res}/app.asar/out/renderer/index.html`]);
    expect(dashboardDir(`${res}/app.asar.unpacked/dist/node/src-main/cli/commands`, (p) => present.has(p))).toBe(`${res}/app.asar/out/renderer`);
    // From a clone: dist/node/... finds the renderer build at the package root (whether or not it is built yet).
    const clone = new Set([path.join(ROOT, 'package.json'), path.join(ROOT, 'out/renderer/index.html')]);
    expect(dashboardDir(path.join(ROOT, 'dist/node/src-main/cli/commands'), (p) => clone.has(p))).toBe(path.join(ROOT, 'out/renderer'));
    expect(dashboardDir(path.join(ROOT, 'dist/node/src-main/cli/commands'), (p) => p === path.join(ROOT, 'package.json'))).toBeNull();
  });
});
