// @vitest-environment jsdom
import { describe, it, expect } from 'vitest';
import { act, fireEvent, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { ApiError } from '../../src-shared/api';
import { FakeApi, makePoint, makeProgress, makeRelease, makeTarget } from './fake-api';
import { renderApp, screen } from './dom-setup';

describe('apply with live progress', () => {
  it('calls apply, follows progress events on the bar, and shows the new version when done', async () => {
    const user = userEvent.setup();
    const api = new FakeApi();
    const release = api.hold('apply');
    renderApp(api, '#/targets/demo');
    await user.click(await screen.findByRole('button', { name: 'Apply' }));
    expect(api.callsOf('apply')).toEqual([['demo', { version: '1.1.0' }]]);

    act(() => api.update('demo', { state: { kind: 'downloading', version: '1.1.0', progress: makeProgress({ percent: 5, bytes_done: 0.2 * 1024 * 1024 }) } }));
    const bar = screen.getByRole('progressbar');
    expect(bar.getAttribute('aria-valuenow')).toBe('5');
    // The badge says how much of the download is in (0.2 of 4 MiB); the bar, the whole apply.
    expect(screen.getByTestId('status-badge').textContent).toBe('Downloading 5%');

    act(() =>
      api.emit({ type: 'progress', target: 'demo', progress: makeProgress({ percent: 42, bytes_done: 3.28 * 1024 * 1024, eta_s: 65, speed_bps: 2 * 1024 * 1024 }) }),
    );
    expect(screen.getByRole('progressbar').getAttribute('aria-valuenow')).toBe('42');
    expect(screen.getByTestId('progress-percent').textContent).toBe('42%');
    expect(screen.getByTestId('progress-bytes').textContent).toBe('3.28 MiB of 4 MiB');
    expect(screen.getByTestId('progress-panel').textContent).toContain('2 MiB/s');
    expect(screen.getByTestId('progress-panel').textContent).toContain('1 min 5 s');
    // 82 % of the bytes are in while the apply as a whole is at 42 %: the badge says the former.
    expect(screen.getByTestId('status-badge').textContent).toBe('Downloading 82%');
    // Beside "Downloading 82%", the panel's 42 % is named as the whole apply's, never "Done".
    expect(screen.getByTestId('progress-percent').previousElementSibling?.textContent).toBe('Overall');
    // buttons that would start another operation are disabled meanwhile
    expect((screen.getByRole('button', { name: 'Check now' }) as HTMLButtonElement).disabled).toBe(true);

    act(() => api.update('demo', { state: { kind: 'applying', version: '1.1.0', progress: makeProgress({ phase: 'switch', percent: 80, cancellable: false, file: 'bin/demo' }) } }));
    expect(screen.getByRole('progressbar').getAttribute('aria-valuenow')).toBe('80');
    expect(screen.getByTestId('progress-phase').textContent).toBe('Switching');

    act(() => api.update('demo', { current_version: '1.1.0', available: null, state: { kind: 'up-to-date', checked_at: '2025-03-03T00:00:00Z' } }));
    await act(async () => release());
    await waitFor(() => expect(screen.getByTestId('operation-result').textContent).toContain('Updated from 1.0.0 to 1.1.0.'));
    expect(screen.queryByRole('progressbar')).toBeNull();
    expect(screen.getByTestId('current-version').textContent).toBe('1.1.0');
    expect(screen.getByTestId('status-badge').textContent).toBe('Up to date');
    expect(screen.getByTestId('live-status').textContent).toContain('Demo Service: Up to date');
  });

  it('lists touched files on demand', async () => {
    const user = userEvent.setup();
    const api = new FakeApi([makeTarget({ state: { kind: 'applying', version: '1.1.0', progress: makeProgress({ phase: 'stage', file: 'bin/a' }) } })]);
    renderApp(api, '#/targets/demo');
    await screen.findByTestId('progress-panel');
    expect(screen.queryByTestId('progress-files')).toBeNull();
    act(() => api.emit({ type: 'progress', target: 'demo', progress: makeProgress({ phase: 'stage', file: 'bin/b' }) }));
    await user.click(screen.getByRole('button', { name: 'Show files' }));
    const files = screen.getByTestId('progress-files');
    expect(files.textContent).toContain('bin/a');
    expect(files.textContent).toContain('done');
    expect(files.textContent).toContain('bin/b');
    expect(screen.getByRole('button', { name: 'Hide files' }).getAttribute('aria-expanded')).toBe('true');
  });

  it('offers Cancel only while the progress is cancellable, and calls cancel', async () => {
    const user = userEvent.setup();
    const api = new FakeApi([makeTarget({ state: { kind: 'downloading', version: '1.1.0', progress: makeProgress({ cancellable: true }) } })]);
    renderApp(api, '#/targets/demo');
    await user.click(await screen.findByRole('button', { name: 'Cancel' }));
    expect(api.callsOf('cancel')).toEqual([['demo']]);
    act(() => api.emit({ type: 'progress', target: 'demo', progress: makeProgress({ phase: 'backup', cancellable: false, percent: 60 }) }));
    expect(screen.queryByRole('button', { name: /Cancel/ })).toBeNull();
    expect(screen.queryByTestId('cancel-button')).toBeNull();
  });

  it('runs Verify only with verify_only and reports that nothing changed', async () => {
    const user = userEvent.setup();
    const api = new FakeApi();
    renderApp(api, '#/targets/demo');
    await user.click(await screen.findByRole('button', { name: 'Verify only' }));
    expect(api.callsOf('apply')).toEqual([['demo', { version: '1.1.0', verify_only: true }]]);
    expect((await screen.findByTestId('operation-result')).textContent).toContain('Nothing was changed');
  });

  it('shows a failed apply with the engine message and code', async () => {
    const user = userEvent.setup();
    const api = new FakeApi();
    api.fail('apply', new ApiError('ERR_HASH_MISMATCH', 'Hash mismatch for file: bin/demo', 422));
    renderApp(api, '#/targets/demo');
    await user.click(await screen.findByRole('button', { name: 'Apply' }));
    const result = await screen.findByTestId('operation-result');
    expect(result.dataset.ok).toBe('false');
    expect(within(result).getByRole('alert').textContent).toContain('Hash mismatch for file: bin/demo (ERR_HASH_MISMATCH)');
  });

  it('shows a rolled-back apply result with its error', async () => {
    const user = userEvent.setup();
    const api = new FakeApi();
    api.fail('apply', new ApiError('ERR_HEALTH_CHECK_FAILED', 'Health check failed after 3 attempts', 500, {
      rolled_back: true, to_version: '1.1.0', rolled_back_to: '1.0.0', cause: { code: 'ERR_HEALTH_CHECK_FAILED', message: 'Health check failed after 3 attempts' },
    }));
    renderApp(api, '#/targets/demo');
    await user.click(await screen.findByRole('button', { name: 'Apply' }));
    const result = await screen.findByTestId('operation-result');
    expect(result.textContent).toContain('failed and was rolled back to 1.0.0');
    expect(result.textContent).toContain('Health check failed after 3 attempts (ERR_HEALTH_CHECK_FAILED)');
  });

  it('skips the version and checks on request', async () => {
    const user = userEvent.setup();
    const api = new FakeApi();
    renderApp(api, '#/targets/demo');
    await user.click(await screen.findByRole('button', { name: 'Skip this version' }));
    expect(api.callsOf('skipVersion')).toEqual([['demo', '1.1.0']]);
    await waitFor(() => expect((screen.getByRole('button', { name: 'Skip this version' }) as HTMLButtonElement).disabled).toBe(true));
    await user.click(screen.getByRole('button', { name: 'Check now' }));
    expect(api.callsOf('check')).toEqual([['demo']]);
    expect((await screen.findByTestId('operation-result')).textContent).toContain('Version 1.1.0 is available');
  });
});

describe('skip this version', () => {
  it('says which older release the engine offers instead', async () => {
    const user = userEvent.setup();
    const newest = makeRelease({ version: '1.2.0', is_critical: true });
    const older = makeRelease({ version: '1.1.0' });
    const api = new FakeApi([makeTarget({ available: newest })]);
    api.releaseLists.demo = { eligible: [newest, older] };
    api.afterSkip.demo = { available: older, state: { kind: 'available', version: '1.1.0', is_critical: false, is_breaking: false, checked_at: '2025-03-02T09:00:00Z' } };
    renderApp(api, '#/targets/demo');
    await user.click(await screen.findByRole('button', { name: 'Skip this version' }));
    expect(api.callsOf('skipVersion')).toEqual([['demo', '1.2.0']]);
    const result = (await screen.findByTestId('operation-result')).textContent;
    expect(result).toContain('Version 1.2.0 will be skipped. 1.1.0 is offered instead.');
    expect(result).not.toContain('newer release');
    expect(screen.getByTestId('available-version').textContent).toBe('1.1.0');
  });

  it('says up to date when no other release is newer than the installed one', async () => {
    const user = userEvent.setup();
    const api = new FakeApi();
    api.afterSkip.demo = { available: null, state: { kind: 'up-to-date', checked_at: '2025-03-02T09:00:00Z' } };
    renderApp(api, '#/targets/demo');
    await user.click(await screen.findByRole('button', { name: 'Skip this version' }));
    expect((await screen.findByTestId('operation-result')).textContent).toContain('Version 1.1.0 will be skipped. No other release is newer than 1.0.0: up to date.');
  });
});

describe('rollback', () => {
  function setup() {
    const api = new FakeApi([makeTarget({ points_count: 2, current_version: '1.0.0' })]);
    api.points.demo = [makePoint({ rollback_id: 'rb-new', from_version: '0.9.0', to_version: '1.0.0' }), makePoint({ rollback_id: 'rb-old', from_version: '0.8.0', to_version: '0.9.0' })];
    return api;
  }

  it('confirming the dialog rolls back to the chosen point', async () => {
    const user = userEvent.setup();
    const api = setup();
    renderApp(api, '#/targets/demo/points');
    const rows = await screen.findAllByTestId('rollback-point');
    const opener = within(rows[1]).getByRole('button', { name: /Roll back/ });
    await user.click(opener);
    const dialog = screen.getByRole('dialog');
    expect(dialog.getAttribute('aria-modal')).toBe('true');
    expect(within(dialog).getByRole('heading').textContent).toBe('Roll back Demo Service to 0.8.0?');
    await user.click(within(dialog).getByRole('button', { name: 'Roll back' }));
    expect(api.callsOf('rollback')).toEqual([['demo', 'rb-old']]);
    expect(screen.queryByRole('dialog')).toBeNull();
    expect((await screen.findByTestId('operation-result')).textContent).toContain('Rolled back from 0.9.0 to 0.8.0');
  });

  it('Cancel and Escape close the dialog without rolling back, and focus returns', async () => {
    const user = userEvent.setup();
    const api = setup();
    renderApp(api, '#/targets/demo/points');
    const rows = await screen.findAllByTestId('rollback-point');
    const opener = within(rows[0]).getByRole('button', { name: /Roll back/ });
    await user.click(opener);
    await user.click(within(screen.getByRole('dialog')).getByRole('button', { name: 'Cancel' }));
    expect(screen.queryByRole('dialog')).toBeNull();
    expect(document.activeElement).toBe(opener);

    await user.click(opener);
    expect(screen.getByRole('dialog')).toBeTruthy();
    await user.keyboard('{Escape}');
    expect(screen.queryByRole('dialog')).toBeNull();
    expect(api.callsOf('rollback')).toEqual([]);
  });

  it('traps focus inside the dialog', async () => {
    const user = userEvent.setup();
    const api = setup();
    renderApp(api, '#/targets/demo/points');
    const rows = await screen.findAllByTestId('rollback-point');
    await user.click(within(rows[0]).getByRole('button', { name: /Roll back/ }));
    const dialog = screen.getByRole('dialog');
    const cancel = within(dialog).getByRole('button', { name: 'Cancel' });
    const confirm = within(dialog).getByRole('button', { name: 'Roll back' });
    expect(document.activeElement).toBe(cancel);
    await user.tab();
    expect(document.activeElement).toBe(confirm);
    await user.tab();
    expect(document.activeElement).toBe(cancel);
    await user.tab({ shift: true });
    expect(document.activeElement).toBe(confirm);
  });
});

describe('settings form', () => {
  it('sends only what changed', async () => {
    const user = userEvent.setup();
    const api = new FakeApi();
    renderApp(api, '#/targets/demo/settings');
    const channel = await screen.findByLabelText('Channel');
    await user.clear(channel);
    await user.type(channel, 'beta');
    await user.click(screen.getByTestId('schedule-cron'));
    await user.type(screen.getByLabelText('Cron schedule'), '0 3 * * *');
    await user.click(screen.getByTestId('setting-window-enabled'));
    await user.click(screen.getByLabelText('Saturday'));
    await user.click(screen.getByLabelText('Sunday'));
    fireEvent.change(screen.getByLabelText('Start'), { target: { value: '22:00' } });
    fireEvent.change(screen.getByLabelText('End'), { target: { value: '04:00' } });
    const tz = screen.getByLabelText('Time zone');
    await user.clear(tz);
    await user.type(tz, 'Europe/Berlin');
    await user.click(screen.getByTestId('setting-auto-download'));
    await user.selectOptions(screen.getByLabelText('Apply automatically'), 'critical');
    await user.click(screen.getByRole('button', { name: 'Save settings' }));
    expect(api.callsOf('updateSettings')).toEqual([
      [
        'demo',
        {
          channel: 'beta',
          check_schedule: '0 3 * * *',
          check_interval_s: null,
          maintenance_window: { days: ['sat', 'sun'], start: '22:00', end: '04:00', timezone: 'Europe/Berlin' },
          auto_download: true,
          auto_apply: 'critical',
        },
      ],
    ]);
    expect((await screen.findByTestId('settings-saved')).textContent).toBe('Settings saved.');
    expect((screen.getByLabelText('Channel') as HTMLInputElement).value).toBe('beta');
  });

  it('sends an interval in seconds and refuses invalid input', async () => {
    const user = userEvent.setup();
    const api = new FakeApi();
    renderApp(api, '#/targets/demo/settings');
    const interval = await screen.findByLabelText('Interval');
    await user.clear(interval);
    await user.click(screen.getByRole('button', { name: 'Save settings' }));
    expect(screen.getByText('Enter a number greater than 0.')).toBeTruthy();
    expect(interval.getAttribute('aria-invalid')).toBe('true');
    expect(api.callsOf('updateSettings')).toEqual([]);
    await user.type(interval, '30');
    await user.selectOptions(screen.getByLabelText('Interval unit'), 'minutes');
    await user.click(screen.getByRole('button', { name: 'Save settings' }));
    expect(api.callsOf('updateSettings')).toEqual([['demo', { check_interval_s: 1800 }]]);
  });

  it('pauses, resumes, and edits the skip list', async () => {
    const user = userEvent.setup();
    const api = new FakeApi([makeTarget({ policy: { ...makeTarget().policy, skip_versions: ['1.0.5'] } })]);
    renderApp(api, '#/targets/demo/settings');
    await user.click(await screen.findByRole('button', { name: 'Pause 1 hour' }));
    const [[id, patch]] = api.callsOf('updateSettings') as [[string, { paused_until: string }]];
    expect(id).toBe('demo');
    const until = Date.parse(patch.paused_until);
    expect(until - Date.now()).toBeGreaterThan(59 * 60_000);
    expect(until - Date.now()).toBeLessThanOrEqual(60 * 60_000);
    await waitFor(() => expect(screen.getByTestId('pause-status').textContent).toMatch(/^Paused until /));
    await user.click(screen.getByRole('button', { name: 'Resume' }));
    expect(api.callsOf('updateSettings')[1]).toEqual(['demo', { paused_until: null }]);
    await user.click(screen.getByRole('button', { name: 'Stop skipping 1.0.5' }));
    expect(api.callsOf('updateSettings')[2]).toEqual(['demo', { skip_versions: [] }]);
    await user.type(screen.getByLabelText('Version to skip'), '2.0.0');
    await user.click(screen.getByRole('button', { name: 'Skip version' }));
    expect(api.callsOf('updateSettings')[3]).toEqual(['demo', { skip_versions: ['2.0.0'] }]);
  });

  it('shows a refused save with message and code', async () => {
    const user = userEvent.setup();
    const api = new FakeApi();
    api.fail('updateSettings', new ApiError('ERR_BAD_REQUEST', 'check_schedule: invalid cron expression', 400));
    renderApp(api, '#/targets/demo/settings');
    await user.click(await screen.findByTestId('setting-auto-download'));
    await user.click(screen.getByRole('button', { name: 'Save settings' }));
    expect((await screen.findByTestId('error-message')).textContent).toContain('check_schedule: invalid cron expression (ERR_BAD_REQUEST)');
  });
});

describe('sign-in', () => {
  it('shows the token field and a clear message after a 401, and retries with the token', async () => {
    const user = userEvent.setup();
    const api = new FakeApi();
    api.transport = 'http';
    const tokens: (string | null)[] = [];
    Object.assign(api, { setToken: (t: string | null) => { tokens.push(t); api.token = t; }, getToken: () => api.token });
    api.fail('apply', new ApiError('ERR_UNAUTHORIZED', 'Missing bearer token', 401));
    renderApp(api, '#/targets/demo');
    await user.click(await screen.findByRole('button', { name: 'Apply' }));
    expect((await screen.findByTestId('auth-message')).textContent).toContain('needs an access token');
    expect(screen.getByTestId('operation-result').textContent).toContain('Missing bearer token');
    const field = screen.getByLabelText('Access token');
    expect(field.getAttribute('aria-invalid')).toBe('true');
    api.fail('apply', null);
    await user.type(field, 'secret-token');
    await user.click(screen.getByRole('button', { name: 'Sign in' }));
    expect(tokens).toEqual(['secret-token']);
    expect(screen.queryByTestId('auth-message')).toBeNull();
    // The refusal of the missing token is not left on the target once a token is given.
    expect(screen.queryByTestId('operation-result')).toBeNull();
    expect(screen.getByTestId('token-status').textContent).toContain('Signed in');
  });

  it('checks the token at once: a wrong token is refused on the form and not kept', async () => {
    const user = userEvent.setup();
    const api = new FakeApi();
    api.transport = 'http';
    const kept: (string | null)[] = [];
    const checked: string[] = [];
    Object.assign(api, {
      setToken: (t: string | null) => {
        kept.push(t);
        api.token = t;
      },
      getToken: () => api.token,
      checkToken: async (t: string) => {
        checked.push(t);
        if (t !== 'right-token') throw new ApiError('ERR_UNAUTHORIZED', 'Invalid token', 401);
        return { authenticated: true, name: 'ops', via: 'token', scopes: ['admin'] };
      },
    });
    renderApp(api, '#/');
    await screen.findByTestId('target-card');
    await user.type(screen.getByLabelText('Access token'), 'wrong-token');
    await user.click(screen.getByRole('button', { name: 'Sign in' }));
    expect((await screen.findByTestId('token-refused')).textContent).toBe('This token was refused: Invalid token (ERR_UNAUTHORIZED)');
    expect(screen.getByLabelText('Access token').getAttribute('aria-invalid')).toBe('true');
    expect(kept).toEqual([]);
    expect(screen.queryByTestId('token-status')).toBeNull();
    await user.clear(screen.getByLabelText('Access token'));
    expect(screen.queryByTestId('token-refused')).toBeNull();
    await user.type(screen.getByLabelText('Access token'), 'right-token');
    await user.click(screen.getByRole('button', { name: 'Sign in' }));
    // The header names the token the daemon knows it by, never the secret.
    expect((await screen.findByTestId('token-status')).textContent).toBe('Signed in with token "ops" (admin)');
    expect(screen.getByRole('banner').textContent).not.toContain('right-token');
    expect(checked).toEqual(['wrong-token', 'right-token']);
    expect(kept).toEqual(['right-token']);
  });

  it('names the token kept from before a reload (asks the daemon once), a JWT by its subject, and forgets the name on sign-out', async () => {
    const user = userEvent.setup();
    const api = new FakeApi();
    api.transport = 'http';
    api.token = 'kept-token';
    const checked: string[] = [];
    Object.assign(api, {
      setToken: (t: string | null) => {
        api.token = t;
      },
      getToken: () => api.token,
      checkToken: async (t: string) => {
        checked.push(t);
        return t === 'kept-token'
          ? { authenticated: true, name: 'deploy-bot', via: 'token', scopes: ['update:apply'] }
          : { authenticated: true, name: 'alice', via: 'jwt', scopes: ['read'] };
      },
    });
    renderApp(api, '#/');
    await waitFor(() => expect(screen.getByTestId('token-status').textContent).toBe('Signed in with token "deploy-bot" (update:apply)'));
    expect(checked).toEqual(['kept-token']);
    await user.click(screen.getByRole('button', { name: 'Change' }));
    await user.type(screen.getByLabelText('Access token'), 'a.jwt.token');
    await user.click(screen.getByRole('button', { name: 'Sign in' }));
    expect((await screen.findByTestId('token-status')).textContent).toBe('Signed in as "alice" with a JWT (read)');
    // The sign-in's own check is the only one: the name comes with it.
    expect(checked).toEqual(['kept-token', 'a.jwt.token']);
    await user.click(screen.getByTestId('sign-out'));
    expect(screen.queryByTestId('token-status')).toBeNull();
    expect(screen.getByRole('banner').textContent).not.toContain('alice');
  });
});
