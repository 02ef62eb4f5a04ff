/**
 * Crash safety through the real command line: `upkeep apply` and `upkeep rollback` of a
 * 2,000-file release (with mode-only changes and type changes: file -> directory, link -> file)
 * are SIGKILLed at random instants; the next command (`upkeep status`)
 * recovers, and the install dir is exactly the old or exactly the new tree — bytes and modes —
 * with the recorded version agreeing. (test/engine/apply/crash.test.ts does the same at the
 * engine level with more kills; UPKEEP_CLI_CRASH_RUNS sets the count here.)
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BIN, runCli } from '../helpers/cli';
import { snapshot, type Entry } from '../helpers/tree';
import { CRASH_SEED as SEED, names, rng, recordFailure, tallyKills } from '../helpers/kill-loop';

const RUNS = Math.max(2, Number(process.env.UPKEEP_CLI_CRASH_RUNS ?? 10) || 10);
const FILES = 2000;
const random = rng(SEED ^ 0xc11);
// tmpfs when available: a SIGKILL loses no written data with or without fsync, so the crash
// behaviour is the same, minus ~ms per fsync.
const BASE = existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir();

let dir: string;
let config: string;
let v1: Entry[];
let v2: Entry[];
const install = () => path.join(dir, 'install');

async function makeBuild(root: string, version: string): Promise<void> {
  for (let i = 0; i < FILES; i++) {
    // 1.1.0 changes every third file, drops files 1990+, and adds ten new ones.
    if (version === '1.1.0' && i >= 1990) continue;
    const changed = version === '1.1.0' && i % 3 === 0;
    const rel = path.join(root, `d${i % 25}`, `f${i}.txt`);
    await fsp.mkdir(path.dirname(rel), { recursive: true });
    await fsp.writeFile(rel, `file ${i} ${changed ? 'v2' : 'v1'}\n`.repeat(8));
    if (i % 97 === 0) await fsp.chmod(rel, changed ? 0o700 : 0o755);
    else if (i % 89 === 0 && version === '1.1.0') await fsp.chmod(rel, 0o750); // the mode changes, the bytes do not
  }
  // Type changes: `docs` is a file in 1.0.0 and a directory in 1.1.0; `lib/current` a link, then a file.
  await fsp.mkdir(path.join(root, 'lib'), { recursive: true });
  if (version === '1.1.0') {
    await fsp.mkdir(path.join(root, 'docs'), { recursive: true });
    await fsp.writeFile(path.join(root, 'docs', 'index.md'), 'docs as a directory\n');
    await fsp.writeFile(path.join(root, 'lib', 'current'), 'a file where a link was\n');
  } else {
    await fsp.writeFile(path.join(root, 'docs'), 'docs as one file\n');
    await fsp.symlink('../d0/f0.txt', path.join(root, 'lib', 'current'));
  }
  if (version === '1.1.0') {
    for (let i = 0; i < 10; i++) {
      await fsp.mkdir(path.join(root, 'new'), { recursive: true });
      await fsp.writeFile(path.join(root, 'new', `n${i}.txt`), `new ${i}\n`);
    }
  }
}

/**
 * Runs the CLI and SIGKILLs it `afterMs` after it starts or, with `onLine`, `afterMs` after the
 * first progress line on stderr that matches (`switch: ...`; without a terminal the CLI prints one
 * line per phase). True when the kill landed (the command had not finished).
 */
function runKilled(args: string[], afterMs: number, onLine?: RegExp): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, '--config', config, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let timer: NodeJS.Timeout | undefined = onLine ? undefined : setTimeout(() => child.kill('SIGKILL'), afterMs);
    let err = '';
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      if (onLine && !timer && onLine.test(err)) timer = setTimeout(() => child.kill('SIGKILL'), afterMs);
    });
    child.on('error', reject);
    child.on('close', (_code, signal) => {
      if (timer) clearTimeout(timer);
      resolve(signal === 'SIGKILL');
    });
  });
}

async function timed(args: string[]): Promise<number> {
  const t = Date.now();
  const r = await runCli(['--config', config, ...args, '--json'], { timeoutMs: 120_000 });
  expect(r.code, r.stderr + r.stdout).toBe(0);
  return Date.now() - t;
}

beforeAll(async () => {
  dir = await fsp.mkdtemp(path.join(BASE, 'upkeep-clicrash-'));
  const keys = path.join(dir, 'keys');
  expect((await runCli(['release', 'keygen', '--out', keys])).code).toBe(0);
  const pub = (await fsp.readFile(path.join(keys, 'upkeep.pub'), 'utf8')).trim();
  for (const v of ['1.0.0', '1.1.0']) {
    const b = path.join(dir, `build-${v}`);
    await makeBuild(b, v);
    const r = await runCli(['release', 'publish', b, '--feed', path.join(dir, 'feed'), '--product', 'demo', '--version', v, '--key', path.join(keys, 'upkeep.key')], { timeoutMs: 120_000 });
    expect(r.code, r.stderr).toBe(0);
  }
  v1 = await snapshot(path.join(dir, 'build-1.0.0'));
  v2 = await snapshot(path.join(dir, 'build-1.1.0'));
  config = path.join(dir, 'upkeep.yaml');
  await fsp.writeFile(config, [
    'state_dir: ./state',
    'targets:',
    '  - id: demo',
    '    kind: files',
    '    install_dir: ./install',
    '    product: demo',
    `    feed: { url: ${JSON.stringify(path.join(dir, 'feed'))} }`,
    `    trust: { keys: [${JSON.stringify(pub)}] }`,
    '    retention: 5',
  ].join('\n'));
  await timed(['apply', '--version', '1.0.0']);
}, 300_000);

afterAll(async () => {
  await fsp.rm(dir, { recursive: true, force: true });
});

/**
 * After recovery: no temp file of an interrupted atomic JSON write (`<name>.json.<digits>`) is
 * left in the state dir, and every blob in the download cache still hashes to its name.
 */
async function checkStateDir(note: string): Promise<void> {
  const state = path.join(dir, 'state');
  const all = await names(state);
  expect(all.filter((n) => /\.json\.\d+$/.test(n)), `${note}: temp files left`).toEqual([]);
  const blobs = path.join(state, 'downloads', 'blobs', 'sha256');
  for (const h of await fsp.readdir(blobs)) expect(createHash('sha256').update(await fsp.readFile(path.join(blobs, h))).digest('hex'), `${note}: blob ${h}`).toBe(h);
}

describe('SIGKILL during CLI apply and rollback', () => {
  it(`recovers to exactly the old or the new tree after ${RUNS} random kills`, async () => {
    // Uninterrupted runs measure how long each command takes (and prove both work).
    let applyMs = await timed(['apply']);
    expect(await snapshot(install())).toEqual(v2);
    let rollbackMs = await timed(['rollback']);
    expect(await snapshot(install())).toEqual(v1);

    const seen = { old: 0, new: 0 };
    let kills = 0;
    try {
      for (let i = 0; kills < RUNS; i++) {
        if (i >= 10 * RUNS) throw new Error(`seed ${SEED}: only ${kills} of ${i} runs were killed before they finished`);
        const atV1 = JSON.stringify(await snapshot(install())) === JSON.stringify(v1);
        const cmd = atV1 ? ['apply'] : ['rollback'];
        const limit = atV1 ? applyMs : rollbackMs;
        // Every third kill lands after the switch starts (apply) or the restore starts (rollback);
        // the others anywhere in the measured duration.
        const t0 = Date.now();
        const killed = i % 3 === 2
          ? await runKilled(cmd, Math.floor(random() * limit * 0.25), atV1 ? /^switch:/m : /^rollback:/m)
          : await runKilled(cmd, Math.floor(random() * limit));
        const st = await runCli(['--config', config, 'status', 'demo', '--json']);
        expect(st.code, st.stderr).toBe(0);
        const tree = await snapshot(install());
        const isV1 = JSON.stringify(tree) === JSON.stringify(v1);
        const isV2 = JSON.stringify(tree) === JSON.stringify(v2);
        expect(isV1 || isV2, `seed ${SEED} run ${i} (${cmd[0]}): tree is neither 1.0.0 nor 1.1.0`).toBe(true);
        expect(st.json.current_version).toBe(isV1 ? '1.0.0' : '1.1.0');
        await checkStateDir(`seed ${SEED} run ${i} (${cmd[0]})`);
        if (isV1 === atV1) seen.old++;
        else seen.new++;
        if (!killed) {
          expect(isV1, `seed ${SEED} run ${i}: an uninterrupted ${cmd[0]} must switch`).toBe(!atV1);
          // The machine's load varies: a command that finished before its kill shortens the window.
          if (i % 3 !== 2 && atV1) applyMs = Math.min(applyMs, Date.now() - t0);
          else if (i % 3 !== 2) rollbackMs = Math.min(rollbackMs, Date.now() - t0);
          continue;
        }
        kills++;
      }
    } catch (err) {
      await recordFailure('cli apply+rollback', kills, err);
      throw err;
    }
    await tallyKills('cli apply+rollback', kills, `runs ending ${seen.old} old, ${seen.new} new`);
    // Both outcomes occur (runs that finished count as new), or the kills never landed inside an operation.
    if (RUNS >= 6) {
      expect(seen.old).toBeGreaterThan(0);
      expect(seen.new).toBeGreaterThan(0);
    }
  }, 600_000);
});
