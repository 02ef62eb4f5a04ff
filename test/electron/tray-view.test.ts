/**
 * The native tray view under a mocked Electron: the menu is rebuilt only when its content
 * changes (not at progress rate), labels keep a literal &, Windows gets .ico icons and short tooltips.
 */
import { describe, it, expect, vi, beforeEach } from 'vitest';

const calls = vi.hoisted(() => ({ build: [] as unknown[][], setContextMenu: 0, setToolTip: [] as string[], setImage: 0, images: [] as string[] }));

vi.mock('electron', () => ({
  Menu: { buildFromTemplate: (t: unknown[]) => (calls.build.push(t), { template: t }) },
  Tray: class {
    setContextMenu() {
      calls.setContextMenu++;
    }
    setToolTip(t: string) {
      calls.setToolTip.push(t);
    }
    setImage() {
      calls.setImage++;
    }
    on() {}
    destroy() {}
  },
  nativeImage: { createFromPath: (p: string) => (calls.images.push(p), { setTemplateImage() {} }) },
}));

import { createTrayPresenter, createTrayView } from '../../src-main/electron/tray';
import type { TargetView, UpkeepEvent } from '../../src-shared/api';
import { CHECKED, progress, target } from './fixtures';

beforeEach(() => {
  calls.build.length = 0;
  calls.setContextMenu = 0;
  calls.setToolTip.length = 0;
  calls.setImage = 0;
  calls.images.length = 0;
});

describe('tray view', () => {
  it('rebuilds the menu once per phase while progress only updates the tooltip', async () => {
    const view = createTrayView({ iconDir: '/icons', platform: 'linux', onAction: () => {} });
    let targets: TargetView[] = [];
    const p = createTrayPresenter({ listTargets: async () => targets, listPoints: async () => [], applyOnQuit: () => [], startAtLogin: () => false, view });
    for (let pct = 0; pct <= 50; pct += 5) {
      targets = [target('demo', { kind: 'downloading', version: '2.0.0', progress: progress(pct) })];
      await p.refresh();
    }
    for (let pct = 50; pct <= 90; pct += 10) {
      targets = [target('demo', { kind: 'applying', version: '2.0.0', progress: progress(pct) })];
      await p.refresh();
    }
    expect(calls.setContextMenu).toBe(2);
    expect(calls.setToolTip.at(-1)).toBe('Upkeep — applying demo 90%');
    expect(new Set(calls.setToolTip).size).toBe(calls.setToolTip.length);
  });

  it('follows 100 progress events from memory: no read of the core, one menu build per phase', async () => {
    const view = createTrayView({ iconDir: '/icons', platform: 'linux', onAction: () => {} });
    let reads = 0;
    const p = createTrayPresenter({
      listTargets: async () => (reads++, [target('demo', { kind: 'available', version: '2.0.0', is_critical: false, is_breaking: false, checked_at: CHECKED }), target('other', { kind: 'up-to-date', checked_at: CHECKED })]),
      listPoints: async () => [],
      applyOnQuit: () => [],
      startAtLogin: () => false,
      view,
    });
    await p.refresh();
    expect(calls.build).toHaveLength(1);
    const downloading = target('demo', { kind: 'downloading', version: '2.0.0', progress: progress(0) });
    await p.onEvent({ type: 'state', target: downloading });
    const events: Promise<void>[] = [];
    for (let i = 1; i <= 100; i++) {
      if (i === 60) events.push(p.onEvent({ type: 'state', target: target('demo', { kind: 'applying', version: '2.0.0', progress: progress(59) }) }));
      events.push(p.onEvent({ type: 'progress', target: 'demo', progress: progress(i * 0.99) } satisfies UpkeepEvent));
    }
    await Promise.all(events);
    // One read at start; the events carry everything the tray shows.
    expect(reads).toBe(1);
    // Start, downloading, applying: the menu only changes with the phase, never with the percentage.
    expect(calls.build).toHaveLength(3);
    expect(calls.setContextMenu).toBe(3);
    expect(calls.setToolTip.at(-1)).toBe('Upkeep — applying demo 99%');
    const sub = (calls.build.at(-1) as { id?: string; label?: string }[]).find((i) => i.id === 'target:demo');
    expect(sub?.label).toBe('demo — applying 2.0.0');
    // A settled state event brings the menu back without a read; a notification re-reads.
    await p.onEvent({ type: 'state', target: target('demo', { kind: 'up-to-date', checked_at: CHECKED }, { current_version: '2.0.0' }) });
    expect(reads).toBe(1);
    expect(calls.build).toHaveLength(4);
    expect(calls.setToolTip.at(-1)).toBe('Upkeep — up to date');
    await p.onEvent({ type: 'notification', notification: { type: 'update_completed', target: 'demo', at: CHECKED, version: '2.0.0', from_version: '1.0.0', message: 'Demo updated' } });
    expect(reads).toBe(2);
  });

  it('a state event that arrives while the targets are being read is not lost to the read', async () => {
    const view = createTrayView({ iconDir: '/icons', platform: 'linux', onAction: () => {} });
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    const p = createTrayPresenter({
      listTargets: async () => {
        await gate;
        return [target('demo', { kind: 'applying', version: '2.0.0', progress: progress(90) })];
      },
      listPoints: async () => [],
      applyOnQuit: () => [],
      startAtLogin: () => false,
      view,
    });
    const first = p.refresh();
    const settled = p.onEvent({ type: 'state', target: target('demo', { kind: 'up-to-date', checked_at: CHECKED }, { current_version: '2.0.0' }) });
    release();
    await Promise.all([first, settled]);
    expect(calls.setToolTip.at(-1)).toBe('Upkeep — up to date');
  });

  it('Windows: .ico icons, & shown literally, tooltip within 127 characters', async () => {
    const view = createTrayView({ iconDir: 'C:\\icons', platform: 'win32', onAction: () => {} });
    const p = createTrayPresenter({
      listTargets: async () => [target('rd', { kind: 'failed', error: { code: 'ERR_HOOK_FAILED', message: 'x' }, at: '2025-01-01T00:00:00Z' }, { name: `R&D ${'tools '.repeat(30)}` })],
      listPoints: async () => [], applyOnQuit: () => [], startAtLogin: () => false, view,
    });
    await p.refresh();
    expect(calls.images.every((f) => f.endsWith('.ico'))).toBe(true);
    expect(calls.setToolTip[0]!.length).toBeLessThanOrEqual(127);
    const sub = (calls.build[0] as { id?: string; label?: string }[]).find((i) => i.id === 'target:rd');
    expect(sub?.label?.startsWith('R&&D tools')).toBe(true);
  });
});
