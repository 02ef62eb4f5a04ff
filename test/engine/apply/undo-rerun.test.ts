/**
 * An undo that stopped after moving the old files back and removing some staged copies (here:
 * a directory made append-only, so its staged copy cannot be unlinked; a SIGKILL at that instant
 * leaves the same journal) is finished by the next recovery without losing a file.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { applyRelease, recover } from '../../../src-main/engine/apply/index';
import type { UpkeepError } from '../../../src-shared/errors';
import { makeSandbox, snapshot, toPlanned, type Sandbox } from './helpers';

let sb: Sandbox;
beforeEach(async () => {
  sb = await makeSandbox('upkeep-undo-rerun-');
});
afterEach(async () => {
  execFileSync('chattr', ['-a', path.join(sb.installDir, 'd')], { stdio: 'ignore' });
  await sb.cleanup();
});

it('re-running an interrupted undo keeps every old file (a.txt was lost: renamed to its staged name, then unlinked)', async () => {
  await applyRelease(sb.plan('op1', '1.0.0', await toPlanned(sb.cacheDir, [{ path: 'a.txt', content: 'a1' }, { path: 'd/b.txt', content: 'b1' }])));
  const before = await snapshot(sb.installDir);
  execFileSync('chattr', ['+a', path.join(sb.installDir, 'd')]);
  const err = (await applyRelease(sb.plan('op2', '2.0.0', await toPlanned(sb.cacheDir, [{ path: 'a.txt', content: 'a2' }, { path: 'd/b.txt', content: 'b2' }]))).catch((e: unknown) => e)) as UpkeepError;
  expect(err.details?.undo_failed).toBe(true);
  expect((await snapshot(sb.installDir)).find((e) => e.path === 'a.txt')).toEqual(before.find((e) => e.path === 'a.txt'));
  execFileSync('chattr', ['-a', path.join(sb.installDir, 'd')]);
  expect(await recover({ stateDir: sb.stateDir, installDir: sb.installDir, pointsDir: sb.pointsDir })).toBe('rolled-back');
  expect(await snapshot(sb.installDir)).toEqual(before);
});
