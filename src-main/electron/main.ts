/**
 * Electron main entry of the tray app: one instance, the daemon core in-process (actor 'tray'),
 * the scheduler, the local HTTP API when configured, the tray, the window, IPC, notifications,
 * start-at-login and "apply when I quit". Decisions live in the small modules beside this file;
 * this file only wires Electron to them.
 */
import fs from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { app, ipcMain, Notification, powerMonitor, shell } from 'electron';
import { createDaemon } from '../engine/daemon';
import type { DaemonCore } from '../engine/daemon-types';
import { startServer, type RunningServer } from '../server/index';
import type { UpkeepEvent } from '../../src-shared/api';
import { initLogging, logEngineLine, mainLog as log, setLogLevel } from './log';
import { appLocation } from './url-policy';
import { createWindowManager } from './windows';
import { forwardEvents, registerIpcHandlers } from './ipc-main';
import { createNotifier } from './notifications';
import { createTrayPresenter, createTrayView, type TrayPresenter, type TrayView } from './tray';
import { isWorking } from '../../src-shared/target-state';
import { buildStartupErrorMenuModel, type TrayAction } from './tray-model';
import { ApplyOnQuitList, createBeforeQuitHandler, runApplyOnQuit } from './apply-on-quit';
import { configPathFor, createAppController } from './app-controller';
import { autostartDirFor, autostartExecPath, createLoginItem, parseNameHasOwner, startupVisibility, STATUS_NOTIFIER_QUERY } from './login-item';
import { appPaths, isNoTargetsError, starterConfigText } from '../engine/app-paths';

const APP_ID = 'dev.upkeep.app';

// The same folders the command line looks in (engine/app-paths.ts), also when running unpackaged.
const paths = appPaths(process.platform, process.env, os.homedir());
app.setPath('userData', paths.userData);
// Chromium's caches are bulky: on Windows keep them in the local, not the roaming, profile.
if (process.platform === 'win32') app.setPath('sessionData', path.join(path.dirname(paths.downloadDir), 'Session'));

initLogging();

const rendererIndex = path.join(__dirname, '../renderer/index.html');
const location = appLocation(app.isPackaged ? undefined : process.env.ELECTRON_RENDERER_URL, pathToFileURL(rendererIndex).href);
const resourcesDir = app.isPackaged ? process.resourcesPath : path.join(app.getAppPath(), 'resources');

let core: DaemonCore | null = null;
let server: RunningServer | null = null;
let quitting = false;
/** The OS is shutting down or logging off: no new work before exiting. */
let sessionEnding = false;
let trayView: TrayView | null = null;
const stops: (() => void)[] = [];
const applyOnQuit = new ApplyOnQuitList(path.join(paths.userData, 'apply-on-quit.json'));
/** Targets as last shown in the tray (to know synchronously whether an operation runs). */
let lastTargets: import('../../src-shared/api').TargetView[] = [];

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
  execPath: autostartExecPath(process.env, process.execPath),
  autostartDir: autostartDirFor(process.env, os.homedir()),
});

const configPath = configPathFor(process.argv.slice(1), process.env, paths.userData);

/** First run: a commented starter config where the tray and the CLI both look for it. */
function ensureStarterConfig(): void {
  if (configPath !== paths.configFile || fs.existsSync(configPath)) return;
  try {
    fs.mkdirSync(path.dirname(configPath), { recursive: true });
    fs.writeFileSync(configPath, starterConfigText(paths), { flag: 'wx' });
    log.info(`created the starter configuration ${configPath}`);
  } catch (err) {
    log.warn('could not create the starter configuration', err);
  }
}

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

let presenter: TrayPresenter | null = null;

const controller = createAppController({
  core: () => core,
  applyOnQuit,
  openWindow: (route) => windows.show(route),
  startAtLogin: loginItem,
  report,
  changed: () => void presenter?.refresh(),
  retryStart: () => void startCore(),
  showConfig: () => {
    if (!fs.existsSync(configPath)) ensureStarterConfig();
    shell.showItemInFolder(configPath);
  },
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
      void presenter?.onEvent(e);
      return;
    case 'log':
      logEngineLine(e.line);
      return;
    case 'state':
    case 'progress':
      // The tray folds the event into what it shows: no read of the core at progress rate.
      void presenter?.onEvent(e);
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
      onTargets: (targets) => {
        lastTargets = targets;
        applyOnQuit.prune(targets);
      },
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
    const noTargets = isNoTargetsError(message);
    tray().render('error', noTargets ? 'Upkeep — no targets yet' : `Upkeep — not running: ${message.split('\n')[0]}`, buildStartupErrorMenuModel(message, { noTargets }));
  }
}

/** Work done before the process exits: the chosen updates, then the API and the core closed. */
async function beforeExit(): Promise<void> {
  const c = core;
  // At shutdown there is no time to apply: the saved choices are applied at the next start.
  if (c && !sessionEnding) {
    const entries = applyOnQuit.entries();
    if (entries.length > 0) {
      log.info(`applying ${entries.length} update(s) before quitting`);
      const outcomes = await runApplyOnQuit(entries, (target, version) => c.apply(target, { version }));
      for (const o of outcomes) {
        if (o.ok) log.info(`applied ${o.target} ${o.version} on quit`);
        else log.error(`apply on quit of ${o.target} ${o.version} failed: ${o.code} ${o.message}`);
      }
      applyOnQuit.clear();
    }
  }
  for (const stop of stops.splice(0)) stop();
  if (server) await server.close().catch((err: unknown) => log.warn('closing the API failed', err));
  if (c) await c.close();
}

/** Quitting waits only for chosen updates or a running operation. */
const needsWork = () => (!sessionEnding && applyOnQuit.entries().length > 0) || lastTargets.some((t) => isWorking(t.state));

const onBeforeQuit = createBeforeQuitHandler({
  needsWork,
  beforeExit,
  quit: () => app.quit(),
  onWaiting: () => trayView?.render('working', 'Upkeep — finishing updates before quitting…', []),
  log,
});

/** Whether a StatusNotifier host shows tray icons (Linux); null when it cannot be asked. */
function trayHostAvailable(): boolean | null {
  if (process.platform !== 'linux') return null;
  const r = spawnSync('gdbus', STATUS_NOTIFIER_QUERY, { encoding: 'utf8', timeout: 3000 });
  return r.status === 0 ? parseNameHasOwner(r.stdout) : null;
}

/** Choices of "Apply when I quit" that a logoff or shutdown left undone. */
async function applyLeftovers(): Promise<void> {
  const c = core;
  const entries = applyOnQuit.entries();
  if (!c || entries.length === 0) return;
  log.info(`applying ${entries.length} update(s) chosen before the last session ended`);
  const outcomes = await runApplyOnQuit(entries, (target, version) => c.apply(target, { version }));
  for (const o of outcomes) if (!o.ok) log.error(`apply on quit of ${o.target} ${o.version} failed: ${o.code} ${o.message}`);
  applyOnQuit.clear();
}

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
    ensureStarterConfig();
    await startCore();
    const visibility = startupVisibility({ platform: process.platform, argv: process.argv, openAtLogin: process.platform === 'darwin' && loginItem.get(), trayHostAvailable: trayHostAvailable() });
    if (visibility.note) log.warn(visibility.note);
    if (visibility.showWindow) windows.show();
    else if (process.platform === 'darwin') app.dock?.hide();
    void applyLeftovers().catch((err: unknown) => log.error('applying the leftover choices failed', err));
    // Quiet hours end while nothing happens: the summary of what they held comes anyway.
    setInterval(() => notify.flushQuiet(), 60_000).unref();
    // Shutdown/reboot (Linux, macOS): delay it only to finish what runs; chosen updates stay saved
    // for the next start. Windows logoff sends no before-quit: the saved choices cover it too.
    // (Electron's typings omit the event argument its documentation describes.)
    const onShutdown = (e: { preventDefault(): void }) => {
      sessionEnding = true;
      if (!lastTargets.some((t) => isWorking(t.state))) return;
      e.preventDefault();
      void (core?.close() ?? Promise.resolve()).finally(() => app.quit());
    };
    powerMonitor.on('shutdown', onShutdown as unknown as () => void);
  });
}
