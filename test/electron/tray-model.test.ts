import { describe, it, expect } from 'vitest';
import {
  buildStartupErrorMenuModel,
  buildTrayMenuModel,
  fitTooltip,
  menuKey,
  menuLabel,
  pausedUntil,
  WINDOWS_TOOLTIP_MAX,
  tooltipText,
  trayIconFile,
  trayIconFiles,
  trayStateOf,
  type MenuItemModel,
  type TrayMenuInput,
} from '../../src-main/electron/tray-model';
import type { ReleaseView, TargetView, VerificationLevel } from '../../src-shared/api';
import { CHECKED, point, progress, target } from './fixtures';

const NOW = new Date('2025-01-15T12:00:00Z');
const upToDate = (id: string) => target(id, { kind: 'up-to-date', checked_at: CHECKED });
const available = (id: string, version: string, is_critical = false) => target(id, { kind: 'available', version, is_critical, is_breaking: false, checked_at: CHECKED });
const failed = (id: string) => target(id, { kind: 'failed', error: { code: 'ERR_HASH_MISMATCH', message: 'hash differs' }, at: CHECKED });

function find(items: MenuItemModel[], id: string): MenuItemModel | undefined {
  for (const m of items) {
    if (m.kind === 'separator') continue;
    if (m.id === id) return m;
    if (m.kind === 'submenu') {
      const inner = find(m.items, id);
      if (inner) return inner;
    }
  }
  return undefined;
}

const input = (over: Partial<TrayMenuInput>): TrayMenuInput => ({ targets: [], latestPoints: {}, applyOnQuit: [], startAtLogin: false, now: NOW, ...over });

describe('tray state and icon', () => {
  it('picks the state by priority: working > error > critical > available > up to date', () => {
    expect(trayStateOf([])).toBe('up-to-date');
    expect(trayStateOf([upToDate('a'), target('b', { kind: 'checking' })])).toBe('up-to-date');
    expect(trayStateOf([upToDate('a'), available('b', '2.0.0')])).toBe('available');
    expect(trayStateOf([available('a', '2.0.0'), available('b', '2.0.1', true)])).toBe('critical');
    expect(trayStateOf([available('a', '2.0.1', true), failed('b')])).toBe('error');
    expect(trayStateOf([failed('b'), target('c', { kind: 'applying', version: '2.0.0', progress: progress(60) })])).toBe('working');
    expect(trayStateOf([target('c', { kind: 'rolling-back', to_version: '1.0.0', progress: progress(10) })])).toBe('working');
  });

  it('counts an update remembered in `available` even when the state is up-to-date', () => {
    const t = target('a', { kind: 'up-to-date', checked_at: CHECKED }, { available: { version: '3.0.0', is_critical: true } as ReleaseView });
    expect(trayStateOf([t])).toBe('critical');
  });

  it('names the icon file per state, with template images on macOS', () => {
    expect(trayIconFile('available', 'linux')).toBe('tray-available.png');
    expect(trayIconFile('available', 'win32')).toBe('tray-available.ico');
    expect(trayIconFile('critical', 'darwin')).toBe('tray-criticalTemplate.png');
    expect(trayIconFiles('working')).toEqual(['tray-working.png', 'tray-working@2x.png', 'tray-workingTemplate.png', 'tray-workingTemplate@2x.png', 'tray-working.ico']);
  });
});

describe('tooltip', () => {
  it('says what is going on', () => {
    expect(tooltipText([])).toBe('Upkeep — no targets configured');
    expect(tooltipText([upToDate('a')])).toBe('Upkeep — up to date');
    expect(tooltipText([upToDate('a'), available('b', '2.0.0')])).toBe('Upkeep — 1 update available');
    expect(tooltipText([available('a', '2.0.0'), available('b', '2.0.0')])).toBe('Upkeep — 2 updates available');
    expect(tooltipText([available('a', '2.0.0'), available('b', '2.0.0', true)])).toBe('Upkeep — 2 updates available (1 critical)');
    expect(tooltipText([available('b', '2.0.0', true)])).toBe('Upkeep — 1 critical update available');
    expect(tooltipText([target('demo', { kind: 'downloading', version: '2.0.0', progress: progress(41.6) })])).toBe('Upkeep — downloading demo 42%');
    expect(tooltipText([target('demo', { kind: 'rolling-back', to_version: '1.0.0', progress: progress(5) })])).toBe('Upkeep — rolling back demo 5%');
    // Downloading: the share of the bytes in (82 of 100), as the dashboard badge says, not the apply's 42 %.
    expect(tooltipText([target('demo', { kind: 'downloading', version: '2.0.0', progress: { ...progress(42), bytes_done: 82 } })])).toBe('Upkeep — downloading demo 82%');
    expect(tooltipText([failed('demo')])).toBe('Upkeep — update of demo failed');
    expect(tooltipText([failed('a'), failed('b')])).toBe('Upkeep — 2 targets need attention');
  });
});

describe('releases accepted without signatures', () => {
  const offered = (id: string, version: string, verification: VerificationLevel, is_critical = false): TargetView =>
    target(id, { kind: 'available', version, is_critical, is_breaking: false, checked_at: CHECKED }, { available: { version, is_critical, verification } as ReleaseView });

  it('says "unverified" (trust.none) and "checksums only" (trust.checksums_only) in the target entry and the update item', () => {
    const model = buildTrayMenuModel(input({ targets: [offered('gh', '2.0.0', 'none'), offered('eb', '3.1.0', 'checksums'), offered('signed', '1.2.0', 'signed')] }));
    expect(find(model, 'target:gh')).toMatchObject({ label: 'gh — update 2.0.0 available (unverified)' });
    expect(find(model, 'gh:apply')).toMatchObject({ label: 'Update to 2.0.0 (unverified)', action: { type: 'apply', target: 'gh', version: '2.0.0' } });
    expect(find(model, 'target:eb')).toMatchObject({ label: 'eb — update 3.1.0 available (checksums only)' });
    expect(find(model, 'eb:apply')).toMatchObject({ label: 'Update to 3.1.0 (checksums only)' });
    expect(find(model, 'target:signed')).toMatchObject({ label: 'signed — update 1.2.0 available' });
    expect(find(model, 'signed:apply')).toMatchObject({ label: 'Update to 1.2.0' });
    // Remembered in `available` while the state rests on up-to-date, and critical ones too.
    const resting = target('r', { kind: 'up-to-date', checked_at: CHECKED }, { available: { version: '4.0.0', is_critical: false, verification: 'none' } as ReleaseView });
    const critical = offered('c', '5.0.0', 'none', true);
    const m2 = buildTrayMenuModel(input({ targets: [resting, critical] }));
    expect(find(m2, 'target:r')).toMatchObject({ label: 'r — update 4.0.0 available (unverified)' });
    expect(find(m2, 'target:c')).toMatchObject({ label: 'c — critical update 5.0.0 available (unverified)' });
    expect(find(m2, 'status')).toMatchObject({ label: '2 updates available (1 critical, 2 unverified)' });
  });

  it('counts unverified updates in the tooltip', () => {
    expect(tooltipText([offered('gh', '2.0.0', 'none')])).toBe('Upkeep — 1 update available (unverified)');
    expect(tooltipText([offered('gh', '2.0.0', 'none', true)])).toBe('Upkeep — 1 critical update available (unverified)');
    expect(tooltipText([offered('gh', '2.0.0', 'none'), offered('x', '1.1.0', 'signed')])).toBe('Upkeep — 2 updates available (1 unverified)');
    expect(tooltipText([offered('gh', '2.0.0', 'checksums')])).toBe('Upkeep — 1 update available');
    expect(tooltipText([offered('gh', '2.0.0', 'signed')])).toBe('Upkeep — 1 update available');
  });
});

describe('menu model', () => {
  it('has the fixed entries in order', () => {
    const model = buildTrayMenuModel(input({ targets: [upToDate('a')] }));
    const ids = model.map((m) => (m.kind === 'separator' ? '-' : m.id));
    expect(ids).toEqual(['status', '-', 'check-now', '-', 'target:a', '-', 'open', 'pause', 'reload-config', 'show-config', '-', 'start-at-login', 'quit']);
    expect(find(model, 'check-now')).toMatchObject({ label: 'Check now', enabled: true, action: { type: 'check-now' } });
    expect(find(model, 'open')).toMatchObject({ action: { type: 'open', route: '#/' } });
    expect(find(model, 'reload-config')).toMatchObject({ action: { type: 'reload-config' } });
    expect(find(model, 'quit')).toMatchObject({ action: { type: 'quit' } });
  });

  it('gives each target update, rollback and apply-on-quit entries', () => {
    const demo = available('demo', '1.3.0');
    demo.points_count = 2;
    const model = buildTrayMenuModel(
      input({
        targets: [demo, upToDate('db')],
        latestPoints: { demo: point('demo', 'rb-2', '1.1.0', '1.2.0', '2025-01-10T00:00:00Z') },
        applyOnQuit: [{ target: 'demo', version: '1.3.0' }],
      }),
    );
    expect(find(model, 'target:demo')).toMatchObject({ kind: 'submenu', label: 'demo — update 1.3.0 available' });
    expect(find(model, 'demo:apply')).toMatchObject({ label: 'Update to 1.3.0', enabled: true, action: { type: 'apply', target: 'demo', version: '1.3.0' } });
    expect(find(model, 'demo:rollback')).toMatchObject({ label: 'Roll back to 1.1.0', enabled: true, action: { type: 'rollback', target: 'demo', rollback_id: 'rb-2' } });
    expect(find(model, 'demo:apply-on-quit')).toMatchObject({ kind: 'checkbox', label: 'Apply when I quit', checked: true, action: { type: 'toggle-apply-on-quit', target: 'demo', version: '1.3.0' } });
    expect(find(model, 'demo:open')).toMatchObject({ action: { type: 'open', route: '#/targets/demo' } });
    expect(find(model, 'db:apply')).toMatchObject({ label: 'No update available', enabled: false });
    expect(find(model, 'db:apply')).not.toHaveProperty('action');
    expect(find(model, 'db:rollback')).toMatchObject({ label: 'No rollback point', enabled: false });
    expect(find(model, 'db:apply-on-quit')).toBeUndefined();
  });

  it('does not say "No update available" after a failed check: nothing is known then', () => {
    const model = buildTrayMenuModel(input({ targets: [failed('b'), target('c', { kind: 'failed', error: { code: 'ERR_CANCELLED', message: 'cancelled' }, at: CHECKED })] }));
    expect(find(model, 'b:apply')).toMatchObject({ label: 'Update status unknown (last attempt failed)', enabled: false });
    expect(find(model, 'c:apply')).toMatchObject({ label: 'No update available', enabled: false });
  });

  it('disables update and rollback while the target is busy, and Check now when all are', () => {
    const busy = target('demo', { kind: 'applying', version: '1.3.0', progress: progress(70) }, { available: { version: '1.3.0', is_critical: false } as ReleaseView });
    const model = buildTrayMenuModel(input({ targets: [busy], latestPoints: { demo: point('demo', 'rb-1', '1.0.0', '1.2.0', CHECKED) } }));
    expect(find(model, 'demo:apply')).toMatchObject({ enabled: false });
    expect(find(model, 'demo:rollback')).toMatchObject({ enabled: false });
    expect(find(model, 'check-now')).toMatchObject({ enabled: false });
    expect(find(model, 'status')).toMatchObject({ label: 'applying demo', enabled: false });
    expect(find(model, 'target:demo')).toMatchObject({ label: 'demo — applying 1.3.0' });
  });

  it('offers pause choices and Resume only while paused', () => {
    const running = buildTrayMenuModel(input({ targets: [upToDate('a')] }));
    expect(find(running, 'pause')).toMatchObject({ label: 'Pause updates' });
    expect(find(running, 'pause:hour')).toMatchObject({ action: { type: 'pause', choice: 'hour' } });
    expect(find(running, 'pause:tomorrow')).toMatchObject({ action: { type: 'pause', choice: 'tomorrow' } });
    expect(find(running, 'pause:resume')).toMatchObject({ enabled: false });
    const a = upToDate('a');
    a.policy.paused_until = '2025-01-15T13:00:00Z';
    const paused = buildTrayMenuModel(input({ targets: [a] }));
    expect(find(paused, 'pause:resume')).toMatchObject({ enabled: true, action: { type: 'resume' } });
    expect((find(paused, 'pause') as { label: string }).label).toMatch(/^Updates paused until \d\d:\d\d$/);
  });

  it('counts as paused only when every target is paused in the future', () => {
    const a = upToDate('a');
    const b = upToDate('b');
    a.policy.paused_until = '2025-01-15T13:00:00Z';
    expect(pausedUntil([a, b], NOW)).toBeNull();
    b.policy.paused_until = '2025-01-15T12:30:00Z';
    expect(pausedUntil([a, b], NOW)?.toISOString()).toBe('2025-01-15T12:30:00.000Z');
    b.policy.paused_until = '2025-01-15T11:00:00Z';
    expect(pausedUntil([a, b], NOW)).toBeNull();
  });

  it('reflects the start-at-login setting as a checkbox', () => {
    expect(find(buildTrayMenuModel(input({ startAtLogin: true })), 'start-at-login')).toMatchObject({ kind: 'checkbox', checked: true, action: { type: 'toggle-start-at-login' } });
    expect(find(buildTrayMenuModel(input({ startAtLogin: false })), 'start-at-login')).toMatchObject({ checked: false });
  });

  it('has a startup-error menu with retry, config location and quit', () => {
    const m = buildStartupErrorMenuModel('targets.0.id: bad id');
    expect(find(m, 'status')).toMatchObject({ label: 'Not running: targets.0.id: bad id', enabled: false });
    expect(['retry-start', 'show-config', 'quit'].map((id) => (find(m, id) as { action: { type: string } }).action.type)).toEqual(['retry-start', 'show-config', 'quit']);
  });
});

describe('what the tray says in every state', () => {
  const p = progress(42);
  const cases: [TargetView['state'], string, string][] = [
    [{ kind: 'idle' }, 'demo — version 1.0.0', 'Upkeep — up to date'],
    [{ kind: 'checking' }, 'demo — checking…', 'Upkeep — up to date'],
    [{ kind: 'up-to-date', checked_at: CHECKED }, 'demo — up to date (1.0.0)', 'Upkeep — up to date'],
    [{ kind: 'available', version: '2.0.0', is_critical: false, is_breaking: false, checked_at: CHECKED }, 'demo — update 2.0.0 available', 'Upkeep — 1 update available'],
    [{ kind: 'available', version: '2.0.0', is_critical: true, is_breaking: false, checked_at: CHECKED }, 'demo — critical update 2.0.0 available', 'Upkeep — 1 critical update available'],
    [{ kind: 'downloading', version: '2.0.0', progress: p }, 'demo — downloading 2.0.0', 'Upkeep — downloading demo 42%'],
    [{ kind: 'verifying', version: '2.0.0', progress: p }, 'demo — verifying 2.0.0', 'Upkeep — verifying demo 42%'],
    [{ kind: 'applying', version: '2.0.0', progress: p }, 'demo — applying 2.0.0', 'Upkeep — applying demo 42%'],
    [{ kind: 'health-checking', version: '2.0.0', progress: p }, 'demo — checking health of 2.0.0', 'Upkeep — checking health of demo 42%'],
    [{ kind: 'rolling-back', to_version: '1.0.0', progress: p }, 'demo — rolling back to 1.0.0', 'Upkeep — rolling back demo 42%'],
    [{ kind: 'failed', error: { code: 'ERR_HASH_MISMATCH', message: 'hash mismatch' }, at: CHECKED }, 'demo — failed: hash mismatch', 'Upkeep — update of demo failed'],
  ];
  for (const [state, label, tooltip] of cases) {
    it(`${state.kind}${'is_critical' in state && state.is_critical ? ' (critical)' : ''}`, () => {
      const t = target('demo', state, { current_version: '1.0.0' });
      const model = buildTrayMenuModel(input({ targets: [t] }));
      expect(find(model, 'target:demo')).toMatchObject({ label });
      expect(tooltipText([t])).toBe(tooltip);
      // The menu carries no percentage: it changes with the phase, not with every progress event.
      expect(menuKey(buildTrayMenuModel(input({ targets: [target('demo', 'progress' in state ? { ...state, progress: progress(97) } : state, { current_version: '1.0.0' })] })))).toBe(menuKey(model));
    });
  }

  it('says a first-point rollback removes the installation', () => {
    const model = buildTrayMenuModel(input({ targets: [upToDate('demo')], latestPoints: { demo: point('demo', 'rb-1', null, '1.0.0', CHECKED) } }));
    expect(find(model, 'demo:rollback')).toMatchObject({ label: 'Remove demo (roll back to before 1.0.0)…' });
  });

  it('escapes & on Windows and Linux, fits Windows tooltips, names the first run', () => {
    expect(menuLabel('R&D tools — up to date', 'win32')).toBe('R&&D tools — up to date');
    expect(menuLabel('R&D', 'linux')).toBe('R&&D');
    expect(menuLabel('R&D', 'darwin')).toBe('R&D');
    const long = `Upkeep — update of ${'a very long target name '.repeat(8)}failed`;
    expect(fitTooltip(long, 'win32')).toHaveLength(WINDOWS_TOOLTIP_MAX);
    expect(fitTooltip(long, 'win32').endsWith('…')).toBe(true);
    expect(fitTooltip(long, 'linux')).toBe(long);
    expect(buildStartupErrorMenuModel('x: targets needs at least one target', { noTargets: true })[0]).toMatchObject({ label: 'No targets yet: add one to the configuration file' });
    expect(buildStartupErrorMenuModel('upkeep.yaml:3:1: bad\nmore')[0]).toMatchObject({ label: 'Not running: upkeep.yaml:3:1: bad' });
  });
});

describe('releases not applied automatically', () => {
  it('a version held after a rollback is said so, raises no update icon, and stays in the menu for an explicit apply', () => {
    const held = target('demo', { kind: 'available', version: '1.2.0', is_critical: true, is_breaking: false, checked_at: CHECKED }, { current_version: '1.1.0', held_version: '1.2.0' });
    expect(trayStateOf([held])).toBe('up-to-date');
    expect(tooltipText([held])).toBe('Upkeep — demo 1.2.0 held after rollback; apply it explicitly to install');
    const model = buildTrayMenuModel(input({ targets: [held] }));
    const sub = find(model, 'target:demo');
    expect(sub && sub.kind !== 'separator' ? sub.label : '').toBe('demo — 1.2.0 held after rollback; apply it explicitly to install');
    expect(find(model, 'demo:apply')).toMatchObject({ label: 'Update to 1.2.0', enabled: true, action: { type: 'apply', target: 'demo', version: '1.2.0' } });
  });

  it('a newer release than the held one is an ordinary update again', () => {
    const t = target('demo', { kind: 'available', version: '1.3.0', is_critical: false, is_breaking: false, checked_at: CHECKED }, { held_version: '1.2.0' });
    expect(trayStateOf([t])).toBe('available');
    expect(tooltipText([t])).toBe('Upkeep — 1 update available');
  });

  it('a release held back by a staged rollout is "rolling out", never "up to date"', () => {
    const t = target('demo', { kind: 'up-to-date', checked_at: CHECKED }, { current_version: '1.1.0', rollout_pending: { version: '1.2.0', percent: 25 } });
    expect(tooltipText([t])).toBe('Upkeep — demo 1.2.0 is rolling out; this machine is not yet in it');
    const sub = find(buildTrayMenuModel(input({ targets: [t] })), 'target:demo');
    expect(sub && sub.kind !== 'separator' ? sub.label : '').toBe('demo — 1.2.0 is rolling out; this machine is not yet in it');
    expect(JSON.stringify(buildTrayMenuModel(input({ targets: [t] })))).not.toContain('up to date');
  });
});
