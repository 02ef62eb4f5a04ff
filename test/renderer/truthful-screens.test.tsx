// @vitest-environment jsdom
/**
 * What the person sees is true: the badge and the progress title follow the state kind, a
 * cancelled operation says "Cancelled", a staged rollout and a held version are named, the first
 * rollback point says it removes the installation, toasts leave when their condition is gone, a
 * failed check does not read "No update available", and the Pause card describes the real setting.
 */
import { describe, it, expect } from 'vitest';
import { act, fireEvent, within } from '@testing-library/react';
import { ApiError, type TargetPolicy, type TargetState } from '../../src-shared/api';
import { pauseSentence } from '../../src-renderer/policy-text';
import { FakeApi, makePoint, makeProgress, makeRelease, makeTarget } from './fake-api';
import { renderApp, screen } from './dom-setup';

const text = (id: string) => screen.getByTestId(id).textContent ?? '';

describe('badge and progress title follow the state kind', () => {
  const cases: Array<[TargetState, string, string]> = [
    [{ kind: 'downloading', version: '1.2.0', progress: makeProgress({ phase: 'download', percent: 20, bytes_done: 1.5 * 1024 * 1024 }) }, 'Downloading 38%', 'Downloading 1.2.0'],
    [{ kind: 'verifying', version: '1.2.0', progress: makeProgress({ phase: 'verify', percent: 48 }) }, 'Verifying 48%', 'Verifying 1.2.0'],
    [{ kind: 'applying', version: '1.2.0', progress: makeProgress({ phase: 'switch', percent: 70 }) }, 'Applying 70%', 'Applying 1.2.0'],
    [{ kind: 'health-checking', version: '1.2.0', progress: makeProgress({ phase: 'health', percent: 94 }) }, 'Checking health', 'Checking health of 1.2.0'],
    [{ kind: 'rolling-back', to_version: '1.0.0', progress: makeProgress({ phase: 'rollback', percent: 60 }) }, 'Rolling back 60%', 'Rolling back to 1.0.0'],
  ];
  it.each(cases)('%#: %j', async (state, badge, title) => {
    const api = new FakeApi([makeTarget({ state })]);
    renderApp(api, '#/targets/demo');
    await screen.findByTestId('progress-panel');
    const page = screen.getByTestId('target-page');
    expect(within(page).getByTestId('status-badge').textContent).toBe(badge);
    expect(text('progress-title').trim()).toBe(title);
  });

  it('never says "Downloading 94%" once the state moved to checking health, whatever the last progress said', async () => {
    const api = new FakeApi([makeTarget({ state: { kind: 'downloading', version: '1.2.0', progress: makeProgress({ operation_id: 'op-7', phase: 'download', percent: 30 }) } })]);
    renderApp(api, '#/targets/demo');
    await screen.findByTestId('progress-panel');
    // A late progress event of the download arrives, then the state moves on.
    act(() => api.emit({ type: 'progress', target: 'demo', progress: makeProgress({ operation_id: 'op-7', phase: 'download', percent: 49 }) }));
    act(() => api.update('demo', { state: { kind: 'health-checking', version: '1.2.0', progress: makeProgress({ operation_id: 'op-7', phase: 'download', percent: 94 }) } }));
    const badge = within(screen.getByTestId('target-page')).getByTestId('status-badge');
    expect(badge.textContent).toBe('Checking health');
    expect(badge.textContent).not.toMatch(/Downloading/);
    expect(text('progress-title')).toContain('Checking health of 1.2.0');
    expect(text('progress-title')).not.toMatch(/Downloading/);
  });
});

describe('a failed check with nothing offered', () => {
  it('says the update status is unknown and why, never "No update available"', async () => {
    const error = { code: 'ERR_NO_RELEASE', message: 'The feed has no channel "beta"' };
    const api = new FakeApi([makeTarget({ available: null, state: { kind: 'failed', error, at: '2025-03-02T09:00:00Z' }, last_error: error })]);
    renderApp(api, '#/targets/demo');
    expect((await screen.findByRole('heading', { level: 2, name: 'Update status unknown' })).id).toBe('update-title');
    expect(screen.queryByText('No update available')).toBeNull();
    expect(text('no-offer-text')).toBe('The last attempt failed, so Upkeep cannot tell whether a newer release is published: The feed has no channel "beta" (ERR_NO_RELEASE).');
  });

  it('a damaged state file is named as such, not as "the last operation failed" or a failed attempt', async () => {
    const file = '/var/lib/upkeep/points/demo/rb_20250301T090000_abcdef/point.json';
    const error = { code: 'ERR_STATE_CORRUPT', message: `Corrupt state file ${file}: not JSON. Nothing was changed; the file needs repair.`, details: { file } };
    const api = new FakeApi([makeTarget({ available: null, state: { kind: 'failed', error, at: '2025-03-02T09:00:00Z' }, last_error: error })]);
    renderApp(api, '#/targets/demo');
    const alert = await screen.findByText('A state file is damaged');
    expect(alert.closest('[role=alert]')?.textContent).toContain(file);
    expect(screen.queryByText('The last operation failed')).toBeNull();
    expect(text('no-offer-text')).toBe(`A state file is damaged, so Upkeep does not check or update this target until it is repaired: ${error.message} (ERR_STATE_CORRUPT).`);
  });

  it('says why on the targets overview card too, not only the code in the badge', async () => {
    const error = { code: 'ERR_NO_RELEASE', message: 'The feed has no channel "beta" (https://updates.example.com/channels/beta.json)' };
    const api = new FakeApi([makeTarget({ available: null, state: { kind: 'failed', error, at: '2025-03-02T09:00:00Z' }, last_error: error })]);
    renderApp(api, '#/');
    const card = await screen.findByTestId('target-card');
    expect(within(card).getByTestId('status-badge').textContent).toBe('Failed: ERR_NO_RELEASE');
    expect(within(card).getByTestId('target-error').textContent).toBe('The feed has no channel "beta" (https://updates.example.com/channels/beta.json)');
  });

  it('after saving a channel the feed does not have, shows the reason the daemon answers with at once', async () => {
    const api = new FakeApi([makeTarget()]);
    // As the daemon does: the settings change clears the offer and the re-selection's failure is the state.
    api.updateSettings = async (id, patch) => {
      const error = { code: 'ERR_NO_RELEASE', message: `The feed has no channel "${patch.channel}"` };
      const t = api.targets.get(id)!;
      const next = { ...t, policy: { ...t.policy, ...patch }, available: null, state: { kind: 'failed' as const, error, at: '2025-03-02T09:00:00Z' }, last_error: error };
      api.targets.set(id, next);
      return next;
    };
    renderApp(api, '#/targets/demo/settings');
    const channel = (await screen.findByLabelText('Channel')) as HTMLInputElement;
    fireEvent.change(channel, { target: { value: 'beta' } });
    fireEvent.click(screen.getByTestId('settings-save'));
    await screen.findByTestId('settings-saved');
    const page = screen.getByTestId('target-page');
    expect(within(page).getByTestId('status-badge').textContent).toBe('Failed: ERR_NO_RELEASE');
    expect(within(screen.getByTestId('activity')).getByTestId('error-text').textContent).toBe('The feed has no channel "beta"');
    expect(screen.queryByText('Not checked yet')).toBeNull();
    window.location.hash = '#/';
    expect((await screen.findByTestId('target-error')).textContent).toBe('The feed has no channel "beta"');
  });

  it('keeps "No update available" for a cancelled operation', async () => {
    const error = { code: 'ERR_CANCELLED', message: 'Cancelled by the user' };
    const api = new FakeApi([makeTarget({ available: null, state: { kind: 'failed', error, at: '2025-03-02T09:00:00Z' } })]);
    renderApp(api, '#/targets/demo');
    expect(await screen.findByRole('heading', { level: 2, name: 'No update available' })).toBeTruthy();
  });
});

describe('a target never checked', () => {
  it('says "Never" under Last checked, on its card and its page, not a bare dash', async () => {
    const api = new FakeApi([makeTarget({ available: null, state: { kind: 'idle' }, last_checked_at: null })]);
    renderApp(api, '#/');
    const card = await screen.findByTestId('target-card');
    expect(within(card).getByTestId('status-badge').textContent).toBe('Not checked yet');
    expect(within(card).getByTestId('last-checked').textContent).toBe('Never');
    window.location.hash = '#/targets/demo';
    expect((await screen.findByTestId('last-checked')).textContent).toBe('Never');
    expect(text('no-offer-text')).toBe('Check the feed to see whether a newer release is published.');
  });
});

describe('up to date with skipped versions', () => {
  it('does not claim the newest release is installed when a skipped one may be newer', async () => {
    const api = new FakeApi([makeTarget({ available: null, policy: { ...makeTarget().policy, skip_versions: ['1.2.0'] } })]);
    renderApp(api, '#/targets/demo');
    await screen.findByRole('heading', { level: 2, name: 'No update available' });
    expect(text('no-offer-text')).toBe('No release of the stable channel newer than 1.0.0 is offered; skipped versions (1.2.0) are left out.');
    expect(text('no-offer-text')).not.toContain('newest release');
  });

  it('says "on the newest release" when nothing is skipped', async () => {
    const api = new FakeApi([makeTarget({ available: null })]);
    renderApp(api, '#/targets/demo');
    await screen.findByRole('heading', { level: 2, name: 'No update available' });
    expect(text('no-offer-text')).toBe('Demo Service is on the newest release of the stable channel.');
  });
});

describe('cancel', () => {
  it('shows "Cancelled", not a red failure or an "Update failed" toast', async () => {
    const api = new FakeApi();
    const release = api.hold('apply');
    api.fail('apply', new ApiError('ERR_CANCELLED', 'Cancelled by the user', 409));
    renderApp(api, '#/targets/demo');
    fireEvent.click(await screen.findByTestId('apply-button'));
    act(() => api.update('demo', { state: { kind: 'downloading', version: '1.1.0', progress: makeProgress({ percent: 10 }) } }));
    fireEvent.click(screen.getByTestId('cancel-button'));
    // The engine reports the cancelled operation the way it reports a failure, with ERR_CANCELLED.
    act(() =>
      api.emit({
        type: 'notification',
        notification: { type: 'update_failed', target: 'demo', at: '2025-03-03T00:00:00Z', version: '1.1.0', error: { code: 'ERR_CANCELLED', message: 'Cancelled by the user' }, message: 'Update of demo failed' },
      }),
    );
    act(() => api.update('demo', { state: { kind: 'failed', error: { code: 'ERR_CANCELLED', message: 'Cancelled by the user' }, at: '2025-03-03T00:00:00Z' } }));
    await act(async () => release());
    const result = await screen.findByTestId('operation-result');
    expect(result.dataset.cancelled).toBe('true');
    expect(result.textContent).toContain('Cancelled');
    expect(result.querySelector('[role="alert"]')).toBeNull();
    expect(screen.queryByTestId('error-message')).toBeNull();
    const toasts = screen.getAllByTestId('toast');
    expect(toasts.map((t) => t.textContent).join(' ')).not.toContain('Update failed');
    expect(toasts.some((t) => t.textContent?.includes('Cancelled'))).toBe(true);
    expect(toasts.every((t) => t.dataset.level !== 'error')).toBe(true);
    expect(within(screen.getByTestId('target-page')).getByTestId('status-badge').textContent).toBe('Cancelled');
    // After dismissing the outcome, the resting failed-by-cancel state is still no failure.
    fireEvent.click(within(result).getByRole('button', { name: 'Dismiss' }));
    expect(text('cancelled')).toContain('Cancelled');
    expect(screen.queryByTestId('error-message')).toBeNull();
  });
});

describe('staged rollout and held versions', () => {
  it('names a release held back by a staged rollout instead of "Up to date"', async () => {
    const api = new FakeApi([makeTarget({ available: null, rollout_pending: { version: '1.2.0', percent: 25 } })]);
    renderApp(api);
    const card = await screen.findByTestId('target-card');
    expect(within(card).getByTestId('status-badge').textContent).toBe('Waiting for rollout');
    expect(within(card).getByTestId('rollout-pending').textContent).toBe('1.2.0 is rolling out; this machine is not yet in it.');
    expect(card.textContent).not.toContain('Up to date');
    fireEvent.click(within(card).getByTestId('target-link'));
    const page = await screen.findByTestId('target-page');
    const notice = await within(page).findByTestId('rollout-pending');
    expect(notice.textContent).toContain('1.2.0 is rolling out; this machine is not yet in it');
    expect(notice.textContent).toContain('25%');
    expect(page.textContent).not.toContain('is on the newest release');
    expect(within(page).getByTestId('status-badge').textContent).toBe('Waiting for rollout');
  });

  it('shows the version rolled back from as held', async () => {
    const api = new FakeApi([makeTarget({ held_version: '1.1.0' })]);
    renderApp(api, '#/targets/demo');
    const held = await screen.findByTestId('held-version');
    expect(held.textContent).toContain('You rolled back from 1.1.0, so it is held');
    expect(held.textContent).toContain('Apply installs it now');
    expect(screen.getByTestId('held-badge').textContent).toBe('Held after rollback');
    // The header's badge does not urge "Update available" for a version the user left on purpose.
    const badge = screen.getAllByTestId('status-badge')[0];
    expect(badge.textContent).toBe('Held after rollback');
    expect(badge.getAttribute('title')).toBe('1.1.0 held after rollback; apply it explicitly to install.');
  });
});

describe('rollback to the first point', () => {
  it('says the installation is removed', async () => {
    const api = new FakeApi([makeTarget({ name: 'Demo service', points_count: 2 })]);
    api.points.demo = [makePoint({ rollback_id: 'rb_2', from_version: '1.0.0', to_version: '1.1.0' }), makePoint({ rollback_id: 'rb_1', from_version: null, to_version: '1.0.0' })];
    renderApp(api, '#/targets/demo/points');
    const rows = await screen.findAllByTestId('rollback-point');
    fireEvent.click(within(rows[1]).getByTestId('rollback-button'));
    const dialog = screen.getByTestId('rollback-dialog');
    expect(dialog.textContent).toContain('This removes the installed files of Demo service');
    expect(within(dialog).getByTestId('dialog-confirm').textContent).toBe('Remove installed files');
    fireEvent.click(within(dialog).getByTestId('dialog-cancel'));
    fireEvent.click(within(rows[0]).getByTestId('rollback-button'));
    expect(screen.getByTestId('rollback-dialog').textContent).not.toContain('removes the installed files');
    expect(screen.getByTestId('rollback-dialog').textContent).toContain('held');
  });
});

describe('toasts', () => {
  it('"Reload configuration" shows one toast, even when the engine announces the reload too', async () => {
    const api = new FakeApi();
    renderApp(api);
    await screen.findByTestId('target-card');
    fireEvent.click(screen.getByTestId('reload-config'));
    act(() => api.emit({ type: 'notification', notification: { type: 'config_reloaded', target: null, at: '2025-03-03T00:00:00Z', message: 'Configuration reloaded (generation 2)', config_generation: 2 } }));
    await screen.findByText('Reload configuration');
    expect(screen.getAllByTestId('toast')).toHaveLength(1);
    expect(text('toast')).toContain('Configuration reloaded');
  });

  it('an error toast leaves once its condition is gone', async () => {
    const api = new FakeApi();
    api.fail('reloadConfig', new ApiError('ERR_CONFIG_INVALID', 'upkeep.yaml:3:1: targets: required', 400));
    renderApp(api);
    await screen.findByTestId('target-card');
    fireEvent.click(screen.getByTestId('reload-config'));
    expect((await screen.findByTestId('toast')).dataset.level).toBe('error');
    api.fail('reloadConfig', null);
    fireEvent.click(screen.getByTestId('reload-config'));
    await screen.findByText(/Generation 2/);
    expect(screen.getAllByTestId('toast').map((t) => t.dataset.level)).toEqual(['success']);

    // A failed update's toast goes when the target works again.
    act(() =>
      api.emit({
        type: 'notification',
        notification: { type: 'update_failed', target: 'demo', at: '2025-03-03T00:00:00Z', error: { code: 'ERR_NETWORK', message: 'feed unreachable' }, message: 'Update of demo failed' },
      }),
    );
    expect(screen.getAllByTestId('toast').some((t) => t.dataset.level === 'error')).toBe(true);
    act(() => api.update('demo', { state: { kind: 'failed', error: { code: 'ERR_NETWORK', message: 'feed unreachable' }, at: '2025-03-03T00:00:00Z' }, last_error: { code: 'ERR_NETWORK', message: 'feed unreachable' } }));
    expect(screen.getAllByTestId('toast').some((t) => t.dataset.level === 'error')).toBe(true);
    act(() => api.update('demo', { state: { kind: 'up-to-date', checked_at: '2025-03-03T00:01:00Z' }, last_error: null, available: null }));
    expect(screen.getAllByTestId('toast').every((t) => t.dataset.level !== 'error')).toBe(true);
  });
});

describe('the Pause card matches the setting', () => {
  const policy = (p: Partial<TargetPolicy>): TargetPolicy => ({ ...makeTarget().policy, ...p });
  it('describes each automatic policy', () => {
    expect(pauseSentence(policy({ auto_apply: 'none', auto_download: false }))).toBe('Automatic updates are off: Upkeep only checks for new releases; you download and apply them yourself.');
    expect(pauseSentence(policy({ auto_apply: 'none', auto_download: true }))).toBe('Upkeep downloads new releases in the background; you apply them yourself.');
    expect(pauseSentence(policy({ auto_apply: 'critical', auto_download: false }))).toBe('Upkeep applies critical updates automatically; other releases wait for you.');
    expect(pauseSentence(policy({ auto_apply: 'all', auto_download: true }))).toContain('downloads and applies new releases automatically');
  });

  it('changes with the setting on screen', async () => {
    const api = new FakeApi([makeTarget({ policy: policy({ auto_apply: 'none', auto_download: false }) })]);
    renderApp(api, '#/targets/demo/settings');
    expect((await screen.findByTestId('pause-status')).textContent).toContain('Automatic updates are off');
    expect(text('pause-status')).not.toContain('running');
    fireEvent.change(screen.getByTestId('setting-auto-apply'), { target: { value: 'critical' } });
    fireEvent.click(screen.getByTestId('settings-save'));
    await screen.findByTestId('settings-saved');
    expect(text('pause-status')).toBe('Upkeep applies critical updates automatically; other releases wait for you.');
    fireEvent.click(screen.getByTestId('pause-hour'));
    await screen.findByText('Paused for one hour.');
    expect(text('pause-status')).toMatch(/^Paused until .+: no automatic downloads or updates until then; checks go on\.$/);
  });
});

describe('choosing the release to apply', () => {
  it('lists the eligible releases with their notes and applies the one picked', async () => {
    const newest = makeRelease({ version: '1.2.0', is_critical: true, release_notes: '## 1.2.0\n\n- security fix' });
    const older = makeRelease({ version: '1.1.0', release_notes: '## 1.1.0\n\n- faster start-up' });
    const api = new FakeApi([makeTarget({ available: newest })]);
    api.releaseLists.demo = { eligible: [newest, older], installed: makeRelease({ version: '1.0.0', release_notes: '## 1.0.0\n\nThe first release.' }) };
    renderApp(api, '#/targets/demo');
    const choices = await screen.findAllByTestId('release-choice');
    expect(choices.map((c) => c.dataset.version)).toEqual(['1.2.0', '1.1.0']);
    expect(choices[0].textContent).toContain('newest');
    expect(choices[0].textContent).toContain('critical');
    expect(text('release-notes')).toContain('security fix');
    expect(text('apply-button')).toBe('Apply');

    fireEvent.click(within(choices[1]).getByRole('radio'));
    expect(text('release-notes')).toContain('faster start-up');
    expect(text('release-notes')).not.toContain('security fix');
    expect(text('apply-button')).toBe('Apply 1.1.0');
    fireEvent.click(screen.getByTestId('apply-button'));
    await screen.findByTestId('operation-result');
    expect(api.callsOf('apply')).toEqual([['demo', { version: '1.1.0' }]]);
  });

  it('keeps the installed version\'s notes reachable after an apply', async () => {
    const api = new FakeApi([makeTarget({ current_version: '1.1.0', available: null })]);
    api.releaseLists.demo = { installed: makeRelease({ version: '1.1.0', release_notes: '## What is new\n\n- Faster startup' }) };
    renderApp(api, '#/targets/demo');
    const installed = await screen.findByTestId('installed-notes');
    expect(installed.textContent).toContain('Release notes for 1.1.0 (installed)');
    expect(within(installed).getByTestId('installed-release-notes').querySelector('li')?.textContent).toBe('Faster startup');
    expect(installed.querySelector('details')?.open).toBe(true);
    expect(screen.queryByTestId('release-picker')).toBeNull();
  });
});
