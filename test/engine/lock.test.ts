import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { promises as fsp } from 'node:fs';
import { spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { acquireTargetLock, readLockHolder } from '../../src-main/engine/lock';
import { UpkeepError } from '../../src-shared/errors';

const ROOT = process.cwd();
const LOCK_MODULE = JSON.stringify(path.join(ROOT, 'src-main/engine/lock'));

let tmp: string;
let script: string;
const children: ChildProcess[] = [];

beforeEach(async () => {
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'upkeep-lock-'));
  script = path.join(tmp, 'locker.ts');
  // argv: stateDir target actor holdMs. Prints one JSON line: {locked:true} or the error.
  await fsp.writeFile(script, `import { acquireTargetLock } from ${LOCK_MODULE};
const [dir, target, actor, hold] = process.argv.slice(2) as [string, string, string, string];
acquireTargetLock(dir, target, { actor, opId: 'op-' + process.pid }).then(async (lock) => {
  console.log(JSON.stringify({ locked: true, pid: process.pid }));
  await new Promise((r) => setTimeout(r, Number(hold)));
  await lock.release();
}, (err) => {
  console.log(JSON.stringify({ locked: false, code: err.code, message: err.message, details: err.details }));
});
`);
});
afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await fsp.rm(tmp, { recursive: true, force: true });
});

interface Outcome { locked: boolean; pid?: number; code?: string; message?: string; details?: any }

/** Starts a locker process; resolves with its first output line and the process. */
function locker(target: string, actor: string, holdMs: number): Promise<{ out: Outcome; child: ChildProcess; exited: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, path.join(tmp, 'state'), target, actor, String(holdMs)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(child);
    const exited = new Promise<void>((r) => child.on('exit', () => r()));
    let buf = '';
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const nl = buf.indexOf('\n');
      if (nl >= 0) resolve({ out: JSON.parse(buf.slice(0, nl)) as Outcome, child, exited });
    });
    child.on('error', reject);
    child.on('exit', (code) => { if (!buf.includes('\n')) reject(new Error(`locker exited ${code} without output`)); });
  });
}

async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
  await new Promise((r) => child.on('exit', r));
  return child.pid!;
}

describe('target lock across processes', () => {
  it('refuses a second process at once, naming the holder, and recovers right after SIGKILL', async () => {
    const holder = await locker('demo', 'tray', 60_000);
    expect(holder.out.locked).toBe(true);

    const second = await locker('demo', 'cli', 0);
    expect(second.out.locked).toBe(false);
    expect(second.out.code).toBe('ERR_BUSY');
    expect(second.out.message).toContain('tray');
    expect(second.out.message).toContain(String(holder.out.pid));
    expect(second.out.details.holder).toMatchObject({ actor: 'tray', pid: holder.out.pid, hostname: os.hostname() });
    expect(typeof second.out.details.holder.since).toBe('string');

    const info = await readLockHolder(path.join(tmp, 'state'), 'demo');
    expect(info).toMatchObject({ actor: 'tray', pid: holder.out.pid, stale: false });

    holder.child.kill('SIGKILL');
    await holder.exited;
    expect((await readLockHolder(path.join(tmp, 'state'), 'demo'))?.stale).toBe(true);

    const third = await locker('demo', 'cli', 0);
    expect(third.out.locked).toBe(true);
    await third.exited;
    expect(await readLockHolder(path.join(tmp, 'state'), 'demo')).toBeNull();
  });

  it('lets exactly one of several processes take over a stale lock', async () => {
    const stateDir = path.join(tmp, 'state');
    await fsp.mkdir(path.join(stateDir, 'locks'), { recursive: true });
    const stale = { pid: await deadPid(), hostname: os.hostname(), actor: 'crashed', op_id: 'op-x', since: '2026-01-01T00:00:00Z' };
    await fsp.writeFile(path.join(stateDir, 'locks', 'demo.lock'), JSON.stringify(stale));

    const results = await Promise.all(Array.from({ length: 6 }, (_, i) => locker('demo', `p${i}`, 60_000)));
    const winners = results.filter((r) => r.out.locked);
    expect(winners).toHaveLength(1);
    for (const r of results.filter((x) => !x.out.locked)) {
      expect(r.out.code).toBe('ERR_BUSY');
      expect(r.out.details.holder.pid).toBe(winners[0]!.out.pid);
    }
    expect((await fsp.readdir(path.join(stateDir, 'locks'))).sort()).toEqual(['demo.lock']);
  });

  it('keeps targets independent', async () => {
    const a = await locker('alpha', 'tray', 60_000);
    const b = await locker('beta', 'cli', 0);
    expect(a.out.locked).toBe(true);
    expect(b.out.locked).toBe(true);
  });
});

describe('target lock in one process', () => {
  it('is exclusive until released, and release is idempotent', async () => {
    const stateDir = path.join(tmp, 'state');
    const lock = await acquireTargetLock(stateDir, 'demo', { actor: 'api', opId: 'op-1' });
    const onDisk = JSON.parse(await fsp.readFile(path.join(stateDir, 'locks', 'demo.lock'), 'utf8'));
    expect(onDisk).toMatchObject({ pid: process.pid, hostname: os.hostname(), actor: 'api', op_id: 'op-1' });

    const err = await acquireTargetLock(stateDir, 'demo', { actor: 'cli', opId: 'op-2' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpkeepError);
    expect((err as UpkeepError).code).toBe('ERR_BUSY');
    expect((err as UpkeepError).message).toContain('op-1');

    await lock.release();
    await lock.release();
    expect(await readLockHolder(stateDir, 'demo')).toBeNull();
    const again = await acquireTargetLock(stateDir, 'demo', { actor: 'cli', opId: 'op-3' });
    await again.release();
  });

  it('does not remove a lock that is no longer its own', async () => {
    const stateDir = path.join(tmp, 'state');
    const lock = await acquireTargetLock(stateDir, 'demo', { actor: 'api', opId: 'op-1' });
    const file = path.join(stateDir, 'locks', 'demo.lock');
    const foreign = JSON.stringify({ pid: process.pid, hostname: 'elsewhere', actor: 'other', op_id: 'op-9', since: 'x' });
    await fsp.writeFile(file, foreign);
    await lock.release();
    expect(await fsp.readFile(file, 'utf8')).toBe(foreign);
  });

  it('treats locks from another host as held and locks from before a reboot as stale', async () => {
    const stateDir = path.join(tmp, 'state');
    const file = path.join(stateDir, 'locks', 'demo.lock');
    await fsp.mkdir(path.dirname(file), { recursive: true });
    await fsp.writeFile(file, JSON.stringify({ pid: await deadPid(), hostname: 'another-host', actor: 'daemon', op_id: 'op-h', since: 's' }));
    const err = await acquireTargetLock(stateDir, 'demo', { actor: 'cli', opId: 'op-1' }).catch((e: unknown) => e);
    expect((err as UpkeepError).code).toBe('ERR_BUSY');
    expect((err as UpkeepError).message).toContain('another-host');

    if (process.platform === 'linux') {
      // Our own (live) pid, but recorded under a different boot: stale.
      await fsp.writeFile(file, JSON.stringify({ pid: process.pid, hostname: os.hostname(), actor: 'daemon', op_id: 'op-b', since: 's', boot_id: 'not-this-boot' }));
      expect((await readLockHolder(stateDir, 'demo'))?.stale).toBe(true);
      const lock = await acquireTargetLock(stateDir, 'demo', { actor: 'cli', opId: 'op-2' });
      expect((await readLockHolder(stateDir, 'demo'))?.op_id).toBe('op-2');
      await lock.release();
    }
  });

  it('clears a steal marker left by a taker that died mid-way', async () => {
    const stateDir = path.join(tmp, 'state');
    const file = path.join(stateDir, 'locks', 'demo.lock');
    await fsp.mkdir(path.dirname(file), { recursive: true });
    const dead = { pid: await deadPid(), hostname: os.hostname(), actor: 'crashed', op_id: 'op-d', since: 's' };
    await fsp.writeFile(file, JSON.stringify(dead));
    await fsp.writeFile(file + '.steal', JSON.stringify({ ...dead, op_id: 'op-steal' }));
    const lock = await acquireTargetLock(stateDir, 'demo', { actor: 'cli', opId: 'op-new' });
    expect((await readLockHolder(stateDir, 'demo'))?.op_id).toBe('op-new');
    expect((await fsp.readdir(path.dirname(file))).sort()).toEqual(['demo.lock']);
    await lock.release();
  });

  it('stamps the holder with the injected clock', async () => {
    const stateDir = path.join(tmp, 'state');
    const clock = { now: () => new Date('2030-05-06T07:08:09.000Z'), monoMs: () => 0 };
    const lock = await acquireTargetLock(stateDir, 'clocked', { actor: 'test', opId: 'op-c', clock });
    try {
      expect(lock.holder.since).toBe('2030-05-06T07:08:09.000Z');
      expect(await readLockHolder(stateDir, 'clocked')).toMatchObject({ since: '2030-05-06T07:08:09.000Z', stale: false });
    } finally {
      await lock.release();
    }
  });

  it('refuses target names that are not ids', async () => {
    const err = await acquireTargetLock(tmp, '../x', { actor: 'cli', opId: 'o' }).catch((e: unknown) => e);
    expect((err as UpkeepError).code).toBe('ERR_USAGE');
  });
});
