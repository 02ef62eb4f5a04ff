/**
 * Which config file a command reads and reading it safely. Kept apart from load.ts (the YAML
 * parser and the schemas) so a command line that finds its config validated in the cache
 * (config-cache.ts) loads neither.
 */
import { closeSync, constants as fsc, fstatSync, openSync, readSync } from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../../../src-shared/errors';

/** Largest config file accepted, in bytes (1 MiB). */
export const MAX_CONFIG_BYTES = 1024 * 1024;

/** The config file's absolute path: `o.path`, else $UPKEEP_CONFIG, else `<cwd>/upkeep.yaml` (relative ones against `o.cwd`). */
export function configFilePath(o: { path?: string; env?: NodeJS.ProcessEnv; cwd?: string }): string {
  const env = o.env ?? process.env;
  const cwd = o.cwd ?? process.cwd();
  const chosen = o.path ?? (env.UPKEEP_CONFIG && env.UPKEEP_CONFIG.trim() !== '' ? env.UPKEEP_CONFIG : path.join(cwd, 'upkeep.yaml'));
  return path.resolve(cwd, chosen);
}

/**
 * Reads a config file that must be a regular file of at most MAX_CONFIG_BYTES. Opened
 * non-blocking so a FIFO never hangs, checked with fstat on the open descriptor (no race with a
 * swap), and read bounded so a device like /dev/zero never fills memory. Throws ConfigError.
 *
 * The calls are synchronous: the same system calls on one small local file, without a thread-pool
 * round trip for each (five of them cost a few ms of every command line start on a busy machine).
 */
export async function readConfigFile(file: string): Promise<string> {
  const refuse = (why: string): ConfigError => new ConfigError(`${file}: ${why}`, { file, issues: [{ path: '(file)', line: null, message: why }] });
  let fd: number;
  try {
    fd = openSync(file, fsc.O_RDONLY | fsc.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw refuse(code === 'ENOENT' ? 'config file not found' : code === 'EISDIR' ? 'config path is a directory' : `cannot read config file (${code ?? (err as Error).message})`);
  }
  try {
    const st = fstatSync(fd);
    if (st.isDirectory()) throw refuse('config path is a directory');
    if (!st.isFile()) throw refuse('config path is not a regular file');
    if (st.size > MAX_CONFIG_BYTES) throw refuse(`config file is larger than ${MAX_CONFIG_BYTES} bytes`);
    // Only the bytes read are used, so the buffer needs no zero-filling.
    const buf = Buffer.allocUnsafe(MAX_CONFIG_BYTES + 1);
    let n = 0;
    while (n < buf.length) {
      const bytesRead = readSync(fd, buf, n, buf.length - n, n);
      if (bytesRead === 0) break;
      n += bytesRead;
    }
    if (n > MAX_CONFIG_BYTES) throw refuse(`config file is larger than ${MAX_CONFIG_BYTES} bytes`);
    return buf.subarray(0, n).toString('utf8');
  } finally {
    closeSync(fd);
  }
}
