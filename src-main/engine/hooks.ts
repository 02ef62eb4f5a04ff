/**
 * Running hook and step commands from the config: through the system shell, with a timeout that
 * kills the command's whole process tree, bounded captured output, and the UPKEEP_* environment.
 *
 * Written on child_process directly: execa-style libraries are not installed, and what matters
 * here (a process group per command, killing the group on timeout, not hanging when a background
 * grandchild keeps the output pipes open) is a few lines on top of spawn.
 */
import { promises as fsp } from 'node:fs';
import { OperationError } from '../../src-shared/errors';
import type { HookCommand } from './config/schema';
import { DEFAULT_LIMITS } from './limits';
import { childEnv } from './child-env';
import { systemClock, type Clock } from './clock';

/** child_process, loaded when a hook runs: commands that run none (status) skip it. */
const childProcess = (): typeof import('node:child_process') => require('node:child_process') as typeof import('node:child_process');

export interface CommandOptions {
  cwd?: string;
  /** Added to (and overriding) the process environment. */
  env?: Record<string, string>;
  timeoutMs: number;
  signal?: AbortSignal;
  /** Bytes kept per stream (the tail); default DEFAULT_LIMITS.maxCapturedOutputBytes. */
  maxOutputBytes?: number;
  /** Measures `durationMs` on its monotonic counter (default: the system clock). */
  clock?: Clock;
}

export interface CommandResult {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  durationMs: number;
}

/** After SIGTERM on timeout or cancel, the group gets SIGKILL this much later. */
const KILL_GRACE_MS = 2_000;
/** After the shell exits, how long to wait for its output pipes to close (a background child may hold them). */
const DRAIN_MS = 500;

/** Keeps the last `max` bytes written to it and counts what was dropped. */
class Tail {
  private chunks: Buffer[] = [];
  private size = 0;
  dropped = 0;
  constructor(private readonly max: number) {}
  push(b: Buffer): void {
    this.chunks.push(b);
    this.size += b.length;
    while (this.size > this.max && this.chunks.length > 0) {
      const first = this.chunks[0]!;
      const excess = this.size - this.max;
      if (first.length <= excess) {
        this.chunks.shift();
        this.size -= first.length;
        this.dropped += first.length;
      } else {
        this.chunks[0] = first.subarray(excess);
        this.size -= excess;
        this.dropped += excess;
      }
    }
  }
  text(): string {
    const body = Buffer.concat(this.chunks).toString('utf8');
    return this.dropped > 0 ? `[… ${this.dropped} bytes of earlier output dropped …]\n${body}` : body;
  }
}

function killTree(pid: number, sig: NodeJS.Signals): void {
  if (process.platform === 'win32') {
    // No process groups: taskkill /T walks the tree (always forceful).
    childProcess().spawn('taskkill', ['/pid', String(pid), '/T', '/F'], { stdio: 'ignore', windowsHide: true }).on('error', () => undefined);
    return;
  }
  try {
    process.kill(-pid, sig);
  } catch {}
}

/** A program and its arguments, run without a shell (nothing in them is interpreted). */
export interface Argv {
  file: string;
  args: string[];
}

/**
 * Runs `command` with the system shell (sh -c on POSIX, cmd.exe on Windows), or an `Argv`
 * directly without one, in its own process group.
 * On timeout the whole group is killed and `timedOut` is set. Never rejects for a non-zero exit;
 * rejects with ERR_CANCELLED when `signal` aborts it, ERR_HOOK_FAILED when it cannot start.
 */
export function runCommand(command: string | Argv, o: CommandOptions): Promise<CommandResult> {
  const max = o.maxOutputBytes ?? DEFAULT_LIMITS.maxCapturedOutputBytes;
  const cmd = typeof command === 'string' ? command : [command.file, ...command.args].join(' ');
  if (o.signal?.aborted) return Promise.reject(new OperationError('ERR_CANCELLED', `cancelled before running: ${cmd}`));
  const clock = o.clock ?? systemClock;
  const started = clock.monoMs();
  return new Promise((resolve, reject) => {
    const win = process.platform === 'win32';
    const env = { ...childEnv(process.env), ...o.env };
    const child = typeof command !== 'string'
      ? childProcess().spawn(command.file, command.args, { cwd: o.cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: !win, windowsHide: true })
      : win
        ? childProcess().spawn(process.env.ComSpec || 'cmd.exe', ['/d', '/s', '/c', `"${cmd}"`], { cwd: o.cwd, env, stdio: ['ignore', 'pipe', 'pipe'], windowsVerbatimArguments: true, windowsHide: true })
        : childProcess().spawn('/bin/sh', ['-c', cmd], { cwd: o.cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const out = new Tail(max);
    const err = new Tail(max);
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));

    let timedOut = false;
    let aborted = false;
    let exit: { code: number | null; signal: string | null } | null = null;
    let settled = false;
    let graceTimer: NodeJS.Timeout | undefined;
    let drainTimer: NodeJS.Timeout | undefined;

    const stop = (): void => {
      if (child.pid === undefined || exit) return;
      killTree(child.pid, 'SIGTERM');
      graceTimer = setTimeout(() => { if (child.pid !== undefined) killTree(child.pid, 'SIGKILL'); }, KILL_GRACE_MS);
      graceTimer.unref();
    };
    const timer = setTimeout(() => { timedOut = true; stop(); }, Math.max(1, o.timeoutMs));
    const onAbort = (): void => { aborted = true; stop(); };
    o.signal?.addEventListener('abort', onAbort, { once: true });

    const finish = (): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(drainTimer);
      o.signal?.removeEventListener('abort', onAbort);
      // The shell is gone; after a timeout or cancel, leave no member of its group behind.
      if ((timedOut || aborted) && child.pid !== undefined) killTree(child.pid, 'SIGKILL');
      clearTimeout(graceTimer);
      child.stdout.destroy();
      child.stderr.destroy();
      const result: CommandResult = {
        code: exit?.code ?? null,
        signal: exit?.signal ?? null,
        stdout: out.text(),
        stderr: err.text(),
        timedOut,
        durationMs: Math.round(clock.monoMs() - started),
      };
      if (aborted && !timedOut) reject(new OperationError('ERR_CANCELLED', `cancelled: ${cmd}`, { stdout_tail: tail(result.stdout), stderr_tail: tail(result.stderr) }));
      else resolve(result);
    };

    child.on('error', (e) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      o.signal?.removeEventListener('abort', onAbort);
      reject(new OperationError('ERR_HOOK_FAILED', `cannot run command: ${e.message}`, { command: cmd }));
    });
    child.on('exit', (code, signal) => {
      exit = { code, signal };
      drainTimer = setTimeout(finish, DRAIN_MS);
    });
    child.on('close', finish);
  });
}

/** The last `bytes` of a text, for error details. */
function tail(text: string, bytes = 4096): string {
  return text.length <= bytes ? text : text.slice(text.length - bytes);
}

/** The last few non-empty lines of a text, shortened, for error messages. */
function lastLines(text: string, n = 5, maxChars = 600): string {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '').slice(-n).join('\n');
  return lines.length > maxChars ? '…' + lines.slice(lines.length - maxChars) : lines;
}

/** The command line and timeout of a configured hook (string, or { run, timeout_s }). */
export function hookSpec(hook: HookCommand, defaultTimeoutMs: number): { run: string; timeoutMs: number } {
  if (typeof hook === 'string') return { run: hook, timeoutMs: defaultTimeoutMs };
  return { run: hook.run, timeoutMs: hook.timeout_s !== undefined ? Math.round(hook.timeout_s * 1000) : defaultTimeoutMs };
}

export interface HookContext {
  target: string;
  fromVersion: string | null;
  toVersion: string | null;
  installDir: string;
  defaultTimeoutMs: number;
  extraEnv?: Record<string, string>;
  signal?: AbortSignal;
  maxOutputBytes?: number;
  /** A pipeline step of a command target rather than a hook: fails with ERR_STEP_FAILED. */
  kind?: 'hook' | 'step';
}

/**
 * Runs the hook `name` if configured (null when not), in the install directory when it exists,
 * with UPKEEP_TARGET, UPKEEP_FROM_VERSION, UPKEEP_TO_VERSION, UPKEEP_INSTALL_DIR and
 * UPKEEP_HOOK set. Throws OperationError ERR_HOOK_FAILED (ERR_STEP_FAILED for steps) when it
 * exits non-zero, is killed or times out; the message names the hook, the cause and the last
 * lines of its error output.
 */
export async function runHook(name: string, hook: HookCommand | undefined, ctx: HookContext): Promise<CommandResult | null> {
  if (hook === undefined) return null;
  const spec = hookSpec(hook, ctx.defaultTimeoutMs);
  const kind = ctx.kind ?? 'hook';
  const env: Record<string, string> = {
    ...ctx.extraEnv,
    UPKEEP_TARGET: ctx.target,
    UPKEEP_FROM_VERSION: ctx.fromVersion ?? '',
    UPKEEP_TO_VERSION: ctx.toVersion ?? '',
    UPKEEP_INSTALL_DIR: ctx.installDir,
    UPKEEP_HOOK: name,
  };
  if (kind === 'step') env.UPKEEP_STEP = name;
  let cwd: string | undefined;
  try {
    if ((await fsp.stat(ctx.installDir)).isDirectory()) cwd = ctx.installDir;
  } catch {}

  const res = await runCommand(spec.run, { cwd, env, timeoutMs: spec.timeoutMs, signal: ctx.signal, maxOutputBytes: ctx.maxOutputBytes });
  if (res.code === 0 && !res.timedOut) return res;

  const cause = res.timedOut
    ? `timed out after ${Math.round(spec.timeoutMs / 100) / 10}s`
    : res.code !== null ? `exit code ${res.code}` : `killed by ${res.signal ?? 'a signal'}`;
  const said = lastLines(res.stderr) || lastLines(res.stdout);
  const code = kind === 'step' ? 'ERR_STEP_FAILED' : 'ERR_HOOK_FAILED';
  throw new OperationError(code, `${name} ${kind} failed: ${cause}${said ? `\n${said}` : ''}`, {
    [kind]: name,
    exit_code: res.code,
    signal: res.signal,
    timed_out: res.timedOut,
    duration_ms: res.durationMs,
    stdout_tail: tail(res.stdout),
    stderr_tail: tail(res.stderr),
  });
}
