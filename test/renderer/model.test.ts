import { describe, it, expect } from 'vitest';
import { formatBytes, formatDuration, formatRate, formatSeconds } from '../../src-shared/format';
import { parseHash, targetHref } from '../../src-renderer/router';
import { buildSettingsPatch, pauseUntilTomorrow, validateSettings, valuesFromPolicy } from '../../src-renderer/screens/settings-form';
import { statusLabel } from '../../src-renderer/status';
import { createUpkeepStore, MAX_LOG_LINES } from '../../src-renderer/store';
import { FakeApi, makeProgress, makeTarget } from './fake-api';

describe('formatting', () => {
  it('formats sizes, speeds and durations for people', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(5 * 1024 ** 3)).toBe('5 GiB');
    expect(formatRate(0)).toBe('—');
    expect(formatRate(2.25 * 1024 * 1024)).toBe('2.25 MiB/s');
    expect(formatSeconds(null)).toBe('—');
    expect(formatSeconds(3725)).toBe('1 h 2 min');
    expect(formatDuration(1234)).toBe('1.2 s');
  });
});

describe('status labels', () => {
  it('has one label per state kind', () => {
    const p = makeProgress({ phase: 'verify', percent: 41.6 });
    expect(statusLabel({ kind: 'idle' })).toBe('Not checked yet');
    // Downloading: the share of the bytes in (3 of 4 MiB), not of the whole operation.
    expect(statusLabel({ kind: 'downloading', version: '1', progress: makeProgress({ percent: 38, bytes_done: 3 * 1024 * 1024 }) })).toBe('Downloading 75%');
    // Never 100 % while a byte is missing; 100 % once all are in.
    expect(statusLabel({ kind: 'downloading', version: '1', progress: makeProgress({ percent: 50, bytes_done: 4 * 1024 * 1024 - 1 }) })).toBe('Downloading 99%');
    expect(statusLabel({ kind: 'downloading', version: '1', progress: makeProgress({ percent: 50, bytes_done: 4 * 1024 * 1024 }) })).toBe('Downloading 100%');
    expect(statusLabel({ kind: 'checking' })).toBe('Checking…');
    expect(statusLabel({ kind: 'verifying', version: '1', progress: p })).toBe('Verifying 42%');
    expect(statusLabel({ kind: 'applying', version: '1', progress: p }, makeProgress({ phase: 'switch', percent: 90 }))).toBe('Applying 90%');
    expect(statusLabel({ kind: 'health-checking', version: '1', progress: p })).toBe('Checking health');
    expect(statusLabel({ kind: 'rolling-back', to_version: '1', progress: p })).toBe('Rolling back 42%');
  });
});

describe('hash routes', () => {
  it('parses and builds stable addresses', () => {
    expect(parseHash('')).toEqual({ name: 'targets' });
    expect(parseHash('#/targets/demo/points')).toEqual({ name: 'target', id: 'demo', tab: 'points' });
    expect(parseHash('#/targets/my%20app')).toEqual({ name: 'target', id: 'my app', tab: 'overview' });
    expect(parseHash('#/logs')).toEqual({ name: 'logs' });
    expect(parseHash('#/targets/demo/bogus').name).toBe('not-found');
    expect(targetHref('my app', 'history')).toBe('#/targets/my%20app/history');
  });
});

describe('settings model', () => {
  it('sends nothing when nothing changed, and a window crossing midnight', () => {
    const policy = makeTarget().policy;
    const v = valuesFromPolicy(policy);
    expect(buildSettingsPatch(policy, v)).toEqual({});
    const next = { ...v, windowEnabled: true, days: ['sun', 'mon'], start: '23:00', end: '02:30', timezone: 'America/New_York' };
    expect(validateSettings(next)).toEqual({});
    expect(buildSettingsPatch(policy, next)).toEqual({ maintenance_window: { days: ['mon', 'sun'], start: '23:00', end: '02:30', timezone: 'America/New_York' } });
    expect(validateSettings({ ...next, timezone: 'Mars/Olympus' }).timezone).toBeTruthy();
    expect(validateSettings({ ...v, scheduleMode: 'cron', cron: '* *' }).cron).toBeTruthy();
    expect(buildSettingsPatch(policy, { ...v, scheduleMode: 'manual' })).toEqual({ check_interval_s: null });
  });

  it('pauses until the next local midnight', () => {
    const now = new Date(2025, 2, 10, 15, 30);
    const until = new Date(pauseUntilTomorrow(now));
    expect([until.getFullYear(), until.getMonth(), until.getDate(), until.getHours(), until.getMinutes()]).toEqual([2025, 2, 11, 0, 0]);
  });
});

describe('store', () => {
  it('keeps newer live progress over an older copy in a state event of the same phase', () => {
    const store = createUpkeepStore(new FakeApi());
    const s = store.getState();
    s.applyEvent({ type: 'state', target: makeTarget({ state: { kind: 'downloading', version: '1.1.0', progress: makeProgress({ percent: 10 }) } }) });
    s.applyEvent({ type: 'progress', target: 'demo', progress: makeProgress({ percent: 30 }) });
    s.applyEvent({ type: 'state', target: makeTarget({ name: 'Renamed', state: { kind: 'downloading', version: '1.1.0', progress: makeProgress({ percent: 10 }) } }) });
    expect(store.getState().progress.demo.percent).toBe(30);
    expect(store.getState().targets.demo.name).toBe('Renamed');
    s.applyEvent({ type: 'state', target: makeTarget({ state: { kind: 'up-to-date', checked_at: 'x' } }) });
    expect(store.getState().progress.demo).toBeUndefined();
  });

  it('bounds the log and merges fetched history with streamed lines', () => {
    const store = createUpkeepStore(new FakeApi());
    const s = store.getState();
    for (let i = 0; i < MAX_LOG_LINES + 10; i++) s.addLogLines([{ at: `2025-03-01T00:00:00.${String(i).padStart(4, '0')}Z`, level: 'info', message: `m${i}` }]);
    expect(store.getState().logs).toHaveLength(MAX_LOG_LINES);
    expect(store.getState().logs[0].message).toBe('m10');
    const streamed = createUpkeepStore(new FakeApi());
    streamed.getState().addLogLines([{ at: '2025-03-01T00:00:05Z', level: 'info', message: 'live' }]);
    streamed.getState().setLogHistory([
      { at: '2025-03-01T00:00:01Z', level: 'info', message: 'old' },
      { at: '2025-03-01T00:00:05Z', level: 'info', message: 'live' },
    ]);
    expect(streamed.getState().logs.map((l) => l.message)).toEqual(['old', 'live']);
  });
});
