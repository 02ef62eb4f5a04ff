/**
 * Loading the one YAML config file: parse (keeping source positions), apply environment
 * overrides, validate with the zod schema, resolve relative paths against the file's directory.
 * Every problem is reported as `<file>:<line>:<col>: <key.path>: <message>`, all at once.
 */
import path from 'node:path';
import { LineCounter, parseDocument, isMap, isScalar, isAlias, visit, type Document, type Node as YamlNode } from 'yaml';
import type { z } from 'zod';
import { ConfigError } from '../../../src-shared/errors';
import { ConfigSchema, type Config, type TargetConfig } from './schema';
import { applyEnvOverrides } from './env';
import { checkTrustKeys, resolveKeyLine } from './trust-keys';
import { cachedLoad, recordEnvReads, writeCachedConfig, type ConfigCacheOptions } from './config-cache';
import { configFilePath, readConfigFile } from './read-file';

export { MAX_CONFIG_BYTES, readConfigFile } from './read-file';
export { defaultTarget, findTarget } from './targets';

export interface LoadedConfig {
  config: Config;
  /** Absolute path of the file, null when parsed from text only. */
  path: string | null;
  /** Directory relative paths were resolved against. */
  dir: string;
  /** The file's text as read (null when there was none). */
  text: string | null;
}

export interface ConfigIssue {
  /** Key path like `targets[0].health.url` (`(root)` for the document itself). */
  path: string;
  line: number | null;
  col: number | null;
  message: string;
}

/** Formats a zod path as `a.b[0].c`. */
export function formatKeyPath(p: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of p) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out === '' ? String(seg) : `.${String(seg)}`;
  }
  return out === '' ? '(root)' : out;
}

type Pos = { line: number; col: number } | null;

/** The start of the closest node that exists along `p` (the node itself when present). */
function locate(doc: Document, lc: LineCounter, p: readonly PropertyKey[], key?: string): Pos {
  const keys = p.map((s) => (typeof s === 'symbol' ? String(s) : s));
  for (let i = keys.length; i >= 0; i--) {
    const node = (i === 0 ? doc.contents : doc.getIn(keys.slice(0, i), true)) as YamlNode | null | undefined;
    if (!node || !node.range) continue;
    let offset = node.range[0];
    if (key !== undefined && i === keys.length && isMap(node)) {
      const pair = node.items.find((it) => isScalar(it.key) && String(it.key.value) === key);
      const k = pair?.key as YamlNode | undefined;
      if (k?.range) offset = k.range[0];
    }
    return lc.linePos(offset);
  }
  // An empty document has no nodes: point at its start.
  return { line: 1, col: 1 };
}

function tidyMessage(message: string): string {
  // zod says "Invalid input: expected string, received undefined" for a missing key.
  const m = /^Invalid input: expected (.+), received undefined$/.exec(message);
  return m ? `required (expected ${m[1]})` : message;
}

function zodIssues(doc: Document, lc: LineCounter, error: z.ZodError): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  for (const issue of error.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        const pos = locate(doc, lc, issue.path, key);
        out.push({ path: formatKeyPath([...issue.path, key]), line: pos?.line ?? null, col: pos?.col ?? null, message: `unknown key "${key}"` });
      }
      continue;
    }
    const pos = locate(doc, lc, issue.path);
    out.push({ path: formatKeyPath(issue.path), line: pos?.line ?? null, col: pos?.col ?? null, message: tidyMessage(issue.message) });
  }
  return out;
}

function fail(file: string | null, issues: ConfigIssue[]): ConfigError {
  const label = file ?? '<config>';
  const lines = issues.map((i) => `${label}${i.line !== null ? `:${i.line}:${i.col}` : ''}: ${i.path}: ${i.message}`);
  return new ConfigError(lines.join('\n'), {
    file,
    issues: issues.map((i) => ({ path: i.path, line: i.line, col: i.col, message: i.message })),
  });
}

/** True for `scheme:...` strings (URLs), false for Windows drive paths like `C:\x`. */
function isUrlLike(s: string): boolean {
  return /^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(s) && !/^[a-zA-Z]:([\\/]|$)/.test(s);
}

function resolveIn(dir: string, p: string): string {
  return path.isAbsolute(p) ? path.normalize(p) : path.resolve(dir, p);
}

/** Resolves every path setting against `dir` (the config file's directory), returning a new config. */
function resolvePaths(config: Config, dir: string): Config {
  const stateDir = resolveIn(dir, config.state_dir);
  return {
    ...config,
    state_dir: stateDir,
    download_dir: config.download_dir ? resolveIn(dir, config.download_dir) : path.join(stateDir, 'downloads'),
    backup_dir: config.backup_dir ? resolveIn(dir, config.backup_dir) : path.join(stateDir, 'points'),
    log: { ...config.log, ...(config.log.file ? { file: resolveIn(dir, config.log.file) } : {}) },
    targets: config.targets.map((t) => {
      const next = { ...t, install_dir: resolveIn(dir, t.install_dir) } as TargetConfig;
      if (next.kind === 'git') {
        const st = next.trust?.signed_tags;
        if (st) {
          next.trust = { signed_tags: {
            ...(st.ssh_allowed_signers ? { ssh_allowed_signers: resolveIn(dir, st.ssh_allowed_signers) } : {}),
            ...(st.openpgp_keys ? { openpgp_keys: st.openpgp_keys.map((f) => resolveIn(dir, f)) } : {}),
          } };
        }
        return next;
      }
      if (next.kind === 'compose') {
        next.compose_file = resolveIn(dir, next.compose_file);
        if (next.registry_auth) next.registry_auth = { file: resolveIn(dir, next.registry_auth.file) };
        return next;
      }
      if (next.feed && !isUrlLike(next.feed.url)) next.feed = { ...next.feed, url: resolveIn(dir, next.feed.url) };
      if (next.trust?.tuf_root) next.trust = { ...next.trust, tuf_root: resolveIn(dir, next.trust.tuf_root) };
      if (next.trust) next.trust = { ...next.trust, keys: next.trust.keys.map((k) => resolveKeyLine(k, dir)) };
      return next;
    }),
  };
}

/** Most alias nodes (`*name`) a config document may hold. */
export const MAX_CONFIG_ALIASES = 100;
/** The YAML 1.2 core schema's tags: the only explicit tags a config may use. */
const CORE_TAGS = new Set(['tag:yaml.org,2002:str', 'tag:yaml.org,2002:int', 'tag:yaml.org,2002:float', 'tag:yaml.org,2002:bool', 'tag:yaml.org,2002:null', 'tag:yaml.org,2002:map', 'tag:yaml.org,2002:seq']);

/** Explicit tags outside the core schema and alias counts above the limit, as issues with positions. */
function documentIssues(doc: Document, lc: LineCounter): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  let aliases = 0;
  let aliasPos: Pos = null;
  visit(doc, {
    Node(_key, node) {
      const at = node.range ? lc.linePos(node.range[0]) : null;
      if (isAlias(node)) {
        aliases++;
        if (aliases === MAX_CONFIG_ALIASES + 1) aliasPos = at;
        return undefined;
      }
      if (node.tag !== undefined && !CORE_TAGS.has(node.tag)) {
        out.push({ path: '(syntax)', line: at?.line ?? null, col: at?.col ?? null, message: `custom YAML tag ${node.tag} is not allowed` });
      }
      return undefined;
    },
  });
  if (aliases > MAX_CONFIG_ALIASES) {
    const at = aliasPos as Pos;
    out.push({ path: '(syntax)', line: at?.line ?? null, col: at?.col ?? null, message: `more than ${MAX_CONFIG_ALIASES} aliases` });
  }
  return out;
}

/**
 * Parses and validates config text. Environment overrides (see env.ts) apply before validation;
 * relative paths resolve against `dir`. Throws ConfigError listing every problem with its line.
 */
export function parseConfig(text: string, o: { file: string | null; dir: string; env?: NodeJS.ProcessEnv }): LoadedConfig {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, schema: 'core', customTags: [] });
  if (doc.errors.length > 0) {
    throw fail(o.file, doc.errors.map((e) => {
      const pos = lc.linePos(e.pos[0]);
      return { path: '(syntax)', line: pos.line, col: pos.col, message: e.message.split('\n')[0]! };
    }));
  }
  const shape = documentIssues(doc, lc);
  if (shape.length > 0) throw fail(o.file, shape);
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: MAX_CONFIG_ALIASES });
  } catch (err) {
    throw fail(o.file, [{ path: '(syntax)', line: null, col: null, message: (err as Error).message }]);
  }
  applyEnvOverrides(raw, o.env ?? process.env);
  // jitless: zod would otherwise generate and compile a parser per object schema on this first
  // parse, which costs more than it saves for a document validated once per load. Same checks.
  const parsed = ConfigSchema.safeParse(raw ?? {}, { jitless: true });
  if (!parsed.success) throw fail(o.file, zodIssues(doc, lc, parsed.error));
  return { config: resolvePaths(parsed.data, o.dir), path: o.file, dir: o.dir, text };
}

/**
 * Reads and validates the config file: `o.path`, else $UPKEEP_CONFIG, else `<cwd>/upkeep.yaml`.
 * With `o.cache`, a result stored for the same file, text, program and environment is used
 * (config-cache.ts) and a new result is stored.
 * A missing or unreadable file, a file that is not regular (FIFO, device) or one larger than
 * MAX_CONFIG_BYTES is a ConfigError naming the path; so is an `openpgp:`/`x509:` trust key whose
 * file is missing or not one key/certificate (checkTrustKeys, with line and column).
 */
export async function loadConfig(o: { path?: string; env?: NodeJS.ProcessEnv; cwd?: string; cache?: ConfigCacheOptions } = {}): Promise<LoadedConfig> {
  const env = o.env ?? process.env;
  const file = configFilePath(o);
  const text = await readConfigFile(file);
  const dir = path.dirname(file);
  const cached = o.cache ? await cachedLoad(o.cache, file, text, env) : null;
  if (cached) return cached;
  const reads = o.cache ? recordEnvReads(env) : null;
  const loaded = parseConfig(text, { file, dir, env: reads ? reads.env : env });
  await checkTrustKeys(loaded);
  if (o.cache && reads) writeCachedConfig(o.cache, file, text, reads, loaded.config);
  return loaded;
}

/** Names of the settings that differ between two configs and only take effect after a restart. */
export function diffRestartRequired(oldCfg: Config, newCfg: Config): string[] {
  const pairs: [string, unknown, unknown][] = [
    ['api.enabled', oldCfg.api.enabled, newCfg.api.enabled],
    ['api.host', oldCfg.api.host, newCfg.api.host],
    ['api.port', oldCfg.api.port, newCfg.api.port],
    ['state_dir', oldCfg.state_dir, newCfg.state_dir],
    ['download_dir', oldCfg.download_dir, newCfg.download_dir],
    ['backup_dir', oldCfg.backup_dir, newCfg.backup_dir],
    ['log.file', oldCfg.log.file, newCfg.log.file],
  ];
  return pairs.filter(([, a, b]) => a !== b).map(([name]) => name);
}
