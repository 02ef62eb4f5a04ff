/**
 * A managed file replaced locally by a FIFO, a socket, a device node or a directory is a local change like
 * an edit: `refuse` fails with ERR_LOCAL_CHANGES listing it (nothing changed), `keep` moves it
 * beside as `<name>.local-<date>` (never read: a FIFO's reader would block), `overwrite` moves
 * it into the rollback point; apply, undo and rollback keep the tree exact.
 */
import { execFileSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { applyRelease, readInstalled, rollbackToPoint } from '../../../src-main/engine/apply/index';
import type { UpkeepError } from '../../../src-shared/errors';
import { leftovers, makeSandbox, snapshot, toPlanned, type Sandbox, type SpecFile } from './helpers';

let sb: Sandbox;
let n = 0;
const op = (): string => `op${++n}`;
const NOW = new Date('2026-11-30T12:00:00Z');
const clock = { now: () => NOW, monoMs: () => 0 };
const apply = async (version: string, files: SpecFile[], onLocalChange: 'keep' | 'overwrite' | 'refuse', verify?: () => Promise<void>) =>
  applyRelease({ ...sb.plan(op(), version, await toPlanned(sb.cacheDir, files)), onLocalChange, clock }, verify ? { verify } : {});
const rollback = (onLocalChange: 'keep' | 'overwrite' | 'refuse' = 'keep') =>
  rollbackToPoint({ target: 'app', installDir: sb.installDir, stateDir: sb.stateDir, pointsDir: sb.pointsDir, opId: op(), onLocalChange, clock });

const V1: SpecFile[] = [{ path: 'run/app.pipe', content: 'a placeholder\n' }, { path: 'conf/app.conf', content: 'x=1\n' }, { path: 'bin/app', content: 'app 1', mode: 0o755 }];
const V2: SpecFile[] = [{ path: 'run/app.pipe', content: 'a placeholder 2\n' }, { path: 'bin/app', content: 'app 2', mode: 0o755 }];

beforeEach(async () => {
  sb = await makeSandbox('upkeep-special-');
  await apply('1.0.0', V1, 'keep');
});
afterEach(async () => {
  await sb.cleanup();
});

const at = (rel: string) => path.join(sb.installDir, rel);
async function mkfifo(rel: string): Promise<void> {
  await fsp.rm(at(rel));
  execFileSync('mkfifo', ['-m', '0640', at(rel)]);
}

describe('a managed file replaced by a special file', () => {
  it('refuse: ERR_LOCAL_CHANGES listing the FIFO and the socket, nothing changed', async () => {
    await mkfifo('run/app.pipe');
    await fsp.rm(at('conf/app.conf'));
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(at('conf/app.conf'), r));
    try {
      const before = await snapshot(sb.installDir);
      const err = (await apply('2.0.0', V2, 'refuse').catch((e: unknown) => e)) as UpkeepError;
      expect(err.code).toBe('ERR_LOCAL_CHANGES');
      expect([...(err.details as { files: string[] }).files].sort()).toEqual(['conf/app.conf', 'run/app.pipe']);
      expect(await snapshot(sb.installDir)).toEqual(before);
      expect((await readInstalled(sb.stateDir))?.version).toBe('1.0.0');
    } finally {
      server.close();
    }
  });

  it('keep: the FIFO moves beside as <name>.local-<date> (a FIFO still), the new file is installed; undo puts it back, rollback leaves it beside', async () => {
    await mkfifo('run/app.pipe');
    const before = await snapshot(sb.installDir);
    // A failed verify undoes the move: the FIFO is back at its path.
    const failed = await apply('2.0.0', V2, 'keep', async () => {
      expect((await fsp.lstat(at('run/app.pipe.local-2026-11-30'))).isFIFO()).toBe(true);
      throw new Error('smoke failed');
    }).catch((e: unknown) => e);
    expect((failed as Error).message).toBe('smoke failed');
    expect(await snapshot(sb.installDir)).toEqual(before);

    const out = await apply('2.0.0', V2, 'keep');
    expect(out.localCopies).toEqual([{ path: 'run/app.pipe', kept_as: 'run/app.pipe.local-2026-11-30' }]);
    expect((await fsp.lstat(at('run/app.pipe.local-2026-11-30'))).isFIFO()).toBe(true);
    expect(await fsp.readFile(at('run/app.pipe'), 'utf8')).toBe('a placeholder 2\n');
    expect(await leftovers(sb.installDir)).toEqual([]);
    // The rollback restores the tree as it was before the apply: no file at run/app.pipe (the
    // FIFO, a user entry, stays where keep put it) and 1.0.0's other files.
    await rollback();
    expect(await snapshot(sb.installDir)).toEqual([...before.filter((e) => e.path !== 'run/app.pipe'), { path: 'run/app.pipe.local-2026-11-30', type: 'other', mode: 0o640 }]);
    const installed = await readInstalled(sb.stateDir);
    expect(installed?.version).toBe('1.0.0');
    expect(installed?.files.map((f) => f.path)).toEqual(['bin/app', 'conf/app.conf']);
  });

  it('overwrite: the FIFO moves into the rollback point; a file the release drops goes the same way', async () => {
    await mkfifo('run/app.pipe');
    await mkfifo('conf/app.conf');
    const out = await apply('2.0.0', V2, 'overwrite');
    expect(out.filesRemoved).toEqual(['conf/app.conf']);
    const names = (await snapshot(sb.installDir)).map((e) => `${e.path}:${e.type}`);
    expect(names).toEqual(['bin:dir', 'bin/app:file', 'run:dir', 'run/app.pipe:file']);
    expect(await leftovers(sb.installDir)).toEqual([]);
  });

  it('a rollback over a managed file made a FIFO keeps it beside (keep) and restores the point', async () => {
    await apply('2.0.0', V2, 'keep');
    await mkfifo('bin/app');
    await rollback('keep');
    expect(await fsp.readFile(at('bin/app'), 'utf8')).toBe('app 1');
    expect((await fsp.lstat(at('bin/app.local-2026-11-30'))).isFIFO()).toBe(true);
    expect(await fsp.readFile(at('conf/app.conf'), 'utf8')).toBe('x=1\n');
  });

  it('a managed file made a directory holding user files: refuse lists it, keep moves the directory beside (undone on failure), overwrite refuses naming the files', async () => {
    await fsp.rm(at('conf/app.conf'));
    await fsp.mkdir(at('conf/app.conf'));
    await fsp.writeFile(at('conf/app.conf/mine.conf'), 'mine\n');
    const V3: SpecFile[] = [...V2, { path: 'conf/app.conf', content: 'x=3\n' }];
    const before = await snapshot(sb.installDir);
    const refused = (await apply('3.0.0', V3, 'refuse').catch((e: unknown) => e)) as UpkeepError;
    expect(refused.code).toBe('ERR_LOCAL_CHANGES');
    expect(refused.details).toMatchObject({ files: ['conf/app.conf'] });
    const over = (await apply('3.0.0', V3, 'overwrite').catch((e: unknown) => e)) as UpkeepError;
    expect(over.code).toBe('ERR_APPLY_FAILED');
    expect(over.message).toContain('conf/app.conf/mine.conf');
    await apply('3.0.0', V3, 'keep', async () => {
      throw new Error('health failed');
    }).catch(() => undefined);
    expect(await snapshot(sb.installDir)).toEqual(before);
    const out = await apply('3.0.0', V3, 'keep');
    expect(out.localCopies).toEqual([{ path: 'conf/app.conf', kept_as: 'conf/app.conf.local-2026-11-30' }]);
    expect(await fsp.readFile(at('conf/app.conf'), 'utf8')).toBe('x=3\n');
    expect(await fsp.readFile(at('conf/app.conf.local-2026-11-30/mine.conf'), 'utf8')).toBe('mine\n');
    expect(await leftovers(sb.installDir)).toEqual([]);
  });
});
