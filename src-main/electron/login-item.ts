/**
 * "Start at login". macOS and Windows use Electron's login item settings; Linux has no such API
 * in Electron, so an XDG autostart entry (~/.config/autostart/upkeep.desktop) is written instead.
 * The app starts hidden (tray only) when launched at login.
 *
 * Windows stores the login item per (executable, args): getLoginItemSettings() must be asked with
 * the same `args` that setLoginItemSettings() registered, or it reads false. macOS cannot pass
 * arguments to a login item and `wasOpenedAtLogin` is gone since Electron 29, so there the app
 * starts hidden whenever "Start at login" is on (a menu-bar app; the window opens from the menu).
 */
import fs from 'node:fs';
import path from 'node:path';

/** Argument the app receives when started at login: stay in the tray. */
export const HIDDEN_ARG = '--hidden';

export interface LoginItemSettingsLike {
  openAtLogin: boolean;
}

export interface LoginItemDeps {
  platform: NodeJS.Platform;
  getLoginItemSettings(o?: { args?: string[] }): LoginItemSettingsLike;
  setLoginItemSettings(s: { openAtLogin: boolean; args?: string[] }): void;
  /** The executable to start (the AppImage file when running from one). */
  execPath: string;
  /** Folder of XDG autostart entries ($XDG_CONFIG_HOME/autostart). */
  autostartDir: string;
}

export interface LoginItem {
  get(): boolean;
  set(enabled: boolean): void;
}

/** Quotes one argument of a desktop entry's Exec key (freedesktop Desktop Entry spec). */
export function desktopExecQuote(arg: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(arg)) return arg;
  return `"${arg.replace(/(["`$\\])/g, '\\$1')}"`;
}

/** The text of the XDG autostart entry starting `execPath` hidden. */
export function autostartDesktopEntry(execPath: string): string {
  return [
    '[Desktop Entry]',
    'Type=Application',
    'Name=Upkeep',
    'Comment=Keeps installed software current, verified and reversible',
    `Exec=${desktopExecQuote(execPath)} ${HIDDEN_ARG}`,
    'Icon=upkeep',
    'Terminal=false',
    'X-GNOME-Autostart-enabled=true',
    '',
  ].join('\n');
}

/** The XDG autostart folder for an environment. */
export function autostartDirFor(env: NodeJS.ProcessEnv, home: string): string {
  const base = env.XDG_CONFIG_HOME && path.isAbsolute(env.XDG_CONFIG_HOME) ? env.XDG_CONFIG_HOME : path.join(home, '.config');
  return path.join(base, 'autostart');
}

/** The login item of this platform. */
export function createLoginItem(deps: LoginItemDeps): LoginItem {
  if (deps.platform === 'win32') {
    return {
      get: () => deps.getLoginItemSettings({ args: [HIDDEN_ARG] }).openAtLogin,
      set: (enabled) => deps.setLoginItemSettings({ openAtLogin: enabled, args: [HIDDEN_ARG] }),
    };
  }
  if (deps.platform !== 'linux') {
    return {
      get: () => deps.getLoginItemSettings().openAtLogin,
      set: (enabled) => deps.setLoginItemSettings({ openAtLogin: enabled }),
    };
  }
  const file = path.join(deps.autostartDir, 'upkeep.desktop');
  return {
    get: () => fs.existsSync(file),
    set: (enabled) => {
      if (!enabled) {
        fs.rmSync(file, { force: true });
        return;
      }
      fs.mkdirSync(deps.autostartDir, { recursive: true });
      const tmp = `${file}.${process.pid}.tmp`;
      fs.writeFileSync(tmp, autostartDesktopEntry(deps.execPath), { mode: 0o644 });
      fs.renameSync(tmp, file);
    },
  };
}

/**
 * The file an autostart entry must start: inside an AppImage, `process.execPath` is a temporary
 * mount (/tmp/.mount_Upkeep…/upkeep-tray) that is gone after exit; $APPIMAGE is the AppImage file
 * itself (its artifact name carries no version, so updates keep the path).
 */
export function autostartExecPath(env: NodeJS.ProcessEnv, execPath: string): string {
  return env.APPIMAGE && path.isAbsolute(env.APPIMAGE) ? env.APPIMAGE : execPath;
}

export interface StartupInput {
  platform: NodeJS.Platform;
  argv: readonly string[];
  /** macOS: "Start at login" is on. */
  openAtLogin: boolean;
  /** Linux: a StatusNotifier host shows tray icons (null: unknown, assumed present). */
  trayHostAvailable: boolean | null;
}

/**
 * Whether the window opens at start, and a note for the log when a hidden start is refused: on
 * Linux without a StatusNotifier host the tray icon is invisible, so `--hidden` would leave an app
 * nobody can reach.
 */
export function startupVisibility(i: StartupInput): { showWindow: boolean; note?: string } {
  const hidden = i.argv.includes(HIDDEN_ARG) || (i.platform === 'darwin' && i.openAtLogin);
  if (!hidden) return { showWindow: true };
  if (i.platform === 'linux' && i.trayHostAvailable === false) {
    return { showWindow: true, note: 'no StatusNotifier host on this desktop: the tray icon cannot be shown, so the window opens instead of starting hidden' };
  }
  return { showWindow: false };
}

/**
 * Reads `gdbus` output of org.freedesktop.DBus.NameHasOwner("org.kde.StatusNotifierWatcher"):
 * "(true,)" or "(false,)"; anything else (no gdbus, no session bus) is unknown (null).
 */
export function parseNameHasOwner(stdout: string | null | undefined): boolean | null {
  const m = /^\((true|false),\)\s*$/.exec((stdout ?? '').trim());
  return m ? m[1] === 'true' : null;
}

/** The gdbus command line asking whether a StatusNotifier watcher (the tray host) is running. */
export const STATUS_NOTIFIER_QUERY = ['call', '--session', '--timeout', '2', '--dest', 'org.freedesktop.DBus', '--object-path', '/org/freedesktop/DBus', '--method', 'org.freedesktop.DBus.NameHasOwner', 'org.kde.StatusNotifierWatcher'];
