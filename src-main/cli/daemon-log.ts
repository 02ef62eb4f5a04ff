/**
 * Daemon logging through electron-log's Node entry: a rotating file (config log.file, default
 * <state_dir>/logs/upkeep.log) and the console, fed by the engine's log and notification events.
 */
import path from 'node:path';
import log from 'electron-log/node';
import type { DaemonCore } from '../engine/daemon-types';
import type { Config } from '../engine/config/schema';
import type { CliIO } from './io';

const MAX_LOG_BYTES = 5 * 1024 * 1024;

/** Routes the core's events to the log; returns the function that stops it. */
export function attachDaemonLog(core: DaemonCore, config: Config, io: CliIO): () => void {
  const file = config.log.file ?? path.join(config.state_dir, 'logs', 'upkeep.log');
  log.transports.file.resolvePathFn = () => file;
  log.transports.file.maxSize = MAX_LOG_BYTES;
  log.transports.file.level = config.log.level;
  log.transports.console.level = io.json ? false : config.log.level;
  return core.subscribe((e) => {
    if (e.type === 'log') log[e.line.level](`${e.line.target ? `[${e.line.target}] ` : ''}${e.line.message}`);
    else if (e.type === 'notification') log.info(`${e.notification.type}: ${e.notification.message}`);
  });
}
