/**
 * Electron main entry of the tray app: one instance, the daemon core in-process (actor 'tray'),
 * the scheduler, the local HTTP API when configured, the tray, the window, IPC, notifications,
 * start-at-login and "apply when I quit". Decisions live in the small modules beside this file;
 * this file only wires Electron to them.
 */
import path from 'node:path';
import os from 'node:os';
import { pathToFileURL } from 'node:url';
import { app, ipcMain, Notification, shell } from 'electron';
import { createDaemon } from '../engine/daemon';
import type { DaemonCore } from '../engine/daemon-types';
import { startServer, type RunningServer } from '../server/index';
import type { UpkeepEvent } from '../../src-shared/api';
import { initLogging, logEngineLine, mainLog as log, setLogLevel } from './log';
import { appLocation } from './url-policy';
import { createWindowManager } from './windows';
import { forwardEvents, registerIpcHandlers } from './ipc-main';
import { createNotifier } from './notifications';
import { createTrayPresenter, createTrayView, type TrayView } from './tray';
import { buildStartupErrorMenuModel, type TrayAction } from './tray-model';
import { ApplyOnQuitList, createBeforeQuitHandler, runApplyOnQuit } from './apply-on-quit';
import { configPathFor, createAppController } from './app-controller';
import { autostartDirFor, createLoginItem, HIDDEN_ARG } from './login-item';

const APP_ID = 'dev.upkeep.app';

initLogging();

const rendererIndex = path.join(__dirname, '../renderer/index.html');
const location = appLocation(app.isPackaged ? undefined : process.env.ELECTRON_RENDERER_URL, pathToFileURL(rendererIndex).href);
const resourcesDir = app.isPackaged ? process.resourcesPath : path.join(app.getAppPath(), 'resources');

let core: DaemonCore | null = null;
let server: RunningServer | null = null;
let quitting = false;
let trayView: TrayView | null = null;
const stops: (() => void)[] = [];
const applyOnQuit = new ApplyOnQuitList();

const windows = createWindowManager({
  location,
  preloadPath: path.join(__dirname, '../preload/index.js'),
  iconPath: path.join(resourcesDir, 'icon.png'),
  isQuitting: () => quitting,
  onVisibilityChange: (visible) => {
    if (process.platform !== 'darwin') return;
    if (visible) void app.dock?.show();
    else app.dock?.hide();
  },
  log,
});

const loginItem = createLoginItem({
  platform: process.platform,
  getLoginItemSettings: () => app.getLoginItemSettings(),
  setLoginItemSettings: (s) => app.setLoginItemSettings(s),
  execPath: process.env.APPIMAGE || process.execPath,
  autostartDir: autostartDirFor(process.env, os.homedir()),
});

const configPath = configPathFor(process.argv.slice(1), process.env, app.getPath('userData'));

const notify = createNotifier({
  create: (o) => new Notification({ title: o.title, body: o.body, urgency: o.urgency, ...(o.icon ? { icon: o.icon } : {}) }),
  isSupported: () => Notification.isSupported(),
  open: (route) => windows.show(route),
  quietHours: () => core?.config().config.notifications.quiet_hours ?? null,
  nameOf: (id) => core?.config().config.targets.find((t) => t.id === id)?.name ?? id,
  icon: path.join(resourcesDir, 'icon.png'),
});

function report(title: string, body: string): void {
  if (Notification.isSupported()) new Notification({ title, body }).show();
  else log.info(`${title}: ${body}`);
}

let presenter: { refresh(): Promise<void> } | null = null;

const controller = createAppController({
  core: () => core,
  applyOnQuit,
  openWindow: (route) => windows.show(route),
  startAtLogin: loginItem,
  report,
  changed: () => void presenter?.refresh(),
  retryStart: () => void startCore(),
  showConfig: () => shell.showItemInFolder(configPath),
  quit: () => app.quit(),
  log,
});

function onAction(a: TrayAction): void {
  void controller.handle(a);
}

function tray(): TrayView {
  trayView ??= createTrayView({
    iconDir: path.join(resourcesDir, 'tray'),
    platform: process.platform,
    onAction,
    onClick: () => windows.show(),
  });
  return trayView;
}

function onCoreEvent(e: UpkeepEvent): void {
  switch (e.type) {
    case 'notification':
      notify(e.notification);
      if (e.notification.type === 'config_reloaded' && core) setLogLevel(core.config().config.log.level);
      void presenter?.refresh();
      return;
    case 'log':
      logEngineLine(e.line);
      return;
    case 'state':
    case 'progress':
      void presenter?.refresh();
      return;
  }
}

let starting: Promise<void> | null = null;

/**
 * Creates the core, starts its scheduler and (when enabled) the local API, and hooks the tray
 * and IPC to it. Concurrent calls ("Try again" clicked twice) share one start.
 */
function startCore(): Promise<void> {
  if (core) return Promise.resolve();
  starting ??= startCoreOnce().finally(() => {
    starting = null;
  });
  return starting;
}

async function startCoreOnce(): Promise<void> {
  if (core) return;
  let created: DaemonCore | null = null;
  try {
    created = await createDaemon({ configPath, actor: 'tray' });
    const c = created;
    core = c;
    const cfg = c.config().config;
    setLogLevel(cfg.log.level);
    log.info(`core started with ${c.config().path}`);
    stops.push(forwardEvents(c, () => windows.webContents()));
    stops.push(c.subscribe(onCoreEvent));
    presenter = createTrayPresenter({
      listTargets: () => c.listTargets(),
      listPoints: (id) => c.listPoints(id),
      applyOnQuit: () => applyOnQuit.entries(),
      onTargets: (targets) => applyOnQuit.prune(targets),
      startAtLogin: () => loginItem.get(),
      view: tray(),
      log,
    });
    c.startScheduler();
    if (cfg.api.enabled) {
      try {
        server = await startServer(c, { host: cfg.api.host, port: cfg.api.port, staticDir: path.dirname(rendererIndex) });
        log.info(`local API listening on ${server.url}`);
      } catch (err) {
        log.warn('local API did not start', err);
      }
    }
    await presenter.refresh();
  } catch (err) {
    core = null;
    for (const stop of stops.splice(0)) stop();
    if (created) await created.close().catch((e: unknown) => log.warn('closing the core failed', e));
    const message = err instanceof Error ? err.message : String(err);
    log.error('core did not start', err);
    tray().render('error', `Upkeep — not running: ${message}`, buildStartupErrorMenuModel(message));
  }
}

/** Work done before the process exits: the chosen updates, then the API and the core closed. */
async function beforeExit(): Promise<void> {
  const c = core;
  if (c) {
    const entries = applyOnQuit.entries();
    if (entries.length > 0) {
      log.info(`applying ${entries.length} update(s) before quitting`);
      const outcomes = await runApplyOnQuit(entries, (target, version) => c.apply(target, { version }));
      for (const o of outcomes) {
        if (o.ok) log.info(`applied ${o.target} ${o.version} on quit`);
        else log.error(`apply on quit of ${o.target} ${o.version} failed: ${o.code} ${o.message}`);
      }
    }
  }
  for (const stop of stops.splice(0)) stop();
  if (server) await server.close().catch((err: unknown) => log.warn('closing the API failed', err));
  if (c) await c.close();
}

const onBeforeQuit = createBeforeQuitHandler({ beforeExit, quit: () => app.quit(), log });

if (!app.requestSingleInstanceLock()) {
  app.quit();
} else {
  app.on('second-instance', () => windows.show());
  app.on('before-quit', (event) => {
    if (onBeforeQuit(event)) {
      quitting = true;
      trayView?.destroy();
      trayView = null;
    }
  });
  // A tray app keeps running with no window open.
  app.on('window-all-closed', () => undefined);
  app.on('activate', () => windows.show());
  void app.whenReady().then(async () => {
    if (process.platform === 'win32') app.setAppUserModelId(APP_ID);
    // Registered once for the app's lifetime; requests fail with ERR_INTERNAL while the core is down.
    registerIpcHandlers({ ipcMain, core: () => core, shell, allowed: location });
    await startCore();
    const hidden = process.argv.includes(HIDDEN_ARG) || (process.platform === 'darwin' && app.getLoginItemSettings().wasOpenedAtLogin);
    if (!hidden) windows.show();
    else if (process.platform === 'darwin') app.dock?.hide();
  });
}
