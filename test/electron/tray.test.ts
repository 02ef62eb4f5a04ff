import { describe, it, expect, vi } from 'vitest';

vi.mock('electron', () => ({ Menu: {}, Tray: class {}, nativeImage: {} }));

import { createTrayPresenter, newestPoint, toMenuTemplate, type TrayView } from '../../src-main/electron/tray';
import type { MenuItemModel, TrayAction, TrayState } from '../../src-main/electron/tray-model';
import type { RollbackPointView, TargetView } from '../../src-shared/api';
import { CHECKED, point, target } from './fixtures';

describe('toMenuTemplate', () => {
  it('maps every model entry to a native template entry whose click dispatches its action', () => {
    const actions: TrayAction[] = [];
    const model: MenuItemModel[] = [
      { kind: 'item', id: 'status', label: 'up to date', enabled: false },
      { kind: 'separator' },
      { kind: 'submenu', id: 'sub', label: 'demo', enabled: true, items: [{ kind: 'item', id: 'demo:apply', label: 'Update to 2.0.0', enabled: true, action: { type: 'apply', target: 'demo', version: '2.0.0' } }] },
      { kind: 'checkbox', id: 'login', label: 'Start at login', enabled: true, checked: true, action: { type: 'toggle-start-at-login' } },
    ];
    const t = toMenuTemplate(model, (a) => void actions.push(a));
    expect(t[0]).toEqual({ id: 'status', label: 'up to date', enabled: false });
    expect(t[1]).toEqual({ type: 'separator' });
    expect(t[3]).toMatchObject({ type: 'checkbox', checked: true });
    const sub = t[2].submenu as { click?: () => void }[];
    sub[0].click!();
    (t[3].click as () => void)();
    expect(actions).toEqual([{ type: 'apply', target: 'demo', version: '2.0.0' }, { type: 'toggle-start-at-login' }]);
  });
});

describe('tray presenter', () => {
  it('renders state, tooltip and menu, and re-reads rollback points only when their count changes', async () => {
    const renders: { state: TrayState; tooltip: string; model: readonly MenuItemModel[] }[] = [];
    const view: TrayView = { render: (state, tooltip, model) => void renders.push({ state, tooltip, model }), destroy: () => {} };
    let targets: TargetView[] = [target('demo', { kind: 'available', version: '2.0.0', is_critical: false, is_breaking: false, checked_at: CHECKED }, { points_count: 1 })];
    const points: Record<string, RollbackPointView[]> = { demo: [point('demo', 'rb-1', '0.9.0', '1.0.0', '2025-01-01T00:00:00Z')] };
    let pointReads = 0;
    const p = createTrayPresenter({
      listTargets: async () => targets,
      listPoints: async (id) => {
        pointReads++;
        return points[id] ?? [];
      },
      applyOnQuit: () => [],
      startAtLogin: () => false,
      view,
    });
    await p.refresh();
    await p.refresh();
    expect(pointReads).toBe(1);
    expect(renders.at(-1)).toMatchObject({ state: 'available', tooltip: 'Upkeep — 1 update available' });
    points.demo.push(point('demo', 'rb-2', '1.0.0', '2.0.0', '2025-02-01T00:00:00Z'));
    targets = [target('demo', { kind: 'up-to-date', checked_at: CHECKED }, { current_version: '2.0.0', points_count: 2 })];
    await p.refresh();
    expect(pointReads).toBe(2);
    const last = renders.at(-1)!;
    expect(last.state).toBe('up-to-date');
    const sub = last.model.find((m) => m.kind === 'submenu' && m.id === 'target:demo') as Extract<MenuItemModel, { kind: 'submenu' }>;
    expect(sub.items.find((i) => i.kind !== 'separator' && i.id === 'demo:rollback')).toMatchObject({ label: 'Roll back to 1.0.0' });
  });

  it('one target whose rollback points cannot be read does not blank the menu: the others keep theirs, it is read again next time', async () => {
    const renders: { state: TrayState; tooltip: string; model: readonly MenuItemModel[] }[] = [];
    const view: TrayView = { render: (state, tooltip, model) => void renders.push({ state, tooltip, model }), destroy: () => {} };
    const targets: TargetView[] = [
      target('demo', { kind: 'up-to-date', checked_at: CHECKED }, { current_version: '1.0.0', points_count: 1 }),
      target('api', { kind: 'up-to-date', checked_at: CHECKED }, { current_version: '2.0.0', points_count: 1 }),
    ];
    let apiBroken = true;
    let apiReads = 0;
    const p = createTrayPresenter({
      listTargets: async () => targets,
      listPoints: async (id) => {
        if (id === 'demo') return [point('demo', 'rb-1', '0.9.0', '1.0.0', '2025-01-01T00:00:00Z')];
        apiReads++;
        if (apiBroken) throw Object.assign(new Error('Corrupt state file /s/points/api/rb-2/point.json: version: expected string'), { code: 'ERR_STATE_CORRUPT' });
        return [point('api', 'rb-2', '1.0.0', '2.0.0', '2025-01-01T00:00:00Z')];
      },
      applyOnQuit: () => [],
      startAtLogin: () => false,
      view,
    });
    const rollbackItem = (id: string) => {
      const sub = renders.at(-1)!.model.find((m) => m.kind === 'submenu' && m.id === `target:${id}`) as Extract<MenuItemModel, { kind: 'submenu' }>;
      return sub.items.find((i) => i.kind !== 'separator' && i.id === `${id}:rollback`);
    };
    await p.refresh();
    expect(renders).toHaveLength(1);
    expect(rollbackItem('demo')).toMatchObject({ label: 'Roll back to 0.9.0' });
    expect(rollbackItem('api')).toMatchObject({ label: 'No rollback point', enabled: false });
    apiBroken = false;
    await p.refresh();
    expect(apiReads).toBe(2);
    expect(rollbackItem('api')).toMatchObject({ label: 'Roll back to 1.0.0' });
  });

  it('coalesces a burst of refreshes into at most one extra run', async () => {
    let calls = 0;
    const p = createTrayPresenter({
      listTargets: async () => {
        calls++;
        await new Promise((r) => setTimeout(r, 5));
        return [];
      },
      listPoints: async () => [],
      applyOnQuit: () => [],
      startAtLogin: () => false,
      view: { render: () => {}, destroy: () => {} },
    });
    await Promise.all(Array.from({ length: 20 }, () => p.refresh()));
    expect(calls).toBe(2);
  });

  it('picks the newest rollback point', () => {
    expect(newestPoint([])).toBeNull();
    expect(newestPoint([point('a', '1', null, '1', '2025-01-01T00:00:00Z'), point('a', '2', null, '2', '2025-03-01T00:00:00Z'), point('a', '3', null, '3', '2025-02-01T00:00:00Z')])?.rollback_id).toBe('2');
  });

  it('offers no rollback when the newest point is damaged (a rollback to an older one would consume it)', () => {
    const damaged = { ...point('a', '2', null, '', '2025-03-01T00:00:00Z'), error: { code: 'ERR_STATE_CORRUPT', message: 'Corrupt state file point.json' } };
    expect(newestPoint([point('a', '1', null, '1', '2025-01-01T00:00:00Z'), damaged])).toBeNull();
    expect(newestPoint([damaged, point('a', '3', '1', '3', '2025-04-01T00:00:00Z')])?.rollback_id).toBe('3');
  });
});
