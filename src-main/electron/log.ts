/**
 * Main-process logging through electron-log: one rotating file in the app's logs folder plus the
 * console. Renderer console output is captured into the same log (spyRendererConsole), so no
 * extra IPC channel or renderer-side logger is needed.
 */
import log from 'electron-log/main';
import type { LogLine } from '../../src-shared/api';

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';

/** The logger every Electron-side module uses. */
export const mainLog = log;

let initialised = false;

/** Sets electron-log up once: file + console transports at `level`, renderer console captured, uncaught errors logged. */
export function initLogging(level: LogLevel = 'info'): typeof log {
  if (!initialised) {
    log.initialize({ preload: false, spyRendererConsole: true });
    log.errorHandler.startCatching({ showDialog: false });
    initialised = true;
  }
  setLogLevel(level);
  return log;
}

/** Changes the level of both transports (e.g. after a config reload). */
export function setLogLevel(level: LogLevel): void {
  log.transports.file.level = level;
  log.transports.console.level = level;
}

/** Writes one engine log line (from the core's event stream) into the main log. */
export function logEngineLine(line: LogLine): void {
  const text = line.target ? `[${line.target}] ${line.message}` : line.message;
  log.scope('engine')[line.level](text);
}
