/**
 * `upkeep daemon`: recovers, starts the scheduler and the local HTTP API (plus the web
 * dashboard), reloads the config on SIGHUP or when the file changes, and shuts down gracefully
 * on SIGTERM/SIGINT (a running apply finishes or is safely undone; never half-applied).
 */
import { watch, existsSync, type FSWatcher } from 'node:fs';
import path from 'node:path';
import { UsageError } from '../../../src-shared/errors';
import type { CliIO } from '../io';
import { createDaemon } from '../../engine/daemon';
import { startServer, type RunningServer } from '../../server/index';
import { attachDaemonLog } from '../daemon-log';
import { commandSpec, parseCommandArgs } from '../spec';

/**
 * out/renderer of this package (the built dashboard), if present. In the packaged app the CLI
 * runs from app.asar.unpacked while the dashboard stays inside app.asar, which Electron's fs
 * (the CLI shim runs Electron as Node) reads like a directory.
 */
export function dashboardDir(from: string = __dirname, exists: (p: string) => boolean = existsSync): string | null {
  let dir = from;
  for (let i = 0; i < 6; i++) {
    const roots = [dir, ...(path.basename(dir) === 'app.asar.unpacked' ? [path.join(path.dirname(dir), 'app.asar')] : [])];
    for (const root of roots) {
      const candidate = path.join(root, 'out', 'renderer');
      if (exists(path.join(candidate, 'index.html'))) return candidate;
    }
    if (exists(path.join(dir, 'package.json'))) break;
    dir = path.dirname(dir);
  }
  return null;
}

export async function runDaemonCommand(argv: string[], configPath: string | undefined, io: CliIO): Promise<number> {
  const { values: raw, positionals } = parseCommandArgs(commandSpec('daemon')!, argv);
  if (positionals.length > 0) throw new UsageError('ERR_USAGE', `daemon: unexpected argument "${positionals[0]}". Run "upkeep daemon --help".`);
  const values = raw as { host?: string; port?: string; dashboard?: string; 'no-watch'?: boolean };
  const port = values.port !== undefined ? Number(values.port) : undefined;
  if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) throw new UsageError('ERR_USAGE', '--port must be 0–65535');

  const core = await createDaemon({ ...(configPath ? { configPath } : {}), actor: 'api' });
  const cfg = core.config();
  const detachLog = attachDaemonLog(core, cfg.config, io);
  let server: RunningServer | null = null;
  if (cfg.config.api.enabled) {
    server = await startServer(core, {
      host: values.host ?? cfg.config.api.host,
      port: port ?? cfg.config.api.port,
      staticDir: values.dashboard ?? dashboardDir(),
    });
  }
  core.startScheduler();
  const ready = { event: 'ready', pid: process.pid, url: server?.url ?? null, config: cfg.path, config_generation: (await core.info()).config_generation };
  io.out(io.json ? JSON.stringify(ready) : `Upkeep daemon running (pid ${process.pid})${server ? ` — API and dashboard on ${server.url}` : ' — API disabled'}`);

  const reload = (why: string) => {
    core.reloadConfig(why).then(
      (r) => io.err(`config reloaded (${why}): generation ${r.config_generation}${r.restart_required.length ? `; restart required for ${r.restart_required.join(', ')}` : ''}`),
      (err) => io.err(`config reload (${why}) failed, keeping the running config: ${(err as Error).message}`),
    );
  };
  let watcher: FSWatcher | null = null;
  let timer: NodeJS.Timeout | null = null;
  if (cfg.path && !values['no-watch']) {
    // Editors replace files, so watch the directory and filter by name; debounce bursts of events.
    const file = path.basename(cfg.path);
    watcher = watch(path.dirname(cfg.path), (_ev, name) => {
      if (name !== file) return;
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => reload('file change'), 300);
    });
  }
  const onHup = () => reload('SIGHUP');
  process.on('SIGHUP', onHup);

  /** Targets with an operation in progress (what a stop has to wait for). */
  const runningTargets = async (): Promise<string[]> => {
    try {
      return (await core.listTargets()).filter((t) => 'progress' in t.state).map((t) => t.id);
    } catch {
      return [];
    }
  };

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = async (sig: string) => {
      const running = await runningTargets();
      if (stopping) {
        io.err(running.length ? `${sig}: still stopping; waiting for ${running.join(', ')} to finish safely` : `${sig}: still stopping`);
        return;
      }
      stopping = true;
      io.err(running.length ? `${sig}: stopping once the running operation on ${running.join(', ')} has finished safely` : `${sig}: stopping`);
      watcher?.close();
      if (timer) clearTimeout(timer);
      process.off('SIGHUP', onHup);
      // Finish (or safely abort) the running operations first, while the API can still answer
      // the callers waiting on them (new mutations get ERR_BUSY meanwhile); then stop listening.
      await core.close();
      await new Promise((r) => setImmediate(r));
      await server?.close();
      detachLog();
      process.off('SIGTERM', onTerm);
      process.off('SIGINT', onInt);
      io.err('stopped');
      resolve(0);
    };
    // Kept for the whole shutdown: a second signal must not kill a half-done apply.
    const onTerm = () => void stop('SIGTERM');
    const onInt = () => void stop('SIGINT');
    process.on('SIGTERM', onTerm);
    process.on('SIGINT', onInt);
  });
}
