/**
 * Shared parts of the SIGKILL crash suites: a child runner that kills at an instant or after a
 * phase marker, a seeded random generator (runs replay from UPKEEP_CRASH_SEED), and the kill
 * tally `npm run test:soak` sums (scripts/soak.mjs reads UPKEEP_SOAK_TALLY).
 */
import { spawn } from 'node:child_process';
import { existsSync, promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * Where crash sandboxes live: tmpfs when there is one. A SIGKILL loses no written data whether
 * or not it was fsynced (the kernel keeps it), so tmpfs tests exactly the same crash behaviour,
 * only without ~5 ms per fsync. Override with UPKEEP_CRASH_DIR.
 */
export const CRASH_BASE = process.env.UPKEEP_CRASH_DIR ?? (existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir());

/** The seed of this run (printed and named in every failure so a sequence can be replayed). */
export const CRASH_SEED = Number(process.env.UPKEEP_CRASH_SEED ?? Date.now());

/** A positive integer from the environment, else `dflt`. */
export function envCount(name: string, dflt: number): number {
  return Math.max(1, Number(process.env[name] ?? dflt) || dflt);
}

export interface Outcome {
  /** True only when the child died of our SIGKILL (not when it finished first). */
  killed: boolean;
  ms: number;
  /** Phase markers (`PHASE <name>` lines) in the order seen. */
  markers: string[];
  /** ms from spawn to each marker's arrival. */
  markerAt: Record<string, number>;
  stdout: string;
  stderr: string;
  code: number | null;
}

export interface KillOptions {
  /** Kill this many ms after spawn. */
  killAfterMs?: number;
  /** Kill right after this phase marker arrives (+ `extraMs`). */
  killOnMarker?: string;
  extraMs?: number;
  env?: NodeJS.ProcessEnv;
}

/** Runs `node -r tsx/cjs <script> ...args`, SIGKILLing it as `opts` says. */
export function runChild(script: string, args: string[], opts: KillOptions = {}): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child = spawn(process.execPath, ['-r', 'tsx/cjs', script, ...args], { cwd: process.cwd(), env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let killed = false;
    const markers: string[] = [];
    const markerAt: Record<string, number> = {};
    const kill = (): void => {
      if (killed || child.exitCode !== null) return;
      killed = child.kill('SIGKILL');
    };
    let timer: NodeJS.Timeout | undefined;
    if (opts.killAfterMs !== undefined) timer = setTimeout(kill, opts.killAfterMs);
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      for (const m of stdout.matchAll(/^PHASE (\w+)$/gm)) {
        if (markers.includes(m[1])) continue;
        markers.push(m[1]);
        markerAt[m[1]] = Date.now() - started;
        if (m[1] === opts.killOnMarker) {
          if (opts.extraMs) setTimeout(kill, opts.extraMs);
          else kill();
        }
      }
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      resolve({ killed: killed && signal === 'SIGKILL', ms: Date.now() - started, markers, markerAt, stdout, stderr, code });
    });
  });
}

/** A deterministic pseudo-random generator in [0, 1) (mulberry32). */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Every entry name under `dir` (relative paths), without reading contents. */
export async function names(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fsp.readdir(dir, { withFileTypes: true, recursive: true })) out.push(path.relative(dir, path.join(e.parentPath, e.name)));
  return out;
}

/** Runs a command to completion (exit 0 or throws). */
export function run(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, args, { stdio: 'inherit' });
    c.on('error', reject);
    c.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(' ')} exited ${code}`))));
  });
}

/** Replaces `dest` with a copy of `src` that keeps modes, links and hard links (`cp -a`). */
export async function copyTree(src: string, dest: string): Promise<void> {
  await fsp.rm(dest, { recursive: true, force: true });
  await run('cp', ['-a', src, dest]);
}

/**
 * Adds one loop's SIGKILL count to the campaign's tally (a line `<loop> <kills>` appended to
 * the file UPKEEP_SOAK_TALLY names; nothing when unset) and prints it.
 */
export async function tallyKills(loop: string, kills: number, detail = ''): Promise<void> {
  console.log(`crash ${loop}: ${kills} SIGKILLs recovered${detail ? ` (${detail})` : ''}, seed ${CRASH_SEED}`);
  const file = process.env.UPKEEP_SOAK_TALLY;
  if (file) await fsp.appendFile(file, `${loop.replace(/\s+/g, '-')} ${kills}\n`);
}

/**
 * Records a loop's failure at once (a line `FAIL <loop> after <kills> kills: <message>` in the
 * tally, and on stderr), so a long campaign shows it while the other loops still run; the caller
 * rethrows.
 */
export async function recordFailure(loop: string, kills: number, err: unknown): Promise<void> {
  const msg = (err instanceof Error ? err.message : String(err)).replace(/\s+/g, ' ').slice(0, 2000);
  const line = `FAIL ${loop.replace(/\s+/g, '-')} after ${kills} kills: ${msg}`;
  console.error(line);
  const file = process.env.UPKEEP_SOAK_TALLY;
  if (file) await fsp.appendFile(file, `${line}\n`);
}
