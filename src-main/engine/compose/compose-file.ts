/**
 * Reading a Compose file (the Compose Specification's YAML) for what a `compose` target needs:
 * each service's image reference, with `${VAR}`, `${VAR:-default}`, `${VAR-default}` and `$$`
 * interpolated from the environment and the project's `.env` file the way `docker compose` does.
 * Services built from source (`build:` without `image:`) have no registry image and are not
 * managed. Writing the pin override file (services → images pinned by digest) lives here too.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { UsageError } from '../../../src-shared/errors';
import { writeFileDurable } from '../fs/atomic';
import { parseImageRef, type ImageRef } from './image-ref';

/** Largest compose file read (bytes). */
const MAX_COMPOSE_BYTES = 1024 * 1024;

export interface ComposeService {
  name: string;
  /** The image as written after interpolation. */
  image: string;
  ref: ImageRef;
}

/** Parses `KEY=value` lines of a `.env` file (comments, blank lines and `export ` allowed). */
export function parseDotEnv(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!m) continue;
    let v = m[2] ?? '';
    if ((v.startsWith('"') && v.endsWith('"')) || (v.startsWith("'") && v.endsWith("'"))) v = v.slice(1, -1);
    out[m[1] ?? ''] = v;
  }
  return out;
}

/** Interpolates `${VAR}`, `${VAR:-d}`, `${VAR-d}`, `${VAR:?msg}`, `$VAR` and `$$` in one value. */
export function interpolate(value: string, env: Record<string, string | undefined>, where: string): string {
  return value.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (all, name?: string, op?: string, arg?: string, bare?: string) => {
    if (all === '$$') return '$';
    const key = (name ?? bare) as string;
    const v = env[key];
    const unsetOrEmpty = v === undefined || v === '';
    if (op === ':-') return unsetOrEmpty ? (arg ?? '') : v;
    if (op === '-') return v === undefined ? (arg ?? '') : v;
    if (op === ':?' || op === '?') {
      if (op === ':?' ? unsetOrEmpty : v === undefined) throw new UsageError('ERR_CONFIG_INVALID', `${where}: ${key} is required${arg ? `: ${arg}` : ''}`);
      return v as string;
    }
    return v ?? '';
  });
}

/**
 * The services of a compose file that run a registry image, in file order, filtered to `only`
 * when given. Throws UsageError ERR_CONFIG_INVALID for an unreadable or invalid file, a service
 * named in `only` that does not exist or has no image, or an invalid image reference.
 */
export async function readComposeServices(file: string, only?: string[], env: Record<string, string | undefined> = process.env): Promise<ComposeService[]> {
  let text: string;
  try {
    const st = await fsp.stat(file);
    if (!st.isFile()) throw new UsageError('ERR_CONFIG_INVALID', `${file} is not a regular file`);
    if (st.size > MAX_COMPOSE_BYTES) throw new UsageError('ERR_CONFIG_INVALID', `${file} is larger than ${MAX_COMPOSE_BYTES} bytes`);
    text = await fsp.readFile(file, 'utf8');
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError('ERR_CONFIG_INVALID', `Cannot read compose file ${file}: ${(err as Error).message}`, { file });
  }
  let dotenv: Record<string, string> = {};
  try {
    dotenv = parseDotEnv(await fsp.readFile(path.join(path.dirname(file), '.env'), 'utf8'));
  } catch { /* no .env file */ }
  let doc: unknown;
  try {
    doc = YAML.parse(text, { maxAliasCount: 100 });
  } catch (err) {
    throw new UsageError('ERR_CONFIG_INVALID', `${file}: ${(err as Error).message}`, { file });
  }
  const services = (doc && typeof doc === 'object' ? (doc as { services?: unknown }).services : undefined);
  if (!services || typeof services !== 'object') throw new UsageError('ERR_CONFIG_INVALID', `${file} has no services`, { file });
  const vars = { ...dotenv, ...env };
  const out: ComposeService[] = [];
  for (const [name, svc] of Object.entries(services as Record<string, unknown>)) {
    const image = svc && typeof svc === 'object' ? (svc as { image?: unknown }).image : undefined;
    if (typeof image !== 'string') continue;
    const resolved = interpolate(image, vars, `${file}: services.${name}.image`);
    out.push({ name, image: resolved, ref: parseImageRef(resolved) });
  }
  if (only && only.length > 0) {
    for (const want of only) {
      if (!out.some((s) => s.name === want)) throw new UsageError('ERR_CONFIG_INVALID', `${file} has no service "${want}" with an image`, { file, service: want });
    }
    return out.filter((s) => only.includes(s.name));
  }
  if (out.length === 0) throw new UsageError('ERR_CONFIG_INVALID', `${file} has no service with an image`, { file });
  return out;
}

/**
 * Writes the override file that pins services to digests (`services.<name>.image:
 * repo@sha256:…`), durably; passed as a second `-f` so the user's compose file is never edited.
 */
export async function writePinFile(file: string, pins: Record<string, string>): Promise<void> {
  const services = Object.fromEntries(Object.entries(pins).sort(([a], [b]) => a.localeCompare(b)).map(([name, image]) => [name, { image }]));
  await writeFileDurable(file, `# Written by Upkeep: the image digests this stack runs. Do not edit.\n${YAML.stringify({ services })}`);
}
