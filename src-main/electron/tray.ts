/**
 * The native tray: turns the menu model of tray-model.ts into an Electron Menu, swaps the icon and
 * tooltip, and keeps its model in step with the core's state and progress events (the native
 * menu is rebuilt only when its model changes).
 */
import path from 'node:path';
import { Menu, Tray, nativeImage, type MenuItemConstructorOptions } from 'electron';
import type { RollbackPointView, TargetView, UpkeepEvent } from '../../src-shared/api';
import { nextState } from '../../src-shared/target-state';
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

/**
 * The newest rollback point of a list (by created_at), or null — also when that point is damaged
 * (`error`): a rollback to it, or past it to an older one, is refused.
 */
export function newestPoint(points: readonly RollbackPointView[]): RollbackPointView | null {
  let best: RollbackPointView | null = null;
  for (const p of points) if (!best || p.created_at > best.created_at) best = p;
  return best?.error ? null : best;
}

/** The tray's side of the core: re-read everything, or fold one event in. */
export interface TrayPresenter {
  /** Re-reads every target from the core (start, config reload, a menu choice) and renders. */
  refresh(): Promise<void>;
  /**
   * Folds one core event into the targets last read and renders: a `state` event replaces its
   * target's view, a `progress` event moves its target's progress through the shared state
   * machine (`nextState`), a notification re-reads. Nothing is read from the core per progress event.
   */
  onEvent(e: UpkeepEvent): Promise<void>;
}

/**
 * Keeps the tray in step with the core. The targets are read once (and again after a
 * notification, a config reload or `refresh()`); state and progress events update that copy
 * in memory, since each `state` event carries its target's whole view. At most one render runs
 * at a time and at most one more is queued behind it; rollback points are re-read only when a
 * target's point count changes; the view rebuilds the native menu only when its model changed.
 */
export function createTrayPresenter(deps: TrayPresenterDeps): TrayPresenter {
  const points = new Map<string, { count: number; newest: RollbackPointView | null }>();
  let shown: TargetView[] | null = null;
  let reread = true;
  let inFlight: ((list: TargetView[]) => TargetView[])[] | null = null;
  let running: Promise<void> | null = null;
  let queued = false;

  const once = async (): Promise<void> => {
    if (reread || !shown) {
      reread = false;
      // Events that arrive while the read is in flight are newer than it may be: fold them in after.
      inFlight = [];
      try {
        let read = await deps.listTargets();
        for (const f of inFlight) read = f(read);
        shown = read;
      } finally {
        inFlight = null;
      }
    }
    const targets = shown;
    deps.onTargets?.(targets);
    await Promise.all(
      targets.map(async (t) => {
        const cached = points.get(t.id);
        if (cached && cached.count === t.points_count) return;
        // One target's points that cannot be read (a corrupt point.json) leave only its own
        // rollback entry out of the menu, and are read again next time.
        const list = t.points_count > 0 ? await deps.listPoints(t.id).catch(() => null) : [];
        if (list === null) points.delete(t.id);
        else points.set(t.id, { count: t.points_count, newest: newestPoint(list) });
      }),
    );
    const latestPoints = Object.fromEntries(targets.map((t) => [t.id, points.get(t.id)?.newest ?? null]));
    const model = buildTrayMenuModel({ targets, latestPoints, applyOnQuit: deps.applyOnQuit(), startAtLogin: deps.startAtLogin(), now: (deps.now ?? (() => new Date()))() });
    deps.view.render(trayStateOf(targets), tooltipText(targets), model);
  };

  const render = (): Promise<void> => {
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
          // The next event or refresh reads again.
          reread = true;
          deps.log?.warn('tray refresh failed', err);
        }
      } while (queued);
    })().finally(() => {
      running = null;
    });
    return running;
  };

  /** `list` with target `id` passed through `fn` (the same array when nothing changed). */
  const fold = (list: TargetView[], id: string, fn: (t: TargetView) => TargetView): TargetView[] => {
    const i = list.findIndex((t) => t.id === id);
    if (i < 0) return list;
    const next = fn(list[i]!);
    return next === list[i] ? list : list.map((t, j) => (j === i ? next : t));
  };

  /** Applies an event's change of target `id`; true when what is shown changed (an unknown target means a re-read). */
  const update = (id: string, fn: (t: TargetView) => TargetView): boolean => {
    inFlight?.push((list) => fold(list, id, fn));
    if (!shown) return false;
    if (!shown.some((t) => t.id === id)) {
      reread = true;
      return true;
    }
    const before = shown;
    shown = fold(shown, id, fn);
    return shown !== before;
  };

  return {
    refresh() {
      reread = true;
      return render();
    },
    onEvent(e) {
      switch (e.type) {
        case 'state':
          update(e.target.id, () => e.target);
          return render();
        case 'progress': {
          const changed = update(e.target, (t) => {
            const state = nextState(t.state, { type: 'progress', progress: e.progress });
            return state === t.state ? t : { ...t, state };
          });
          return changed || !shown ? render() : Promise.resolve();
        }
        case 'notification':
          reread = true;
          return render();
        default:
          return Promise.resolve();
      }
    },
  };
}
