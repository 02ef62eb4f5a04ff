// @vitest-environment jsdom
import { describe, it, expect } from 'vitest';
import { act, within } from '@testing-library/react';
import { ApiError } from '../../src-shared/api';
import { FakeApi, makeHistory, makePoint, makeProgress, makeRelease, makeTarget } from './fake-api';
import { renderApp, screen } from './dom-setup';

describe('targets overview', () => {
  it('shows each target with its status badge and versions', async () => {
    const api = new FakeApi([
      makeTarget(),
      makeTarget({ id: 'db', name: 'Database', current_version: '15.2', available: null }),
      makeTarget({ id: 'proxy', name: 'Proxy', available: makeRelease({ version: '3.0.1', is_critical: true }) }),
      makeTarget({ id: 'ai', name: 'AI', available: null, state: { kind: 'failed', error: { code: 'ERR_HASH_MISMATCH', message: 'Hash mismatch' }, at: '2025-03-01T00:00:00Z' } }),
      makeTarget({ id: 'dl', name: 'Downloader', state: { kind: 'downloading', version: '1.1.0', progress: makeProgress({ percent: 42, bytes_done: 3.28 * 1024 * 1024 }) } }),
    ]);
    renderApp(api);
    const cards = await screen.findAllByTestId('target-card');
    expect(cards).toHaveLength(5);
    const card = (id: string) => cards.find((c) => c.dataset.targetId === id)!;
    expect(within(card('demo')).getByTestId('status-badge').textContent).toBe('Update available');
    expect(within(card('demo')).getByTestId('current-version').textContent).toBe('1.0.0');
    expect(within(card('demo')).getByTestId('available-version').textContent).toBe('1.1.0');
    expect(within(card('db')).getByTestId('status-badge').textContent).toBe('Up to date');
    expect(within(card('db')).getByTestId('available-version').textContent).toBe('None');
    expect(within(card('proxy')).getByTestId('status-badge').textContent).toBe('Critical update');
    // Said once: the status badge says "Critical update", no second "Critical" flag beside it.
    expect(within(card('proxy')).queryByTestId('critical-badge')).toBeNull();
    expect(within(card('ai')).getByTestId('status-badge').textContent).toBe('Failed: ERR_HASH_MISMATCH');
    expect(within(card('dl')).getByTestId('status-badge').textContent).toBe('Downloading 82%');
    expect(within(card('dl')).getByTestId('status-badge').dataset.state).toBe('downloading');
    const link = within(card('demo')).getByRole('link', { name: 'Demo Service' });
    expect(link.getAttribute('href')).toBe('#/targets/demo');
  });

  it('replaces a target when a state event arrives', async () => {
    const api = new FakeApi();
    renderApp(api);
    const badge = await screen.findByTestId('status-badge');
    expect(badge.textContent).toBe('Update available');
    act(() => {
      api.update('demo', { current_version: '1.1.0', available: null, state: { kind: 'up-to-date', checked_at: '2025-03-03T00:00:00Z' } });
    });
    expect(screen.getByTestId('status-badge').textContent).toBe('Up to date');
    expect(screen.getByTestId('current-version').textContent).toBe('1.1.0');
  });

  it('has a deliberate empty state and a load error with its code', async () => {
    const empty = new FakeApi([]);
    const { unmount } = renderApp(empty);
    expect((await screen.findByTestId('empty-targets')).textContent).toContain('No targets configured');
    unmount();

    const broken = new FakeApi();
    broken.fail('listTargets', new ApiError('ERR_CONFIG_INVALID', 'targets[0].feed: required', 400));
    renderApp(broken);
    const error = await screen.findByTestId('error-message');
    expect(error.textContent).toContain('targets[0].feed: required (ERR_CONFIG_INVALID)');
  });

  it('shows the offline banner while the event stream is down and reloads on reconnect', async () => {
    const api = new FakeApi();
    renderApp(api);
    await screen.findByTestId('target-card');
    expect(screen.queryByTestId('offline-banner')).toBeNull();
    act(() => api.setConnection('offline'));
    expect(screen.getByTestId('offline-banner').textContent).toContain('disconnected');
    const before = api.callsOf('listTargets').length;
    await act(async () => api.setConnection('online'));
    expect(screen.queryByTestId('offline-banner')).toBeNull();
    expect(api.callsOf('listTargets').length).toBe(before + 1);
  });
});

describe('target page', () => {
  it('shows versions, flags, rendered release notes and the actions', async () => {
    const api = new FakeApi([
      makeTarget({
        available: makeRelease({ version: '2.0.0', is_critical: true, is_breaking: true, breaking_changes: ['Config key `port` renamed'], release_notes: '# Big release\n\nThis is **bold**.' }),
      }),
    ]);
    renderApp(api, '#/targets/demo');
    expect((await screen.findByTestId('target-name')).textContent).toBe('Demo Service');
    expect(screen.getByTestId('current-version').textContent).toBe('1.0.0');
    expect(screen.getAllByTestId('available-version')[0].textContent).toBe('2.0.0');
    expect(screen.getByTestId('status-badge').textContent).toBe('Critical update');
    expect(screen.queryByTestId('critical-badge')).toBeNull();
    expect(screen.getByTestId('breaking-badge')).toBeTruthy();
    expect(screen.getByText('Config key `port` renamed')).toBeTruthy();
    const notes = screen.getByTestId('release-notes');
    expect(within(notes).getByRole('heading', { name: 'Big release' })).toBeTruthy();
    expect(notes.querySelector('strong')?.textContent).toBe('bold');
    for (const name of ['Check now', 'Verify only', 'Apply', 'Skip this version']) expect(screen.getByRole('button', { name })).toBeTruthy();
    expect(screen.getByRole('link', { name: 'Rollback points' }).getAttribute('href')).toBe('#/targets/demo/points');
  });

  it('says the installed version is unknown when the state files cannot be read, "—" when nothing is installed', async () => {
    const file = '/var/lib/upkeep/targets/demo/installed.json';
    const error = { code: 'ERR_STATE_CORRUPT', message: `Corrupt state file ${file}: version: expected string`, details: { file } };
    const api = new FakeApi([
      makeTarget({ current_version: null, last_error: error, state: { kind: 'failed', error, at: '2025-03-01T00:00:00Z' } }),
      makeTarget({ id: 'fresh', name: 'Fresh', current_version: null }),
    ]);
    const { unmount } = renderApp(api, '#/');
    const cards = await screen.findAllByTestId('target-card');
    const version = (id: string) => within(cards.find((c) => c.getAttribute('data-target-id') === id)!).getByTestId('current-version').textContent;
    expect(version('demo')).toBe('unknown');
    expect(version('fresh')).toBe('—');
    unmount();
    renderApp(api, '#/targets/demo');
    expect((await screen.findByTestId('current-version')).textContent).toBe('unknown');
  });

  it('shows an unknown target as an error with its code', async () => {
    const api = new FakeApi();
    renderApp(api, '#/targets/nope');
    const error = await screen.findByTestId('error-message');
    expect(error.textContent).toContain('Unknown target: nope (ERR_TARGET_NOT_FOUND)');
  });

  it('shows a failed state with the engine message and code', async () => {
    const api = new FakeApi([
      makeTarget({ state: { kind: 'failed', error: { code: 'ERR_HASH_MISMATCH', message: 'Hash mismatch for file: bin/demo' }, at: '2025-03-01T00:00:00Z' } }),
    ]);
    renderApp(api, '#/targets/demo');
    const error = await screen.findByTestId('error-message');
    expect(error.textContent).toContain('Hash mismatch for file: bin/demo (ERR_HASH_MISMATCH)');
    expect(error.getAttribute('role')).toBe('alert');
    expect(within(error).getByTestId('error-code').textContent).toBe('ERR_HASH_MISMATCH');
  });

  it('lists rollback points, or says there are none yet', async () => {
    const api = new FakeApi([makeTarget({ points_count: 2 })]);
    api.points.demo = [makePoint(), makePoint({ rollback_id: 'rb-2', from_version: '0.8.0', to_version: '0.9.0', size_bytes: 1536 })];
    const { unmount } = renderApp(api, '#/targets/demo/points');
    const rows = await screen.findAllByTestId('rollback-point');
    expect(rows).toHaveLength(2);
    expect(within(rows[0]).getByTestId('point-from').textContent).toBe('0.9.0');
    expect(within(rows[0]).getByTestId('point-to').textContent).toBe('1.0.0');
    expect(rows[0].textContent).toContain('3 MiB');
    expect(rows[1].textContent).toContain('1.5 KiB');
    expect(within(rows[1]).getByRole('button', { name: /Roll back to 0\.8\.0/ })).toBeTruthy();
    // Below 640 px each cell is a two-column grid (label, value): every cell must hold exactly one
    // node (one element, or one text), or the arrow and the rollback id land in the label column.
    for (const row of rows) {
      for (const cell of Array.from(row.querySelectorAll('td'))) {
        const nodes = Array.from(cell.childNodes).filter((n) => n.nodeType === 1 || (n.nodeType === 3 && (n.textContent ?? '').trim() !== ''));
        expect(nodes, `cell ${cell.getAttribute('data-label')}`).toHaveLength(1);
      }
    }
    unmount();

    const none = new FakeApi();
    renderApp(none, '#/targets/demo/points');
    expect((await screen.findByTestId('points-empty')).textContent).toContain('No rollback points yet');
  });

  it('lists a damaged rollback point with its error and no button; the older points cannot be rolled back to', async () => {
    const api = new FakeApi([makeTarget({ points_count: 3 })]);
    const file = '/var/lib/upkeep/points/demo/rb-2/point.json';
    api.points.demo = [
      makePoint({ rollback_id: 'rb-3', from_version: '1.0.0', to_version: '1.1.0' }),
      makePoint({ rollback_id: 'rb-2', from_version: null, to_version: '', size_bytes: 0, files: 0, error: { code: 'ERR_STATE_CORRUPT', message: `Corrupt state file ${file}: to_version: expected string`, details: { file } } }),
      makePoint({ rollback_id: 'rb-1', from_version: '0.8.0', to_version: '0.9.0' }),
    ];
    renderApp(api, '#/targets/demo/points');
    const rows = await screen.findAllByTestId('rollback-point');
    expect(rows.map((r) => r.getAttribute('data-rollback-id'))).toEqual(['rb-3', 'rb-2', 'rb-1']);
    const damaged = rows[1]!;
    expect(damaged.getAttribute('data-damaged')).toBe('true');
    expect(within(damaged).getByTestId('error-message').textContent).toContain(`Damaged rollback point`);
    expect(within(damaged).getByTestId('error-text').textContent).toContain(`Corrupt state file ${file}`);
    expect(within(damaged).getByTestId('error-code').textContent).toBe('ERR_STATE_CORRUPT');
    expect(within(damaged).queryByTestId('rollback-button')).toBeNull();
    expect((within(rows[0]!).getByTestId('rollback-button') as HTMLButtonElement).disabled).toBe(false);
    const older = within(rows[2]!).getByTestId('rollback-button') as HTMLButtonElement;
    expect(older.disabled).toBe(true);
    expect(older.title).toContain('damaged');
  });

  it('shows the history table with result, error code and duration', async () => {
    const api = new FakeApi();
    api.records = [
      makeHistory(),
      makeHistory({ id: 'h-2', started_at: '2025-03-02T12:00:00Z', result: 'rolled_back', error_code: 'ERR_HEALTH_CHECK_FAILED', error_message: 'GET /health returned 503', from_version: '1.0.0', to_version: '1.1.0', actor: 'scheduler', duration_ms: 400 }),
    ];
    renderApp(api, '#/targets/demo/history');
    const rows = await screen.findAllByTestId('history-row');
    expect(rows).toHaveLength(2);
    // newest first
    expect(rows[0].dataset.result).toBe('rolled_back');
    expect(rows[0].textContent).toContain('Rolled back');
    expect(rows[0].textContent).toContain('scheduler');
    expect(rows[0].textContent).toContain('1.0.0 → 1.1.0');
    expect(within(rows[0]).getByTestId('history-error-code').textContent).toBe('ERR_HEALTH_CHECK_FAILED');
    expect(rows[0].textContent).toContain('0.4 s');
    expect(rows[1].textContent).toContain('Succeeded');
    expect(rows[1].textContent).toContain('4.2 s');
    expect(api.callsOf('history')[0]).toEqual(['demo', 100]);
  });

  it('an apply that kept a locally edited file names the copy under "Details", not under an "Error" heading after "—"', async () => {
    const api = new FakeApi();
    api.records = [makeHistory({ local_copies: [{ path: 'config/app.conf', kept_as: 'config/app.conf.local-2025-03-02' }] })];
    renderApp(api, '#/targets/demo/history');
    const [row] = await screen.findAllByTestId('history-row');
    expect(screen.getAllByRole('columnheader').map((h) => h.textContent)).toEqual(['When', 'Operation', 'Actor', 'From → to', 'Result', 'Details', 'Duration']);
    const cell = within(row!).getByTestId('history-local-copy').closest('td')!;
    expect(cell.dataset.label).toBe('Details');
    expect(cell.textContent).toBe('config/app.conf was edited locally; your copy is kept as config/app.conf.local-2025-03-02');
  });

  it('says what a check found, never "1.0.0 → 1.2.0" as if it had installed it', async () => {
    const api = new FakeApi();
    api.records = [
      makeHistory({ id: 'c-1', operation: 'check', actor: 'scheduler', from_version: '1.0.0', to_version: '1.2.0', started_at: '2025-03-03T12:00:00Z' }),
      makeHistory({ id: 'c-2', operation: 'check', actor: 'api', from_version: '1.0.0', to_version: null, result: 'up_to_date', started_at: '2025-03-02T12:00:00Z' }),
      makeHistory({ id: 'c-3', operation: 'check', actor: 'cli', from_version: null, to_version: '1.0.0', started_at: '2025-03-01T12:00:00Z' }),
    ];
    renderApp(api, '#/targets/demo/history');
    const rows = await screen.findAllByTestId('history-row');
    const versions = rows.map((r) => r.querySelector('td[data-label="From → to"]')!.textContent);
    expect(versions).toEqual(['1.0.0 installed; found 1.2.0', '1.0.0 installed', 'nothing installed; found 1.0.0']);
  });

  it('shows the settings of the target in the form', async () => {
    const api = new FakeApi([
      makeTarget({
        policy: {
          ...makeTarget().policy,
          channel: 'beta',
          check_schedule: '0 3 * * *',
          check_interval_s: null,
          maintenance_window: { days: ['sat', 'sun'], start: '22:00', end: '04:00', timezone: 'Europe/Berlin' },
          auto_apply: 'critical',
          auto_download: true,
          skip_versions: ['1.0.5'],
        },
      }),
    ]);
    renderApp(api, '#/targets/demo/settings');
    expect(((await screen.findByLabelText('Channel')) as HTMLInputElement).value).toBe('beta');
    expect((screen.getByLabelText('Cron schedule') as HTMLInputElement).value).toBe('0 3 * * *');
    // The three ways to check, each a whole phrase (not "Every…").
    expect((screen.getByLabelText('On a cron schedule') as HTMLInputElement).checked).toBe(true);
    expect((screen.getByLabelText('At a fixed interval') as HTMLInputElement).checked).toBe(false);
    expect((screen.getByLabelText('Only when I ask') as HTMLInputElement).checked).toBe(false);
    expect((screen.getByTestId('setting-window-enabled') as HTMLInputElement).checked).toBe(true);
    expect((screen.getByLabelText('Saturday') as HTMLInputElement).checked).toBe(true);
    expect((screen.getByLabelText('Monday') as HTMLInputElement).checked).toBe(false);
    expect((screen.getByLabelText('Start') as HTMLInputElement).value).toBe('22:00');
    expect((screen.getByLabelText('Time zone') as HTMLInputElement).value).toBe('Europe/Berlin');
    expect((screen.getByLabelText('Apply automatically') as HTMLSelectElement).value).toBe('critical');
    expect((screen.getByTestId('setting-auto-download') as HTMLInputElement).checked).toBe(true);
    expect(screen.getByTestId('skip-list').textContent).toContain('1.0.5');
    expect((screen.getByTestId('settings-save') as HTMLButtonElement).disabled).toBe(true);
  });
});

describe('logs view', () => {
  it('shows recent lines, then streamed ones, filtered by level', async () => {
    const api = new FakeApi();
    api.logLines = [
      { at: '2025-03-01T10:00:00Z', level: 'info', message: 'daemon started' },
      { at: '2025-03-01T10:00:01Z', level: 'debug', message: 'polling feed' },
    ];
    renderApp(api, '#/logs');
    const lines = await screen.findAllByTestId('log-line');
    expect(lines.map((l) => l.textContent)).toEqual([expect.stringContaining('daemon started')]);
    act(() => api.emit({ type: 'log', line: { at: '2025-03-01T10:00:05Z', level: 'error', message: 'feed unreachable', target: 'demo' } }));
    expect(screen.getAllByTestId('log-line').map((l) => l.textContent)).toEqual([expect.stringContaining('daemon started'), expect.stringContaining('feed unreachable')]);
    const { fireEvent } = await import('@testing-library/react');
    fireEvent.change(screen.getByLabelText('Level'), { target: { value: 'debug' } });
    expect(screen.getAllByTestId('log-line')).toHaveLength(3);
    fireEvent.change(screen.getByLabelText('Level'), { target: { value: 'error' } });
    expect(screen.getAllByTestId('log-line')).toHaveLength(1);
  });
});

describe('notifications', () => {
  it('turns notification events into toasts, errors with their code', async () => {
    const api = new FakeApi();
    renderApp(api);
    await screen.findByTestId('target-card');
    act(() =>
      api.emit({
        type: 'notification',
        notification: { type: 'update_failed', target: 'demo', at: '2025-03-01T00:00:00Z', message: 'Update to 1.1.0 failed', error: { code: 'ERR_HOOK_FAILED', message: 'smoke hook exited 1' } },
      }),
    );
    const toast = screen.getByTestId('toast');
    expect(toast.dataset.level).toBe('error');
    expect(toast.getAttribute('role')).toBe('alert');
    expect(toast.textContent).toContain('Update to 1.1.0 failed (ERR_HOOK_FAILED)');
  });
});
