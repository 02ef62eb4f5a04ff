/**
 * The native tray: turns the menu model of tray-model.ts into an Electron Menu, swaps the icon and
 * tooltip, and refreshes from the core (coalesced, so a burst of progress events costs one rebuild).
 */
import path from 'node:path';
import { Menu, Tray, nativeImage, type MenuItemConstructorOptions } from 'electron';
import type { RollbackPointView, TargetView } from '../../src-shared/api';
import {
  buildTrayMenuModel,
  fitTooltip,
  menuKey,
  menuLabel,
  trayIconFile,
  trayStateOf,
  tooltipText,
  type MenuItemModel,
  type QuitApplyEntry,
  type TrayAction,
  type TrayState,
} from './tray-model';

/** Converts the menu model into Electron menu template entries wired to `onAction`. */
export function toMenuTemplate(model: readonly MenuItemModel[], onAction: (a: TrayAction) => void, platform: NodeJS.Platform | string = process.platform): MenuItemConstructorOptions[] {
  return model.map((m): MenuItemConstructorOptions => {
    switch (m.kind) {
      case 'separator':
        return { type: 'separator' };
      case 'submenu':
        return { id: m.id, label: menuLabel(m.label, platform), enabled: m.enabled, submenu: toMenuTemplate(m.items, onAction, platform) };
      case 'checkbox': {
        const action = m.action;
        return { id: m.id, type: 'checkbox', label: menuLabel(m.label, platform), enabled: m.enabled, checked: m.checked, click: () => onAction(action) };
      }
      case 'item': {
        const action = m.action;
        const label = menuLabel(m.label, platform);
        return action
          ? { id: m.id, label, enabled: m.enabled, click: () => onAction(action) }
          : { id: m.id, label, enabled: m.enabled };
      }
    }
  });
}

export interface TrayView {
  render(state: TrayState, tooltip: string, model: readonly MenuItemModel[]): void;
  destroy(): void;
}

/** Creates the tray icon; `iconDir` holds the tray-<state>*.png files. A click opens the window (Windows/Linux). */
export function createTrayView(o: { iconDir: string; platform: NodeJS.Platform; onAction(a: TrayAction): void; onClick?(): void }): TrayView {
  const image = (state: TrayState) => {
    const img = nativeImage.createFromPath(path.join(o.iconDir, trayIconFile(state, o.platform)));
    if (o.platform === 'darwin') img.setTemplateImage(true);
    return img;
  };
  const tray = new Tray(image('up-to-date'));
  let shown: TrayState = 'up-to-date';
  let shownTooltip: string | null = null;
  let shownMenu: string | null = null;
  if (o.onClick && o.platform !== 'darwin') tray.on('click', () => o.onClick?.());
  return {
    // Each native call only when its content changed: rebuilding the menu while it is open closes
    // it on some desktops, and progress arrives up to ten times a second.
    render(state, tooltip, model) {
      if (state !== shown) {
        tray.setImage(image(state));
        shown = state;
      }
      const tip = fitTooltip(tooltip, o.platform);
      if (tip !== shownTooltip) {
        tray.setToolTip(tip);
        shownTooltip = tip;
      }
      const key = menuKey(model);
      if (key !== shownMenu) {
        tray.setContextMenu(Menu.buildFromTemplate(toMenuTemplate(model, o.onAction, o.platform)));
        shownMenu = key;
      }
    },
    destroy() {
      tray.destroy();
    },
  };
}

export interface TrayPresenterDeps {
  listTargets(): Promise<TargetView[]>;
  listPoints(id: string): Promise<RollbackPointView[]>;
  applyOnQuit(): readonly QuitApplyEntry[];
  /** Called with the current targets before each render (e.g. to prune apply-on-quit choices). */
  onTargets?(targets: TargetView[]): void;
  startAtLogin(): boolean;
  view: TrayView;
  now?: () => Date;
  log?: { warn(...a: unknown[]): void };
}

/** The newest rollback point of a list (by created_at), or null. */
export function newestPoint(points: readonly RollbackPointView[]): RollbackPointView | null {
  let best: RollbackPointView | null = null;
  for (const p of points) if (!best || p.created_at > best.created_at) best = p;
  return best;
}

/**
 * Keeps the tray in step with the core. `refresh()` may be called on every event: at most one
 * refresh runs at a time and at most one more is queued behind it. Rollback points are re-read
 * only when a target's point count changes.
 */
export function createTrayPresenter(deps: TrayPresenterDeps): { refresh(): Promise<void> } {
  const points = new Map<string, { count: number; newest: RollbackPointView | null }>();
  let running: Promise<void> | null = null;
  let queued = false;

  const once = async (): Promise<void> => {
    const targets = await deps.listTargets();
    deps.onTargets?.(targets);
    await Promise.all(
      targets.map(async (t) => {
        const cached = points.get(t.id);
        if (cached && cached.count === t.points_count) return;
        const newest = t.points_count > 0 ? newestPoint(await deps.listPoints(t.id)) : null;
        points.set(t.id, { count: t.points_count, newest });
      }),
    );
    const latestPoints = Object.fromEntries(targets.map((t) => [t.id, points.get(t.id)?.newest ?? null]));
    const model = buildTrayMenuModel({ targets, latestPoints, applyOnQuit: deps.applyOnQuit(), startAtLogin: deps.startAtLogin(), now: (deps.now ?? (() => new Date()))() });
    deps.view.render(trayStateOf(targets), tooltipText(targets), model);
  };

  const refresh = (): Promise<void> => {
    if (running) {
      queued = true;
      return running;
    }
    running = (async () => {
      do {
        queued = false;
        try {
          await once();
        } catch (err) {
          deps.log?.warn('tray refresh failed', err);
        }
      } while (queued);
    })().finally(() => {
      running = null;
    });
    return running;
  };
  return { refresh };
}
