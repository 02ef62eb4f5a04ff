/**
 * Directories Upkeep creates get explicit modes, whatever the process umask: in the install dir
 * exactly 0755 on both layouts (apply, type changes, rollback), and its own rollback points and
 * state never writable by group or others (umask 0000 must not make them world-writable).
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { applyRelease, rollbackToPoint } from '../../../src-main/engine/apply/index';
import type { Sandbox, SpecFile } from './helpers';
import { makeSandbox, snapshot, toPlanned } from './helpers';

let sb: Sandbox;
let n = 0;
let savedUmask = 0o022;
const op = (): string => `uop${++n}`;

const V1: SpecFile[] = [{ path: 'a/b/c/f.txt', content: 'one' }, { path: 'docs', content: 'docs file' }, { path: 'bin/run', content: 'run', mode: 0o755 }];
const V2: SpecFile[] = [{ path: 'a/b/c/f.txt', content: 'two' }, { path: 'docs/x/index.md', content: 'index' }, { path: 'n/m/g', content: 'g', mode: 0o600 }, { path: 'bin/run', content: 'run', mode: 0o755 }];

beforeEach(async () => {
  savedUmask = process.umask();
  sb = await makeSandbox('upkeep-umask-');
});
afterEach(async () => {
  process.umask(savedUmask);
  await sb.cleanup();
});

async function dirModes(root: string): Promise<Record<string, number>> {
  return Object.fromEntries((await snapshot(root)).filter((e) => e.type === 'dir').map((e) => [e.path, e.mode]));
}

describe.each([0o000, 0o077])('umask %o', (umask) => {
  it.each(['in-place', 'versioned'] as const)('%s: every directory Upkeep creates in the install dir is 0755, its own dirs are not writable by others', async (layout) => {
    process.umask(umask);
    const apply = async (v: string, files: SpecFile[]) => applyRelease(sb.plan(op(), v, await toPlanned(sb.cacheDir, files), layout));
    await apply('1.0.0', V1);
    await apply('2.0.0', V2);
    const check = async (): Promise<void> => {
      const modes = await dirModes(sb.installDir);
      expect(Object.keys(modes).length).toBeGreaterThan(3);
      for (const [p, m] of Object.entries(modes)) expect({ p, m: m.toString(8) }).toEqual({ p, m: '755' });
      for (const root of [sb.pointsDir, sb.stateDir]) {
        for (const [p, m] of Object.entries(await dirModes(root))) expect({ p, writableByOthers: (m & 0o022) !== 0 }).toEqual({ p, writableByOthers: false });
      }
    };
    await check();
    await rollbackToPoint({ target: 'app', installDir: sb.installDir, stateDir: sb.stateDir, pointsDir: sb.pointsDir, opId: op() });
    await check();
    expect((await fsp.lstat(path.join(sb.installDir, layout === 'versioned' ? 'current/docs' : 'docs'))).isFile()).toBe(true);
  });
});
