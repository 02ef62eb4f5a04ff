import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { GitTargetSchema } from '../../../src-main/engine/config/schema';
import { GitDriver } from '../../../src-main/engine/git/git-driver';
import { systemClock } from '../../../src-main/engine/clock';
import { DEFAULT_LIMITS } from '../../../src-main/engine/limits';
import { snapshot } from '../../helpers/tree';
import { deploy, git, gitFixture } from './git-fixture';

const CHILD = path.join(__dirname, 'crash-child.ts');

/** Runs an apply in a child process that a hook kills with SIGKILL at `killAt` (install | build | health). */
function applyKilled(arg: unknown): Promise<{ signal: NodeJS.Signals | null; stdout: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['-r', 'tsx/cjs', CHILD, JSON.stringify(arg)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (b: Buffer) => { stdout += b.toString(); });
    child.on('exit', (_code, signal) => resolve({ signal, stdout }));
  });
}

describe('git target: SIGKILL during an apply', () => {
  it.each(['install', 'build'])('is undone by the next recover() when killed during %s: commit, node_modules, dist, .env as before', async (killAt) => {
    const fx = await gitFixture();
    const v1 = await fx.release('v1.0.0', { 'deps.lock': 'deps 1\n', 'build.sh': 'mkdir -p dist && echo 1 > dist/out.txt\n' });
    await fx.release('v2.0.0', { 'deps.lock': 'deps 2\n', 'build.sh': 'mkdir -p dist && echo 2 > dist/out.txt\n' });
    await deploy(fx, 'v1.0.0');
    await fsp.writeFile(path.join(fx.installDir, 'node_modules', 'installed.txt'), 'deps 1\n');
    await fsp.mkdir(path.join(fx.installDir, 'dist'));
    await fsp.writeFile(path.join(fx.installDir, 'dist', 'out.txt'), '1\n');
    await fsp.writeFile(path.join(fx.installDir, '.env'), 'A=1\n');
    const before = await snapshot(fx.installDir, ['.git', '.upkeep']);
    // The hook's shell is a child of the node process running the apply: $PPID is that process.
    const kill = 'kill -KILL $PPID; sleep 5';
    const target = {
      id: 'app', kind: 'git', install_dir: fx.installDir, backup_paths: ['.env'], aside_paths: ['node_modules', 'dist'],
      install: killAt === 'install' ? `echo HALF > .env; mkdir -p node_modules && echo partial > node_modules/installed.txt; ${kill}` : 'mkdir -p node_modules && cp deps.lock node_modules/installed.txt',
      build: killAt === 'build' ? `sh build.sh; ${kill}` : 'sh build.sh',
    };
    const state = path.join(fx.root, 'state');
    const res = await applyKilled({ target, state, version: '2.0.0' });
    expect(res.signal).toBe('SIGKILL');
    expect(git(fx.installDir, 'rev-parse', 'HEAD')).not.toBe(v1);
    const t = GitTargetSchema.parse(target);
    const d = new GitDriver(t, { paths: { stateDir: path.join(state, 'targets', 'app'), pointsDir: path.join(state, 'points', 'app'), cacheDir: '', releasesDir: '' }, reservedDirs: [], clock: systemClock, limits: DEFAULT_LIMITS });
    expect(await d.recover()).toBe('rolled-back');
    expect(git(fx.installDir, 'rev-parse', 'HEAD')).toBe(v1);
    expect(await snapshot(fx.installDir, ['.git', '.upkeep'])).toEqual(before);
    expect(await d.points()).toEqual([]);
    expect(await d.recover()).toBe('none');
  });
});
