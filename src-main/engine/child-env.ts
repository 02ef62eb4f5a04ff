/**
 * The environment hooks, steps and health commands run with: the process's own, minus what a
 * packaged Upkeep's launcher added for itself. An AppImage's runtime and AppRun export APPDIR,
 * APPIMAGE, ARGV0, OWD and put $APPDIR/... first on PATH, LD_LIBRARY_PATH, XDG_DATA_DIRS and
 * friends (a hook's `systemctl` or `docker` would then load the AppImage's bundled libraries);
 * the CLI shim sets ELECTRON_RUN_AS_NODE and points NODE_PATH into app.asar.
 */

const APPIMAGE_VARS = ['APPDIR', 'APPIMAGE', 'ARGV0', 'OWD'];
const SEARCH_PATHS = ['PATH', 'LD_LIBRARY_PATH', 'LD_PRELOAD', 'XDG_DATA_DIRS', 'GSETTINGS_SCHEMA_DIR', 'QT_PLUGIN_PATH', 'PERLLIB', 'PYTHONPATH', 'GST_PLUGIN_SYSTEM_PATH', 'GST_PLUGIN_SYSTEM_PATH_1_0', 'NODE_PATH'];

/** A copy of `env` without the launcher's additions (entries under $APPDIR or inside an app.asar). */
export function childEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = { ...env };
  const appDir = env.APPIMAGE && env.APPDIR ? env.APPDIR.replace(/\/+$/, '') : null;
  const foreign = (entry: string) => (appDir !== null && (entry === appDir || entry.startsWith(`${appDir}/`))) || /[\\/]app\.asar([\\/]|$)/.test(entry);
  const sep = process.platform === 'win32' ? ';' : ':';
  for (const name of SEARCH_PATHS) {
    const v = out[name];
    if (v === undefined) continue;
    const kept = v.split(name === 'LD_PRELOAD' ? /[ :]/ : sep).filter((e) => e !== '' && !foreign(e));
    if (kept.length > 0) out[name] = kept.join(name === 'LD_PRELOAD' ? ' ' : sep);
    else delete out[name];
  }
  if (appDir !== null) for (const name of APPIMAGE_VARS) delete out[name];
  delete out.ELECTRON_RUN_AS_NODE;
  return out;
}
