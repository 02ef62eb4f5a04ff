/**
 * "Start at login". macOS and Windows use Electron's login item settings; Linux has no such API
 * in Electron, so an XDG autostart entry (~/.config/autostart/upkeep.desktop) is written instead.
 * The app starts hidden (tray only) when launched at login.
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
  getLoginItemSettings(): LoginItemSettingsLike;
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
  if (deps.platform !== 'linux') {
    return {
      get: () => deps.getLoginItemSettings().openAtLogin,
      set: (enabled) => deps.setLoginItemSettings({ openAtLogin: enabled, args: [HIDDEN_ARG] }),
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
