/**
 * Post-switch health checks: an HTTP GET that must answer 2xx (and optionally report the new
 * version), or a command that must exit 0 — retried `retries` times, `interval_s` apart.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { OperationError } from '../../src-shared/errors';
import type { HealthConfig } from './config/schema';
import { runCommand } from './hooks';

/** undici, loaded on the first request (it costs tens of ms and ~20 MB at every start otherwise). */
const undici = (): typeof import('undici') => require('undici') as typeof import('undici');

export interface HealthOptions {
  /** The version that should now be running. */
  version: string;
  /** Extra environment for a command check. */
  env?: Record<string, string>;
  /** Working directory of a command check. */
  cwd?: string;
  signal?: AbortSignal;
  /** Injected wait between attempts (tests); default an abortable timer. */
  sleep?: (ms: number) => Promise<void>;
}

/** Largest response body read from a health URL; the version must appear within it. */
const MAX_BODY_BYTES = 1024 * 1024;

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * True when `text` reports `version`: as a JSON document whose top-level `version` equals it
 * (a leading "v" allowed), or, when there is no such field, as a whole word in the text
 * ("1.1.0" matches "v1.1.0 ok" but not "11.1.0" or "1.1.0-rc.1").
 */
export function reportsVersion(text: string, version: string): boolean {
  const want = version.replace(/^v/, '');
  try {
    const doc = JSON.parse(text) as unknown;
    if (doc && typeof doc === 'object' && !Array.isArray(doc) && 'version' in doc) {
      const got = (doc as { version: unknown }).version;
      return typeof got === 'string' && got.trim().replace(/^v/, '') === want;
    }
  } catch {}
  const re = new RegExp(`(?:^|[^0-9A-Za-z.])v?${escapeRe(want)}(?![0-9A-Za-z]|[.+-][0-9A-Za-z])`);
  return re.test(text);
}

function cancelled(): OperationError {
  return new OperationError('ERR_CANCELLED', 'health check cancelled');
}

async function readBounded(body: AsyncIterable<Buffer>, max: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const room = max - size;
    chunks.push(chunk.length > room ? chunk.subarray(0, room) : chunk);
    size += Math.min(chunk.length, room);
    if (size >= max) break;
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** One URL probe: null when healthy, else why not. */
async function probeUrl(url: string, h: HealthConfig, o: HealthOptions): Promise<string | null> {
  const timeoutMs = Math.round(h.timeout_s * 1000);
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = o.signal ? AbortSignal.any([o.signal, timeout]) : timeout;
  try {
    const res = await undici().request(url, {
      method: 'GET',
      signal,
      headers: { accept: 'application/json, text/plain;q=0.9, */*;q=0.5', 'user-agent': 'upkeep-health-check' },
    });
    const text = await readBounded(res.body, MAX_BODY_BYTES);
    res.body.destroy();
    if (res.statusCode < 200 || res.statusCode > 299) return `${url} answered HTTP ${res.statusCode}`;
    if (h.expect_version && !reportsVersion(text, o.version)) {
      return `${url} does not report version ${o.version} (body: ${JSON.stringify(text.slice(0, 200))})`;
    }
    return null;
  } catch (err) {
    if (o.signal?.aborted) throw cancelled();
    if (timeout.aborted) return `${url} did not answer within ${h.timeout_s}s`;
    const e = err as NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException };
    return `${url}: ${e.code ?? e.cause?.code ?? e.message}`;
  }
}

/** One command probe: null when healthy, else why not. */
async function probeCommand(cmd: string, h: HealthConfig, o: HealthOptions): Promise<string | null> {
  const res = await runCommand(cmd, { timeoutMs: Math.round(h.timeout_s * 1000), env: o.env, cwd: o.cwd, signal: o.signal, maxOutputBytes: MAX_BODY_BYTES });
  if (res.timedOut) return `command timed out after ${h.timeout_s}s`;
  if (res.code !== 0) {
    const last = res.stderr.trim().split('\n').slice(-3).join(' | ') || res.stdout.trim().split('\n').slice(-1)[0] || '';
    return `command exited with ${res.code !== null ? `code ${res.code}` : res.signal}${last ? `: ${last}` : ''}`;
  }
  if (h.expect_version && !reportsVersion(res.stdout, o.version)) return `command output does not report version ${o.version}`;
  return null;
}

/**
 * Probes until healthy, at most `retries + 1` times with `interval_s` between attempts, and
 * returns how many attempts it took. Throws OperationError ERR_HEALTH_CHECK_FAILED with the last
 * reason when every attempt failed, ERR_CANCELLED when `signal` aborts.
 */
export async function runHealthCheck(h: HealthConfig, o: HealthOptions): Promise<{ attempts: number }> {
  const total = Math.max(0, h.retries) + 1;
  const sleep = o.sleep ?? ((ms: number) => delay(ms, undefined, { signal: o.signal }).then(() => undefined));
  if (!h.url && !h.command) throw new OperationError('ERR_HEALTH_CHECK_FAILED', 'health check has neither url nor command');
  let reason = '';
  for (let attempt = 1; attempt <= total; attempt++) {
    if (o.signal?.aborted) throw cancelled();
    if (h.url) reason = (await probeUrl(h.url, h, o)) ?? '';
    else if (h.command) reason = (await probeCommand(h.command, h, o)) ?? '';
    if (reason === '') return { attempts: attempt };
    if (attempt < total) {
      try {
        await sleep(Math.round(h.interval_s * 1000));
      } catch (err) {
        if (o.signal?.aborted) throw cancelled();
        throw err;
      }
    }
  }
  throw new OperationError('ERR_HEALTH_CHECK_FAILED', `health check failed after ${total} attempt${total === 1 ? '' : 's'}: ${reason}`, {
    attempts: total,
    reason,
  });
}
