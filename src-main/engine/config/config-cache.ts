/**
 * A cache of validated configs for short-lived processes (the command line): a hit skips loading
 * the YAML parser, building the zod schemas and validating, most of what reading the config costs
 * (`upkeep status` is called in loops by scripts).
 *
 * An entry is valid for exactly one computation: the config file's path, its text, the program
 * (`program`: the build of the code that validates, the Node.js version and its ICU and time zone
 * data, which decide the time zone check, the platform) and the values of the environment
 * variables that validation read. The first four derive the entry's key, so any change to them
 * misses; the variables are recorded while validating (`recordEnvReads`: every name read, whether
 * set or not) and compared on lookup, so the same text read under other overrides misses too.
 * Validation that enumerated the environment is not cached. Only configs that validated are
 * stored, and only when their JSON form is the same value (no undefined, Date, NaN ...).
 *
 * Each entry is one file `<dir>/upkeep-config-<name>.cache` (mode 0600), sealed with
 * AES-256-GCM under a key derived from the key material above: the GCM tag is its integrity
 * check (a damaged, truncated or foreign file is a miss), and the secrets a config holds
 * (tokens, JWT secret) cannot be read from the file without the config's own text. The
 * directory must be a real directory owned by this user and writable by no one else, like V8's
 * code cache beside it (bin/upkeep.js). Any failure to read or write only means a miss.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { closeSync, fstatSync, lstatSync, mkdirSync, openSync, readdirSync, readSync, renameSync, rmSync, statSync, writeFileSync, constants as fsc } from 'node:fs';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { systemClock } from '../clock';
import type { LoadedConfig } from './load';
import { configFilePath, readConfigFile } from './read-file';
import type { Config } from './schema';
import { checkTrustKeys } from './trust-keys';

/** Where entries live and what program validates. */
export interface ConfigCacheOptions {
  /** Directory of the entries (created 0700 when missing). */
  dir: string;
  /** Identity of the validating program: changes with its code, Node.js, ICU/tz data, platform. */
  program: string;
}

/** Environment reads recorded while validating: each name read, in order, and whether the environment was enumerated. */
export interface EnvReads {
  env: NodeJS.ProcessEnv;
  /** The names read, or null when the environment was enumerated (the result then depends on all of it). */
  names(): string[] | null;
}

const FORMAT = 'upkeep-config-cache-1';
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** Largest entry read, in bytes (the config itself is at most 1 MiB). */
const MAX_ENTRY_BYTES = 4 * 1024 * 1024;
/** Entries of other configs or builds not rewritten for a day are removed when an entry is written. */
const STALE_MS = 24 * 3600 * 1000;

/** Wraps `env` so every variable name validation reads is recorded (get, `in`, descriptors). */
export function recordEnvReads(env: NodeJS.ProcessEnv): EnvReads {
  const read = new Set<string>();
  let enumerated = false;
  const proxy = new Proxy(env, {
    get(target, prop, receiver) {
      if (typeof prop === 'string') read.add(prop);
      return Reflect.get(target, prop, receiver);
    },
    has(target, prop) {
      if (typeof prop === 'string') read.add(prop);
      return Reflect.has(target, prop);
    },
    getOwnPropertyDescriptor(target, prop) {
      if (typeof prop === 'string') read.add(prop);
      return Reflect.getOwnPropertyDescriptor(target, prop);
    },
    ownKeys(target) {
      enumerated = true;
      return Reflect.ownKeys(target);
    },
  });
  return { env: proxy, names: () => (enumerated ? null : [...read]) };
}

function sha256(...parts: string[]): Buffer {
  const h = createHash('sha256');
  for (const p of parts) h.update(p, 'utf8').update('\0');
  return h.digest();
}

interface Keys {
  file: string;
  key: Buffer;
}

function keysFor(o: ConfigCacheOptions, file: string, text: string): Keys {
  const material = JSON.stringify([FORMAT, o.program, file, text]);
  const name = sha256('name', FORMAT, o.program, file).toString('hex').slice(0, 40);
  return { file: path.join(o.dir, `upkeep-config-${name}.cache`), key: sha256('key', material) };
}

/** Digest of the values of `names` in `env` (unset and set apart). */
function envDigest(env: NodeJS.ProcessEnv, names: string[]): string {
  return sha256(JSON.stringify(names.map((n) => [n, Object.prototype.hasOwnProperty.call(env, n) ? env[n] ?? null : null]))).toString('hex');
}

/** True when `dir` is a directory owned by this user that no one else can write. */
function safeDir(dir: string): boolean {
  const st = lstatSync(dir);
  const mine = typeof process.getuid !== 'function' || st.uid === process.getuid();
  return st.isDirectory() && mine && (st.mode & 0o022) === 0;
}

/** Reads one small regular file without following a link at its path; null when it is not one. */
function readEntry(file: string): Buffer | null {
  const fd = openSync(file, fsc.O_RDONLY | (fsc.O_NOFOLLOW ?? 0) | (fsc.O_NONBLOCK ?? 0));
  try {
    const st = fstatSync(fd);
    if (!st.isFile() || st.size > MAX_ENTRY_BYTES || st.size <= IV_BYTES + TAG_BYTES) return null;
    const buf = Buffer.allocUnsafe(st.size);
    let n = 0;
    while (n < buf.length) {
      const got = readSync(fd, buf, n, buf.length - n, n);
      if (got === 0) break;
      n += got;
    }
    return n === buf.length ? buf : null;
  } finally {
    closeSync(fd);
  }
}

/**
 * The validated config stored for `file` with this `text` under this program, when the
 * environment variables it read have the same values in `env`; null on any miss or failure.
 */
export function readCachedConfig(o: ConfigCacheOptions, file: string, text: string, env: NodeJS.ProcessEnv): Config | null {
  try {
    if (!safeDir(o.dir)) return null;
    const k = keysFor(o, file, text);
    const data = readEntry(k.file);
    if (!data) return null;
    const decipher = createDecipheriv('aes-256-gcm', k.key, data.subarray(0, IV_BYTES));
    decipher.setAuthTag(data.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
    const plain = Buffer.concat([decipher.update(data.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]);
    const entry = JSON.parse(plain.toString('utf8')) as { env: string; names: string[]; config: Config };
    if (!Array.isArray(entry.names) || entry.env !== envDigest(env, entry.names)) return null;
    return entry.config;
  } catch {
    return null;
  }
}

/**
 * The loaded config for `file` with this `text` from the cache, or null on a miss. Key and
 * certificate files named by trust keys are not part of the text, so they are read and checked
 * again (checkTrustKeys: a ConfigError as loadConfig would throw).
 */
export async function cachedLoad(o: ConfigCacheOptions, file: string, text: string, env: NodeJS.ProcessEnv): Promise<LoadedConfig | null> {
  const config = readCachedConfig(o, file, text, env);
  if (!config) return null;
  const loaded: LoadedConfig = { config, path: file, dir: path.dirname(file), text };
  await checkTrustKeys(loaded);
  return loaded;
}

/**
 * loadConfig's answer when the cache has it, without loading the YAML parser or the schemas;
 * null on a miss (then loadConfig with `cache` validates and stores). Throws what loadConfig
 * throws for an unreadable file or a bad trust key file.
 */
export async function loadCachedConfig(o: { path?: string; env?: NodeJS.ProcessEnv; cwd?: string; cache: ConfigCacheOptions }): Promise<LoadedConfig | null> {
  const file = configFilePath(o);
  return cachedLoad(o.cache, file, await readConfigFile(file), o.env ?? process.env);
}

/**
 * Stores a config that validated. Skipped when validation enumerated the environment or when the
 * config's JSON form is not the same value. Never throws.
 */
export function writeCachedConfig(o: ConfigCacheOptions, file: string, text: string, reads: EnvReads, config: Config): void {
  try {
    const names = reads.names();
    if (names === null) return;
    const json = JSON.stringify({ env: envDigest(reads.env, names), names, config });
    if (!isDeepStrictEqual((JSON.parse(json) as { config: unknown }).config, config)) return;
    try {
      mkdirSync(o.dir, { mode: 0o700 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    if (!safeDir(o.dir)) return;
    const k = keysFor(o, file, text);
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', k.key, iv);
    const sealed = Buffer.concat([cipher.update(json, 'utf8'), cipher.final()]);
    const tmp = `${k.file}.${process.pid}.tmp`;
    writeFileSync(tmp, Buffer.concat([iv, cipher.getAuthTag(), sealed]), { mode: 0o600, flag: 'wx' });
    renameSync(tmp, k.file);
    const own = path.basename(k.file);
    for (const name of readdirSync(o.dir)) {
      if (name === own || !/^upkeep-config-[0-9a-f]+\.cache(\.\d+\.tmp)?$/.test(name)) continue;
      const other = path.join(o.dir, name);
      if (systemClock.now().getTime() - statSync(other).mtimeMs > STALE_MS) rmSync(other, { force: true });
    }
  } catch {
    // a full or read-only directory: the next run validates again
  }
}
