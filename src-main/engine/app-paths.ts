/**
 * Where the desktop app keeps its files on each platform, shared by the tray (which creates the
 * starter config there) and the command line (which finds the same config file).
 *
 * | platform | config + state (userData)                    | downloads (cache)                  | logs |
 * |----------|----------------------------------------------|------------------------------------|------|
 * | Linux    | $XDG_CONFIG_HOME/Upkeep (~/.config/Upkeep)   | $XDG_CACHE_HOME/Upkeep (~/.cache)  | userData/logs |
 * | macOS    | ~/Library/Application Support/Upkeep         | ~/Library/Caches/Upkeep            | ~/Library/Logs/Upkeep |
 * | Windows  | %APPDATA%\Upkeep (roaming)                    | %LOCALAPPDATA%\Upkeep (local)      | userData\logs |
 *
 * On Windows the roaming profile is copied at every logon, so bulky data (the download cache
 * and rollback points) lives in the local profile.
 */
import path from 'node:path';

export const APP_NAME = 'Upkeep';

export interface AppPaths {
  /** Electron's userData folder (main.ts sets it to this). */
  userData: string;
  /** The tray's config file: <userData>/upkeep.yaml. */
  configFile: string;
  stateDir: string;
  downloadDir: string;
  backupDir: string;
  logFile: string;
}

/** The app's folders for a platform, environment and home directory (pure). */
export function appPaths(platform: NodeJS.Platform, env: NodeJS.ProcessEnv, home: string): AppPaths {
  const p = platform === 'win32' ? path.win32 : path.posix;
  const abs = (v: string | undefined) => (v && p.isAbsolute(v) ? v : undefined);
  let userData: string;
  let cache: string;
  let logs: string;
  if (platform === 'win32') {
    userData = p.join(abs(env.APPDATA) ?? p.join(home, 'AppData', 'Roaming'), APP_NAME);
    cache = p.join(abs(env.LOCALAPPDATA) ?? p.join(home, 'AppData', 'Local'), APP_NAME);
    logs = p.join(userData, 'logs');
  } else if (platform === 'darwin') {
    userData = p.join(home, 'Library', 'Application Support', APP_NAME);
    cache = p.join(home, 'Library', 'Caches', APP_NAME);
    logs = p.join(home, 'Library', 'Logs', APP_NAME);
  } else {
    userData = p.join(abs(env.XDG_CONFIG_HOME) ?? p.join(home, '.config'), APP_NAME);
    cache = p.join(abs(env.XDG_CACHE_HOME) ?? p.join(home, '.cache'), APP_NAME);
    logs = p.join(userData, 'logs');
  }
  const stateDir = p.join(userData, 'state');
  return {
    userData,
    configFile: p.join(userData, 'upkeep.yaml'),
    stateDir,
    downloadDir: p.join(cache, 'downloads'),
    backupDir: platform === 'win32' ? p.join(cache, 'points') : p.join(stateDir, 'points'),
    logFile: p.join(logs, 'upkeep.log'),
  };
}

function yamlString(s: string): string {
  return JSON.stringify(s);
}

/**
 * The commented starter config the tray writes on first run. It has no target yet (the app says
 * so and offers "Show configuration file"); the example shows the one thing to add.
 */
export function starterConfigText(paths: AppPaths): string {
  return `# Upkeep configuration, created on first start. Edit it, then choose "Reload configuration"
# (or "Try again") in the tray menu. Reference: the "Configuration" section of Upkeep's README.
# The command line uses this file too when no ./upkeep.yaml, --config or $UPKEEP_CONFIG is given.

state_dir: ${yamlString(paths.stateDir)}         # journal, installed versions, history
download_dir: ${yamlString(paths.downloadDir)}   # verified download cache
backup_dir: ${yamlString(paths.backupDir)}       # rollback points
log: { file: ${yamlString(paths.logFile)}, level: info }
api:
  enabled: false                   # true: the local HTTP API and web dashboard on 127.0.0.1:8765

# Add the software Upkeep keeps up to date. For example:
#
# targets:
#   - id: myapp
#     name: My app
#     kind: files
#     install_dir: /opt/myapp
#     product: myapp
#     feed: { url: "https://updates.example.com/myapp" }
#     trust: { keys: ["ed25519:..."] }       # the publisher's public key line
targets: []
`;
}

/** True when a config error says the file has no target yet (the starter config). */
export function isNoTargetsError(message: string): boolean {
  return /targets needs at least one target/.test(message);
}

/**
 * The config file the command line uses: --config, else $UPKEEP_CONFIG, else ./upkeep.yaml when it
 * exists, else the desktop app's file when that exists. `tried` lists the candidates for the
 * error message when none exists (then `file` is ./upkeep.yaml, which loadConfig reports missing).
 */
export function cliConfigPath(o: { flag?: string; env: NodeJS.ProcessEnv; cwd: string; appConfig: string; exists: (p: string) => boolean }): { file: string; tried: string[] } {
  if (o.flag) return { file: path.resolve(o.cwd, o.flag), tried: [] };
  if (o.env.UPKEEP_CONFIG && o.env.UPKEEP_CONFIG.trim() !== '') return { file: path.resolve(o.cwd, o.env.UPKEEP_CONFIG), tried: [] };
  const local = path.join(o.cwd, 'upkeep.yaml');
  if (o.exists(local)) return { file: local, tried: [] };
  if (o.exists(o.appConfig)) return { file: o.appConfig, tried: [] };
  return { file: local, tried: [local, o.appConfig] };
}
