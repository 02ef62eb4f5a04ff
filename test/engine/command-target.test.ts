/**
 * `command` targets: the update is carried out by shell steps (standing in for `docker compose
 * pull` and friends) that write into a temp dir. Success runs the steps in order with the UPKEEP_*
 * environment and records the version; a failing step runs `rollback` and reports rolled_back;
 * a manual rollback runs the rollback step back to the previous version.
 */
import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { parseConfig } from '../../src-main/engine/config/load';
import { OperationRunner as Engine } from '../../src-main/engine/runner/operation-runner';
import type { Notification } from '../../src-shared/api';
import { UpkeepError } from '../../src-shared/errors';
import { tempDir } from '../helpers/tree';

const STEPS = ['backup', 'pull', 'migrate', 'smoke', 'switch', 'health', 'confirm'] as const;

describe('command targets', () => {
  let dir: string;
  let log: string;

  beforeEach(async () => {
    dir = await tempDir('upkeep-cmd-');
    log = path.join(dir, 'steps.log');
  });
  afterEach(async () => {
    await fsp.rm(dir, { recursive: true, force: true });
  });

  /** Each step appends "name target from to installdir" to the log; `fail` names a step that exits 3. */
  function engine(o: { fail?: string; withRollback?: boolean } = {}): Engine {
    const step = (name: string) =>
      `'echo "${name} $UPKEEP_TARGET $UPKEEP_FROM_VERSION $UPKEEP_TO_VERSION $UPKEEP_INSTALL_DIR $UPKEEP_STEP" >> ${log}${o.fail === name ? '; echo boom >&2; exit 3' : ''}'`;
    const names = o.withRollback === false ? STEPS : [...STEPS, 'rollback'];
    const text = [
      'state_dir: ./state',
      'targets:',
      '  - id: stack',
      '    name: Compose stack',
      '    kind: command',
      '    install_dir: ./stack',
      '    initial_version: 1.0.0',
      '    steps:',
      ...names.map((n) => `      ${n}: ${step(n)}`),
    ].join('\n');
    const loaded = parseConfig(text, { file: path.join(dir, 'upkeep.yaml'), dir, env: {} });
    return new Engine({ loaded, actor: 'cli' });
  }

  const lines = async () => (await fsp.readFile(log, 'utf8')).trim().split('\n');

  it('runs backup → pull → migrate → smoke → switch → health → confirm with the UPKEEP_* env and records the version', async () => {
    const e = engine();
    const notes: Notification[] = [];
    e.bus.subscribe((ev) => ev.type === 'notification' && notes.push(ev.notification));
    expect((await e.view('stack')).current_version).toBe('1.0.0');

    const r = await e.apply('stack', { version: '1.1.0' });
    expect(r).toMatchObject({ success: true, target: 'stack', version: '1.1.0', from_version: '1.0.0', verify_only: false });
    expect(r.rollback_id).toMatch(/^rb_/);
    const stackDir = path.join(dir, 'stack');
    expect(await lines()).toEqual(STEPS.map((s) => `${s} stack 1.0.0 1.1.0 ${stackDir} ${s}`));

    const v = await e.view('stack');
    expect(v.current_version).toBe('1.1.0');
    expect(v.points_count).toBe(1);
    const [rec] = await e.history('stack');
    expect(rec).toMatchObject({ operation: 'apply', from_version: '1.0.0', to_version: '1.1.0', result: 'success', rollback_id: r.rollback_id });
    expect(notes.map((n) => n.type)).toEqual(['update_started', 'update_completed']);

    // A second engine over the same state sees the recorded version (it survives restarts).
    expect((await engine().view('stack')).current_version).toBe('1.1.0');
  });

  it('verify_only runs no step', async () => {
    const e = engine();
    const r = await e.apply('stack', { version: '1.1.0', verifyOnly: true });
    expect(r).toMatchObject({ success: true, verify_only: true });
    await expect(fsp.access(log)).rejects.toThrow();
    expect((await e.view('stack')).current_version).toBe('1.0.0');
  });

  it('a failing smoke step runs rollback, reports rolled_back and keeps the version', async () => {
    const e = engine({ fail: 'smoke' });
    const notes: Notification[] = [];
    e.bus.subscribe((ev) => ev.type === 'notification' && notes.push(ev.notification));

    const err = await e.apply('stack', { version: '1.1.0' }).then(() => null, (x: unknown) => x);
    expect(err).toBeInstanceOf(UpkeepError);
    const ue = err as UpkeepError;
    expect(ue.code).toBe('ERR_STEP_FAILED');
    expect(ue.message).toContain('smoke step failed: exit code 3');
    expect(ue.message).toContain('rolled back to 1.0.0');
    expect(ue.details).toMatchObject({ rolled_back: true, step: 'smoke' });

    const stackDir = path.join(dir, 'stack');
    expect(await lines()).toEqual([
      `backup stack 1.0.0 1.1.0 ${stackDir} backup`,
      `pull stack 1.0.0 1.1.0 ${stackDir} pull`,
      `migrate stack 1.0.0 1.1.0 ${stackDir} migrate`,
      `smoke stack 1.0.0 1.1.0 ${stackDir} smoke`,
      `rollback stack 1.1.0 1.0.0 ${stackDir} rollback`,
    ]);
    const v = await e.view('stack');
    expect(v.current_version).toBe('1.0.0');
    expect(v.points_count).toBe(0);
    expect(v.last_error?.code).toBe('ERR_STEP_FAILED');
    const [rec] = await e.history('stack');
    expect(rec).toMatchObject({ operation: 'apply', from_version: '1.0.0', to_version: '1.1.0', result: 'rolled_back', error_code: 'ERR_STEP_FAILED' });
    const rolled = notes.find((n) => n.type === 'rolled_back');
    expect(rolled).toMatchObject({ target: 'stack', version: '1.0.0', from_version: '1.1.0', error: { code: 'ERR_STEP_FAILED' } });
    expect(notes.some((n) => n.type === 'update_failed')).toBe(false);
  });

  it('a failing step with a failing rollback says both', async () => {
    const text = [
      'state_dir: ./state',
      'targets:',
      '  - id: stack',
      '    kind: command',
      '    install_dir: ./stack',
      '    initial_version: 1.0.0',
      '    steps:',
      '      pull: "true"',
      '      switch: "exit 4"',
      '      rollback: "exit 5"',
    ].join('\n');
    const bad = new Engine({ loaded: parseConfig(text, { file: path.join(dir, 'upkeep.yaml'), dir, env: {} }), actor: 'cli' });
    const err = (await bad.apply('stack', { version: '1.1.0' }).then(() => null, (x: unknown) => x)) as UpkeepError;
    expect(err.code).toBe('ERR_STEP_FAILED');
    expect(err.message).toContain('the rollback step failed too');
    expect(err.details).toMatchObject({ rolled_back: false });
    expect((await bad.view('stack')).current_version).toBe('1.0.0');
    expect((await bad.history('stack'))[0]).toMatchObject({ result: 'failed', error_code: 'ERR_STEP_FAILED' });
  });

  it('a manual rollback runs the rollback step back to the previous version', async () => {
    const e = engine();
    const a = await e.apply('stack', { version: '1.1.0' });
    await fsp.rm(log);
    const points = await e.points('stack');
    expect(points).toHaveLength(1);
    expect(points[0]).toMatchObject({ rollback_id: a.rollback_id, from_version: '1.0.0', to_version: '1.1.0' });

    const r = await e.rollback('stack');
    expect(r).toMatchObject({ success: true, rollback_id: a.rollback_id, version: '1.0.0', from_version: '1.1.0' });
    expect(await lines()).toEqual([`rollback stack 1.1.0 1.0.0 ${path.join(dir, 'stack')} rollback`]);
    expect((await e.view('stack')).current_version).toBe('1.0.0');
    expect(await e.points('stack')).toEqual([]);
    expect((await e.history('stack'))[0]).toMatchObject({ operation: 'rollback', from_version: '1.1.0', to_version: '1.0.0', result: 'success' });

    await expect(e.rollback('stack')).rejects.toMatchObject({ code: 'ERR_ROLLBACK_POINT_NOT_FOUND' });
  });

  it('without a rollback step, a manual rollback is refused and nothing changes', async () => {
    const e = engine({ withRollback: false });
    await e.apply('stack', { version: '1.1.0' });
    await expect(e.rollback('stack')).rejects.toMatchObject({ code: 'ERR_USAGE' });
    expect((await e.view('stack')).current_version).toBe('1.1.0');
  });
});
