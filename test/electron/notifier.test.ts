/**
 * The notifier as a person meets it: one notification per failed update, nothing non-critical
 * during quiet hours, and one summary of what they held once they end.
 */
import { describe, it, expect } from 'vitest';
import { createNotifier, type NativeNotification } from '../../src-main/electron/notifications';
import type { Notification as UpkeepNotification } from '../../src-shared/api';

function setup(quiet: { start: string; end: string; timezone: string } | null) {
  const shown: { title: string; body: string }[] = [];
  let clock = new Date('2025-06-01T12:00:00Z');
  const notify = createNotifier({
    create: (o) => {
      const n: NativeNotification = { on: () => n, show: () => void shown.push({ title: o.title, body: o.body }) };
      return n;
    },
    isSupported: () => true,
    open: () => {},
    quietHours: () => quiet,
    now: () => clock,
    nameOf: (id) => (id === 'demo' ? 'Demo service' : id),
  });
  return { shown, notify, set: (iso: string) => void (clock = new Date(iso)) };
}

const at = '2025-06-01T12:00:00Z';
const failed: UpkeepNotification = { type: 'update_failed', target: 'demo', at, version: '1.2.0', from_version: '1.1.0', error: { code: 'ERR_HEALTH_CHECK_FAILED', message: 'health check failed' }, message: 'x' };
const rolledBack: UpkeepNotification = { type: 'rolled_back', target: 'demo', at, version: '1.1.0', from_version: '1.2.0', error: { code: 'ERR_HEALTH_CHECK_FAILED', message: 'health check failed' }, message: 'x' };

describe('notifier', () => {
  it('shows one notification for a failed update reported as failed and rolled back', () => {
    const { shown, notify } = setup(null);
    notify(failed);
    notify(rolledBack);
    expect(shown).toEqual([{ title: 'Update of Demo service failed', body: 'Version 1.2.0: health check failed (ERR_HEALTH_CHECK_FAILED)' }]);
    // A manual rollback (no error) is its own news.
    notify({ type: 'rolled_back', target: 'demo', at, version: '1.0.0', from_version: '1.1.0', message: 'x' });
    expect(shown.at(-1)).toEqual({ title: 'Demo service rolled back from 1.1.0', body: 'Returned to 1.0.0.' });
  });

  it('a later failure of the same version is shown again', () => {
    const { shown, notify, set } = setup(null);
    notify(failed);
    set('2025-06-01T12:30:00Z');
    notify(failed);
    expect(shown).toHaveLength(2);
  });

  it('holds non-critical notifications in quiet hours and sums them up afterwards', () => {
    const { shown, notify, set } = setup({ start: '22:00', end: '07:00', timezone: 'UTC' });
    set('2025-06-01T23:00:00Z');
    notify({ type: 'update_available', target: 'demo', at, version: '1.3.0', message: 'x' });
    notify({ type: 'update_completed', target: 'demo', at, version: '1.3.0', from_version: '1.2.0', message: 'x' });
    notify({ type: 'update_available', target: 'db', at, version: '9.0.0', is_critical: true, message: 'x' });
    expect(shown).toEqual([{ title: 'Critical update for db', body: 'Version 9.0.0 fixes a critical problem. Install it soon.' }]);
    expect(notify.flushQuiet()).toBeNull();
    set('2025-06-02T07:01:00Z');
    expect(notify.flushQuiet()).toMatchObject({ title: '2 notifications during quiet hours', body: 'Update available for Demo service. Demo service updated.' });
    expect(notify.flushQuiet()).toBeNull();
    expect(shown).toHaveLength(2);
  });
});
