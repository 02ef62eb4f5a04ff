/**
 * Config validation of `trust.keys` lines (kinds in engine/trust/trusted-keys.ts). The schema checks
 * each line's syntax (kind, base64, length) synchronously; `checkTrustKeys` then reads the key and
 * certificate files of `openpgp:`/`x509:` lines and refuses repeated key material, reporting every
 * problem as `<file>:<line>:<col>: targets[i].trust.keys[j]: <message> (ERR_KEY_INVALID)` like any
 * other config error.
 */
import path from 'node:path';
import type { Document, LineCounter, Node as YamlNode } from 'yaml';
import { ConfigError, UsageError } from '../../../src-shared/errors';
import { loadTrustedKey, parseKeyLine, type TrustedKey } from '../trust/trusted-keys';
import type { LoadedConfig } from './load';

/** The schema's check of one line: null when its syntax is valid, else the message to show. */
export function keyLineProblem(line: string): string | null {
  try {
    parseKeyLine(line);
    return null;
  } catch (err) {
    if (err instanceof UsageError) return `${err.message} (${err.code})`;
    throw err;
  }
}

/** Resolves the FILE of an `openpgp:`/`x509:` line against `dir`; other lines are returned as they are. */
export function resolveKeyLine(line: string, dir: string): string {
  const m = /^\s*(openpgp|x509):\s*(.+?)\s*$/.exec(line);
  if (!m) return line;
  return `${m[1]}:${path.isAbsolute(m[2]!) ? m[2]! : path.resolve(dir, m[2]!)}`;
}

interface KeyIssue {
  path: string;
  line: number | null;
  col: number | null;
  message: string;
}

/**
 * Loads every target's trust keys (reading key files) and throws one ConfigError (ERR_CONFIG_INVALID)
 * listing each bad line with its position in the config text; details.issues as for other config
 * errors. Returns the loaded keys per target id when all are valid.
 */
export async function checkTrustKeys(loaded: LoadedConfig): Promise<Map<string, TrustedKey[]>> {
  const issues: KeyIssue[] = [];
  const out = new Map<string, TrustedKey[]>();
  let lc: LineCounter | null = null;
  let doc: Document | null = null;
  const position = (keyPath: (string | number)[]): { line: number | null; col: number | null } => {
    if (loaded.text === null) return { line: null, col: null };
    if (!doc) {
      // The YAML parser is loaded only to place an error: a valid config may come from the cache.
      const { LineCounter, parseDocument } = require('yaml') as typeof import('yaml');
      lc = new LineCounter();
      doc = parseDocument(loaded.text, { lineCounter: lc });
    }
    const node = doc.getIn(keyPath, true) as YamlNode | undefined;
    if (!node?.range || !lc) return { line: null, col: null };
    const p = (lc as LineCounter).linePos(node.range[0]);
    return { line: p.line, col: p.col };
  };
  for (const [ti, target] of loaded.config.targets.entries()) {
    const lines = (target.kind === 'files' || target.kind === 'command') ? target.trust?.keys ?? [] : [];
    const keys: TrustedKey[] = [];
    const seen = new Map<string, number>();
    for (const [ki, line] of lines.entries()) {
      const keyPath = ['targets', ti, 'trust', 'keys', ki];
      const shown = `targets[${ti}].trust.keys[${ki}]`;
      try {
        const key = await loadTrustedKey(line);
        const prev = seen.get(key.id);
        if (prev !== undefined) {
          issues.push({ path: shown, ...position(keyPath), message: `the same key as trust.keys[${prev}] (${key.label}); each key counts once (ERR_KEY_INVALID)` });
          continue;
        }
        seen.set(key.id, ki);
        keys.push(key);
      } catch (err) {
        if (!(err instanceof UsageError)) throw err;
        issues.push({ path: shown, ...position(keyPath), message: `${err.message} (${err.code})` });
      }
    }
    out.set(target.id, keys);
  }
  if (issues.length > 0) {
    const label = loaded.path ?? '<config>';
    const text = issues.map((i) => `${label}${i.line !== null ? `:${i.line}:${i.col}` : ''}: ${i.path}: ${i.message}`).join('\n');
    throw new ConfigError(text, { file: loaded.path, issues });
  }
  return out;
}
