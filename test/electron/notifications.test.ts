import { describe, it, expect, vi } from 'vitest';

vi.mock('electron', () => ({}));

import { createNotifier, decideNotification, notificationContent, targetRoute, type NativeNotification } from '../../src-main/electron/notifications';
import type { Notification } from '../../src-shared/api';

const NIGHT = new Date('2025-01-15T23:30:00Z');
const NOON = new Date('2025-01-15T12:00:00Z');
const QUIET = { start: '22:00', end: '07:00', timezone: 'UTC' };

const n = (over: Partial<Notification> & Pick<Notification, 'type'>): Notification => ({ target: 'demo', at: NOON.toISOString(), message: 'm', ...over });

describe('notification content', () => {
  it('describes the five shown kinds with the target name and a route to it', () => {
    const nameOf = (id: string) => (id === 'demo' ? 'Demo Server' : id);
    const avail = notificationContent(n({ type: 'update_available', version: '1.3.0' }), nameOf)!;
    expect(avail).toEqual({ title: 'Update available for Demo Server', body: 'Version 1.3.0 is ready to install.', urgency: 'normal', route: '#/targets/demo' });
    const crit = notificationContent(n({ type: 'update_available', version: '1.3.1', is_critical: true }), nameOf)!;
    expect(crit.title).toBe('Critical update for Demo Server');
    expect(crit.urgency).toBe('critical');
    expect(notificationContent(n({ type: 'update_completed', version: '1.3.0', from_version: '1.2.0' }), nameOf)!.body).toBe('Now running 1.3.0 (was 1.2.0).');
    const failed = notificationContent(n({ type: 'update_failed', version: '1.3.0', error: { code: 'ERR_HASH_MISMATCH', message: 'bin/demo: sha256 differs' } }))!;
    expect(failed.title).toBe('Update of demo failed');
    expect(failed.body).toContain('ERR_HASH_MISMATCH');
    // The engine's rolled_back: `version` is installed now, `from_version` was left (here: failed).
    const rb = notificationContent(n({ type: 'rolled_back', version: '1.2.0', from_version: '1.3.0', error: { code: 'ERR_HEALTH_CHECK_FAILED', message: 'health check failed' } }))!;
    expect(rb.title).toBe('demo rolled back from 1.3.0');
    expect(rb.body).toBe('Returned to 1.2.0. Cause: health check failed (ERR_HEALTH_CHECK_FAILED).');
    const manual = notificationContent(n({ type: 'rolled_back', version: '1.1.0', from_version: '1.2.0' }))!;
    expect(manual).toMatchObject({ title: 'demo rolled back from 1.2.0', body: 'Returned to 1.1.0.' });
    const removed = notificationContent(n({ type: 'rolled_back', version: null, from_version: '1.0.0' }))!;
    expect(removed.body).toBe('Its installed files were removed (the state before the first install).');
  });

  it('does not turn progress, start and config events into desktop notifications', () => {
    for (const type of ['update_started', 'update_progress', 'config_reloaded', 'config_reload_failed'] as const) {
      expect(notificationContent(n({ type }))).toBeNull();
    }
  });

  it('encodes the target id in the route', () => {
    expect(targetRoute('a b/c')).toBe('#/targets/a%20b%2Fc');
    expect(targetRoute(null)).toBe('#/');
  });
});

describe('quiet hours in decisions', () => {
  it('suppresses non-critical notifications inside quiet hours and lets critical ones through', () => {
    expect(decideNotification(n({ type: 'update_available', version: '2.0.0' }), { quietHours: QUIET, now: NIGHT })).toBeNull();
    expect(decideNotification(n({ type: 'update_failed' }), { quietHours: QUIET, now: NIGHT })).toBeNull();
    expect(decideNotification(n({ type: 'update_available', version: '2.0.1', is_critical: true }), { quietHours: QUIET, now: NIGHT })?.urgency).toBe('critical');
    expect(decideNotification(n({ type: 'update_available', version: '2.0.0' }), { quietHours: QUIET, now: NOON })).not.toBeNull();
    expect(decideNotification(n({ type: 'update_available', version: '2.0.0' }), { now: NIGHT })).not.toBeNull();
  });
});

describe('createNotifier', () => {
  function fake() {
    const shown: { title: string; body: string; urgency: string; click?: () => void }[] = [];
    const opened: string[] = [];
    let now = NOON;
    const notify = createNotifier({
      create: (o) => {
        const rec: (typeof shown)[number] = { ...o };
        const native: NativeNotification = {
          on: (ev: 'click' | 'close', l: () => void) => {
            if (ev === 'click') rec.click = l;
            return native;
          },
          show: () => void shown.push(rec),
        };
        return native;
      },
      isSupported: () => true,
      open: (route) => void opened.push(route),
      quietHours: () => QUIET,
      now: () => now,
    });
    return { shown, opened, notify, setNow: (d: Date) => (now = d) };
  }

  it('shows a notification whose click opens the window on the target', () => {
    const { shown, opened, notify } = fake();
    notify(n({ type: 'update_completed', target: 'demo', version: '1.3.0' }));
    expect(shown.map((s) => s.title)).toEqual(['demo updated']);
    shown[0].click!();
    expect(opened).toEqual(['#/targets/demo']);
  });

  it('shows nothing for a suppressed or unshown kind', () => {
    const { shown, notify, setNow } = fake();
    setNow(NIGHT);
    expect(notify(n({ type: 'update_available', version: '1.3.0' }))).toBeNull();
    expect(notify(n({ type: 'update_progress' }))).toBeNull();
    expect(notify(n({ type: 'update_available', version: '1.3.1', is_critical: true }))?.title).toBe('Critical update for demo');
    expect(shown).toHaveLength(1);
  });
});
