import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { promises as fsp, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCommand, runHook, hookSpec } from '../../src-main/engine/hooks';
import { UpkeepError } from '../../src-shared/errors';

const posix = process.platform !== 'win32';

/** True once `pid` no longer runs (gone, or a zombie nobody has reaped yet). */
function gone(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}

async function waitGone(pid: number): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    if (gone(pid)) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

let tmp: string;
const strays: number[] = [];
beforeEach(async () => {
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'upkeep-hooks-'));
});
afterEach(async () => {
  for (const pid of strays.splice(0)) {
    try { process.kill(pid, 'SIGKILL'); } catch {}
  }
  await fsp.rm(tmp, { recursive: true, force: true });
});

describe.runIf(posix)('runCommand', () => {
  it('captures stdout, stderr and the exit code', async () => {
    const r = await runCommand('echo hello; echo oops >&2; exit 4', { timeoutMs: 10_000 });
    expect(r).toMatchObject({ code: 4, signal: null, stdout: 'hello\n', stderr: 'oops\n', timedOut: false });
    expect(r.durationMs).toBeGreaterThanOrEqual(0);
  });

  it('runs in the given directory with extra environment', async () => {
    const r = await runCommand('pwd -P; echo "$FOO"', { cwd: tmp, env: { FOO: 'bar baz' }, timeoutMs: 10_000 });
    expect(r.stdout).toBe(`${await fsp.realpath(tmp)}\nbar baz\n`);
  });

  it('kills the whole process group on timeout', async () => {
    const pidFile = path.join(tmp, 'child.pid');
    const r = await runCommand(`sleep 30 & echo $! > '${pidFile}'; sleep 30`, { timeoutMs: 1500 });
    expect(r.timedOut).toBe(true);
    expect(r.code).toBeNull();
    // Not a speed test: only proves nobody waited for the 30 s sleeps.
    expect(r.durationMs).toBeLessThan(20_000);
    const grandchild = Number((await fsp.readFile(pidFile, 'utf8')).trim());
    strays.push(grandchild);
    expect(await waitGone(grandchild)).toBe(true);
  });

  it('keeps only the tail of a large output', async () => {
    const r = await runCommand('seq 1 200000', { timeoutMs: 30_000, maxOutputBytes: 1000 });
    expect(r.code).toBe(0);
    expect(r.stdout.endsWith('199999\n200000\n')).toBe(true);
    expect(r.stdout).toMatch(/^\[… \d+ bytes of earlier output dropped …\]\n/);
    expect(r.stdout.length).toBeLessThan(1100);
  });

  it('does not hang when a background child keeps the output open', async () => {
    const r = await runCommand('sleep 30 & echo $!; exit 0', { timeoutMs: 20_000 });
    const bg = Number(r.stdout.trim());
    strays.push(bg);
    expect(r.code).toBe(0);
    expect(r.timedOut).toBe(false);
    expect(bg).toBeGreaterThan(0);
  });

  it('rejects with ERR_CANCELLED when aborted, killing the command', async () => {
    const pidFile = path.join(tmp, 'c.pid');
    const ac = new AbortController();
    const p = runCommand(`echo $$ > '${pidFile}'; sleep 30`, { timeoutMs: 60_000, signal: ac.signal });
    for (let i = 0; i < 100 && !(await fsp.stat(pidFile).catch(() => null))?.size; i++) await new Promise((r) => setTimeout(r, 20));
    ac.abort();
    await expect(p).rejects.toMatchObject({ code: 'ERR_CANCELLED' });
    const shellPid = Number((await fsp.readFile(pidFile, 'utf8')).trim());
    expect(await waitGone(shellPid)).toBe(true);
    await expect(runCommand('true', { timeoutMs: 1000, signal: ac.signal })).rejects.toMatchObject({ code: 'ERR_CANCELLED' });
  });

  it('rejects when the command cannot start', async () => {
    await expect(runCommand('true', { cwd: path.join(tmp, 'missing'), timeoutMs: 1000 })).rejects.toMatchObject({ code: 'ERR_HOOK_FAILED' });
  });
});

describe.runIf(posix)('runHook', () => {
  const ctx = (installDir: string) => ({ target: 'demo', fromVersion: '1.0.0', toVersion: '1.1.0', installDir, defaultTimeoutMs: 10_000 });

  it('does nothing without a hook', async () => {
    expect(await runHook('smoke', undefined, ctx(tmp))).toBeNull();
  });

  it('exposes the UPKEEP_* variables and runs in the install directory', async () => {
    const r = await runHook('pre_apply', 'echo "$UPKEEP_TARGET|$UPKEEP_FROM_VERSION|$UPKEEP_TO_VERSION|$UPKEEP_INSTALL_DIR|$UPKEEP_HOOK|$EXTRA|$HOME"; pwd -P', {
      ...ctx(tmp), extraEnv: { EXTRA: 'x1' },
    });
    expect(r?.stdout).toBe(`demo|1.0.0|1.1.0|${tmp}|pre_apply|x1|${process.env.HOME ?? ''}\n${await fsp.realpath(tmp)}\n`);
  });

  it('fails with ERR_HOOK_FAILED naming the hook, the exit code and the last error lines', async () => {
    const err = await runHook('migrate', 'echo progress; for i in 1 2 3 4 5 6 7; do echo "line $i" >&2; done; exit 3', ctx(tmp)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpkeepError);
    const e = err as UpkeepError;
    expect(e.code).toBe('ERR_HOOK_FAILED');
    expect(e.message).toContain('migrate hook failed: exit code 3');
    expect(e.message).toContain('line 7');
    expect(e.message).not.toContain('line 1\n');
    expect(e.details).toMatchObject({ hook: 'migrate', exit_code: 3, timed_out: false, stdout_tail: 'progress\n' });
    expect(String(e.details?.stderr_tail)).toContain('line 1');
  });

  it('fails with ERR_HOOK_FAILED on timeout using the hook own timeout_s', async () => {
    const err = await runHook('smoke', { run: 'echo waiting >&2; sleep 30', timeout_s: 1.5 }, ctx(tmp)).catch((e: unknown) => e);
    expect((err as UpkeepError).code).toBe('ERR_HOOK_FAILED');
    expect((err as UpkeepError).message).toMatch(/^smoke hook failed: timed out after 1\.5s\nwaiting$/);
    expect((err as UpkeepError).details?.timed_out).toBe(true);
  });

  it('reports steps with ERR_STEP_FAILED', async () => {
    const err = await runHook('pull', 'exit 1', { ...ctx(tmp), kind: 'step' }).catch((e: unknown) => e);
    expect((err as UpkeepError).code).toBe('ERR_STEP_FAILED');
    expect((err as UpkeepError).message).toBe('pull step failed: exit code 1');
  });

  it('runs from the current directory when the install directory does not exist yet', async () => {
    const r = await runHook('post_apply', 'echo ok', ctx(path.join(tmp, 'not-yet')));
    expect(r?.stdout).toBe('ok\n');
  });
});

describe('hookSpec', () => {
  it('reads both hook forms', () => {
    expect(hookSpec('make deploy', 5000)).toEqual({ run: 'make deploy', timeoutMs: 5000 });
    expect(hookSpec({ run: 'x', timeout_s: 2.5 }, 5000)).toEqual({ run: 'x', timeoutMs: 2500 });
    expect(hookSpec({ run: 'x' }, 5000)).toEqual({ run: 'x', timeoutMs: 5000 });
  });
});
