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
import type { TargetView } from '../../src-shared/api';
import { progress, target } from './fixtures';

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
