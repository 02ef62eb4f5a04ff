import { describe, it, expect } from 'vitest';
import path from 'node:path';
import { configPathFor, createAppController, pauseUntil, type ControllerCore } from '../../src-main/electron/app-controller';
import { ApplyOnQuitList } from '../../src-main/electron/apply-on-quit';
import { ConfigError } from '../../src-shared/errors';
import type { SettingsPatch } from '../../src-shared/api';
import { CHECKED, progress, target } from './fixtures';

const NOW = new Date('2025-01-15T12:00:00Z');

function setup(coreOver: Partial<ControllerCore> = {}, withCore = true) {
  const calls: string[] = [];
  const patches: [string, SettingsPatch][] = [];
  const reports: [string, string][] = [];
  const opened: string[] = [];
  let login = false;
  let changed = 0;
  const core: ControllerCore = {
    listTargets: async () => [target('a', { kind: 'up-to-date', checked_at: CHECKED }), target('b', { kind: 'applying', version: '2.0.0', progress: progress(30) })],
    check: async (id) => {
      calls.push(`check ${id}`);
      return {} as never;
    },
    apply: async (id, o) => {
      calls.push(`apply ${id} ${o?.version}`);
      return {} as never;
    },
    rollback: async (id, rb) => {
      calls.push(`rollback ${id} ${rb}`);
      return {} as never;
    },
    updateSettings: async (id, patch) => {
      patches.push([id, patch]);
      return target(id, { kind: 'idle' });
    },
    reloadConfig: (async () => ({ config_generation: 4, restart_required: ['api.port'] })) as ControllerCore['reloadConfig'],
    ...coreOver,
  };
  const applyOnQuit = new ApplyOnQuitList();
  const c = createAppController({
    core: () => (withCore ? core : null),
    applyOnQuit,
    openWindow: (r) => void opened.push(r),
    startAtLogin: { get: () => login, set: (v) => void (login = v) },
    report: (t, b) => void reports.push([t, b]),
    changed: () => void changed++,
    retryStart: () => void calls.push('retry'),
    showConfig: () => void calls.push('show-config'),
    quit: () => void calls.push('quit'),
    log: { info: () => {}, warn: () => {}, error: () => {} },
    now: () => NOW,
  });
  return { c, calls, patches, reports, opened, applyOnQuit, login: () => login, changed: () => changed };
}

describe('pauseUntil', () => {
  it('pauses for an hour, or until the next local midnight', () => {
    expect(pauseUntil('hour', NOW)).toBe('2025-01-15T13:00:00.000Z');
    const t = new Date(pauseUntil('tomorrow', NOW));
    expect(t.getTime()).toBeGreaterThan(NOW.getTime());
    expect(t.getTime() - NOW.getTime()).toBeLessThanOrEqual(25 * 3600 * 1000);
    expect([t.getHours(), t.getMinutes(), t.getSeconds()]).toEqual([0, 0, 0]);
  });
});

describe('configPathFor', () => {
  it('prefers --config, then UPKEEP_CONFIG, then the user data folder', () => {
    expect(configPathFor(['--config', '/etc/u.yaml'], { UPKEEP_CONFIG: '/x.yaml' }, '/home/u/.config/Upkeep')).toBe(path.resolve('/etc/u.yaml'));
    expect(configPathFor(['--config=/etc/v.yaml'], {}, '/d')).toBe(path.resolve('/etc/v.yaml'));
    expect(configPathFor(['.'], { UPKEEP_CONFIG: '/x.yaml' }, '/d')).toBe(path.resolve('/x.yaml'));
    expect(configPathFor([], {}, '/home/u/.config/Upkeep')).toBe(path.join('/home/u/.config/Upkeep', 'upkeep.yaml'));
  });
});

describe('app controller', () => {
  it('checks every target that is not busy', async () => {
    const s = setup();
    await s.c.handle({ type: 'check-now' });
    expect(s.calls).toEqual(['check a']);
  });

  it('applies and rolls back through the core', async () => {
    const s = setup();
    await s.c.handle({ type: 'apply', target: 'a', version: '2.0.0' });
    await s.c.handle({ type: 'rollback', target: 'a', rollback_id: 'rb-1' });
    expect(s.calls).toEqual(['apply a 2.0.0', 'rollback a rb-1']);
  });

  it('pauses every target and resumes them', async () => {
    const s = setup();
    await s.c.handle({ type: 'pause', choice: 'hour' });
    expect(s.patches).toEqual([['a', { paused_until: '2025-01-15T13:00:00.000Z' }], ['b', { paused_until: '2025-01-15T13:00:00.000Z' }]]);
    await s.c.handle({ type: 'resume' });
    expect(s.patches.slice(2)).toEqual([['a', { paused_until: null }], ['b', { paused_until: null }]]);
    expect(s.changed()).toBe(2);
  });

  it('reports a reload and what needs a restart; reports a refused reload with its code', async () => {
    const s = setup();
    await s.c.handle({ type: 'reload-config' });
    expect(s.reports).toEqual([['Configuration reloaded', 'Generation 4. Restart Upkeep to apply: api.port.']]);
    const bad = setup({ reloadConfig: (async () => { throw new ConfigError('targets.0.id: bad'); }) as ControllerCore['reloadConfig'] });
    await bad.c.handle({ type: 'reload-config' });
    expect(bad.reports).toEqual([['Could not reload the configuration', 'targets.0.id: bad (ERR_CONFIG_INVALID)']]);
  });

  it('toggles apply-on-quit and start-at-login', async () => {
    const s = setup();
    await s.c.handle({ type: 'toggle-apply-on-quit', target: 'a', version: '2.0.0' });
    expect(s.applyOnQuit.entries()).toEqual([{ target: 'a', version: '2.0.0' }]);
    await s.c.handle({ type: 'toggle-start-at-login' });
    expect(s.login()).toBe(true);
    await s.c.handle({ type: 'toggle-start-at-login' });
    expect(s.login()).toBe(false);
  });

  it('routes window, retry, config and quit actions to the host', async () => {
    const s = setup();
    await s.c.handle({ type: 'open', route: '#/targets/a' });
    await s.c.handle({ type: 'retry-start' });
    await s.c.handle({ type: 'show-config' });
    await s.c.handle({ type: 'quit' });
    expect(s.opened).toEqual(['#/targets/a']);
    expect(s.calls).toEqual(['retry', 'show-config', 'quit']);
  });

  it('explains that nothing can be done while the core is not running', async () => {
    const s = setup({}, false);
    await s.c.handle({ type: 'check-now' });
    expect(s.reports).toHaveLength(1);
    expect(s.reports[0][0]).toBe('Upkeep is not running');
  });
});
