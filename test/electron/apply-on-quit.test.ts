import { describe, it, expect } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ApplyOnQuitList, createBeforeQuitHandler, runApplyOnQuit } from '../../src-main/electron/apply-on-quit';
import type { ApplyResult } from '../../src-shared/api';
import { BusyError, OperationError } from '../../src-shared/errors';
import { CHECKED, target } from './fixtures';

const ok = (target: string, version: string): ApplyResult => ({ success: true, target, version, from_version: '1.0.0', verify_only: false, files_updated: [], files_removed: [], rollback_id: 'rb', operation_id: 'op' });

describe('ApplyOnQuitList', () => {
  it('keeps one version per target and toggles', () => {
    const l = new ApplyOnQuitList();
    expect(l.toggle('demo', '1.1.0')).toBe(true);
    expect(l.toggle('demo', '1.2.0')).toBe(true);
    expect(l.entries()).toEqual([{ target: 'demo', version: '1.2.0' }]);
    expect(l.toggle('demo', '1.2.0')).toBe(false);
    expect(l.entries()).toEqual([]);
  });

  it('prunes targets that are gone or already on the chosen version', () => {
    const l = new ApplyOnQuitList();
    l.toggle('gone', '2.0.0');
    l.toggle('done', '2.0.0');
    l.toggle('wait', '2.0.0');
    l.prune([target('done', { kind: 'up-to-date', checked_at: CHECKED }, { current_version: '2.0.0' }), target('wait', { kind: 'idle' })]);
    expect(l.entries()).toEqual([{ target: 'wait', version: '2.0.0' }]);
  });
});

describe('runApplyOnQuit', () => {
  it('applies every entry, reporting failures with their codes without stopping', async () => {
    const seen: string[] = [];
    const out = await runApplyOnQuit(
      [{ target: 'a', version: '2.0.0' }, { target: 'b', version: '3.0.0' }, { target: 'c', version: '4.0.0' }],
      async (t, v) => {
        seen.push(`${t}@${v}`);
        if (t === 'a') throw new BusyError('busy');
        if (t === 'b') throw new OperationError('ERR_HEALTH_CHECK_FAILED', 'unhealthy', { rolled_back: true });
        return ok(t, v);
      },
    );
    expect(seen).toEqual(['a@2.0.0', 'b@3.0.0', 'c@4.0.0']);
    expect(out).toEqual([
      { target: 'a', version: '2.0.0', ok: false, code: 'ERR_BUSY', message: 'busy' },
      { target: 'b', version: '3.0.0', ok: false, code: 'ERR_HEALTH_CHECK_FAILED', message: 'unhealthy' },
      { target: 'c', version: '4.0.0', ok: true },
    ]);
  });
});

describe('before-quit handler', () => {
  it('holds the first quit until the work is done, then quits once and lets it through', async () => {
    let release!: () => void;
    const work = new Promise<void>((r) => (release = r));
    let quits = 0;
    const handler = createBeforeQuitHandler({ beforeExit: () => work, quit: () => void quits++ });
    const ev = () => ({ prevented: false, preventDefault() { this.prevented = true; } });
    const e1 = ev();
    expect(handler(e1)).toBe(false);
    expect(e1.prevented).toBe(true);
    const e2 = ev();
    expect(handler(e2)).toBe(false); // a second Quit while applying is held too
    expect(e2.prevented).toBe(true);
    expect(quits).toBe(0);
    release();
    await work;
    await new Promise((r) => setImmediate(r));
    expect(quits).toBe(1);
    const e3 = ev();
    expect(handler(e3)).toBe(true);
    expect(e3.prevented).toBe(false);
  });

  it('still quits when the work fails', async () => {
    const errors: unknown[] = [];
    let quits = 0;
    const handler = createBeforeQuitHandler({ beforeExit: async () => { throw new Error('boom'); }, quit: () => void quits++, log: { error: (...a) => void errors.push(a) } });
    handler({ preventDefault() {} });
    await new Promise((r) => setImmediate(r));
    expect(quits).toBe(1);
    expect(errors).toHaveLength(1);
  });
});

describe('quitting without blocking every quit', () => {
  it('lets a quit with nothing to do through at once', () => {
    let ran = 0;
    const handler = createBeforeQuitHandler({ needsWork: () => false, beforeExit: async () => void ran++, quit: () => {} });
    const e = { prevented: false, preventDefault() { this.prevented = true; } };
    expect(handler(e)).toBe(true);
    expect(e.prevented).toBe(false);
    expect(ran).toBe(0);
  });

  it('holds a quit with work at most the timeout, with feedback', async () => {
    let quits = 0;
    let waiting = 0;
    const errors: unknown[] = [];
    const handler = createBeforeQuitHandler({
      needsWork: () => true, beforeExit: () => new Promise(() => {}), quit: () => void quits++, onWaiting: () => void waiting++, timeoutMs: 30,
      log: { error: (...a) => void errors.push(a) },
    });
    expect(handler({ preventDefault() {} })).toBe(false);
    expect(waiting).toBe(1);
    await new Promise((r) => setTimeout(r, 80));
    expect(quits).toBe(1);
    expect(String((errors[0] as unknown[])[0])).toMatch(/took too long/);
  });

  it('keeps the choices in a file, so a session that ended without before-quit applies them at the next start', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'upkeep-aoq-'));
    try {
      const file = path.join(dir, 'apply-on-quit.json');
      const list = new ApplyOnQuitList(file);
      list.toggle('demo', '2.0.0');
      list.toggle('db', '9.1.0');
      list.toggle('db', '9.1.0');
      // The process ends (Windows logoff): a new process reads what is still to do.
      expect(new ApplyOnQuitList(file).entries()).toEqual([{ target: 'demo', version: '2.0.0' }]);
      new ApplyOnQuitList(file).clear();
      expect(new ApplyOnQuitList(file).entries()).toEqual([]);
      fs.writeFileSync(file, 'not json');
      expect(new ApplyOnQuitList(file).entries()).toEqual([]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
