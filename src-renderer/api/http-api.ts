/**
 * `UpdaterApi` over the daemon's local HTTP API, for the web dashboard. Requests carry
 * `Authorization: Bearer <token>` when a token is set; the live event stream is read with `fetch`
 * and a body reader (so the header can be sent, which `EventSource` cannot do) and reconnects with
 * exponential backoff when it drops.
 */
import {
  ApiError,
  errorDetails,
  type ApplyResult,
  type CheckResult,
  type DaemonInfo,
  type DownloadResult,
  type HistoryRecord,
  type LogLine,
  type ReleaseList,
  type RollbackPointView,
  type RollbackResult,
  type SettingsPatch,
  type TargetView,
  type UpkeepEvent,
} from '../../src-shared/api';
import { SseParser, type SseMessage } from './sse';
import { CLIENT_ERROR, type ConnectionState, type RendererApi, type SessionView } from './types';

/** sessionStorage key of the dashboard's bearer token. */
export const TOKEN_STORAGE_KEY = 'upkeep.token';

type TokenStorage = Pick<Storage, 'getItem' | 'setItem' | 'removeItem'>;

export interface HttpApiOptions {
  /** Origin (and optional path prefix) of the daemon, e.g. the page's own `location.origin`. */
  baseUrl: string;
  /** The fetch to use; defaults to the global one. */
  fetch?: typeof fetch;
  /** Where the token is kept between reloads of the tab; null keeps it in memory only. */
  storage?: TokenStorage | null;
  /** First reconnect delay of the event stream (doubles per failure). Default 1 s. */
  minRetryMs?: number;
  /** Longest reconnect delay. Default 30 s. */
  maxRetryMs?: number;
}

const EVENT_TYPES = new Set<UpkeepEvent['type']>(['state', 'progress', 'notification', 'log']);

/** Status-derived codes for error responses that carry no code of their own. */
function codeForStatus(status: number): string {
  if (status === 400) return 'ERR_BAD_REQUEST';
  if (status === 401) return 'ERR_UNAUTHORIZED';
  if (status === 403) return 'ERR_FORBIDDEN';
  if (status === 404) return 'ERR_NOT_FOUND';
  if (status === 409) return 'ERR_BUSY';
  return 'ERR_INTERNAL';
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Builds the ApiError for a non-2xx response: `{error:{code,message}}`, or top-level code/message, or the status alone. */
export function errorFromResponse(status: number, body: unknown, statusText = ''): ApiError {
  let code: string | undefined;
  let message: string | undefined;
  let details: Record<string, unknown> | undefined;
  if (isRecord(body)) {
    const nested = isRecord(body.error) ? body.error : undefined;
    const pick = (key: string): string | undefined => {
      const v = nested?.[key] ?? body[key];
      return typeof v === 'string' && v !== '' ? v : undefined;
    };
    code = pick('code');
    message = pick('message') ?? (typeof body.error === 'string' ? body.error : undefined);
    details = errorDetails(nested) ?? errorDetails(body);
  }
  return new ApiError(code ?? codeForStatus(status), message ?? `Request failed with HTTP ${status}${statusText ? ` ${statusText}` : ''}`, status, details);
}

/** Parses one stream message into an UpkeepEvent, or null when it is not one (keep-alives, unknown kinds). */
export function parseEventMessage(message: SseMessage): UpkeepEvent | null {
  let value: unknown;
  try {
    value = JSON.parse(message.data);
  } catch {
    return null;
  }
  if (!isRecord(value) || typeof value.type !== 'string') return null;
  if (!EVENT_TYPES.has(value.type as UpkeepEvent['type'])) return null;
  return value as unknown as UpkeepEvent;
}

/** Creates the HTTP implementation. Methods are plain closures: safe to pass around unbound. */
export function createHttpApi(options: HttpApiOptions): RendererApi {
  const base = options.baseUrl.replace(/\/+$/, '');
  const doFetch: typeof fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  const storage = options.storage ?? null;
  const minRetry = options.minRetryMs ?? 1_000;
  const maxRetry = options.maxRetryMs ?? 30_000;

  let token: string | null = readStoredToken();

  function readStoredToken(): string | null {
    try {
      const t = storage?.getItem(TOKEN_STORAGE_KEY);
      return t ? t : null;
    } catch {
      return null;
    }
  }

  const enc = encodeURIComponent;

  function authHeaders(): Record<string, string> {
    return token ? { Authorization: `Bearer ${token}` } : {};
  }

  async function request<T>(method: string, path: string, body?: unknown, withToken: string | null = token): Promise<T> {
    const headers: Record<string, string> = { Accept: 'application/json', ...(withToken ? { Authorization: `Bearer ${withToken}` } : {}) };
    const init: RequestInit = { method, headers, cache: 'no-store', credentials: 'same-origin' };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let res: Response;
    try {
      res = await doFetch(base + path, init);
    } catch (err) {
      const detail = err instanceof Error ? err.message : String(err);
      throw new ApiError(CLIENT_ERROR.network, `Cannot reach the Upkeep daemon (${detail})`);
    }
    let text: string;
    try {
      text = await res.text();
    } catch (err) {
      throw new ApiError(CLIENT_ERROR.network, 'The connection to the Upkeep daemon dropped', res.status);
    }
    let parsed: unknown = undefined;
    if (text !== '') {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = undefined;
      }
    }
    if (!res.ok) throw errorFromResponse(res.status, parsed, res.statusText);
    if (parsed === undefined) {
      throw new ApiError(CLIENT_ERROR.badResponse, `The daemon sent a response that is not JSON (HTTP ${res.status})`, res.status);
    }
    return parsed as T;
  }

  // ---- event stream -------------------------------------------------------------------------
  const listeners = new Set<(event: UpkeepEvent) => void>();
  const connectionListeners = new Set<(state: ConnectionState) => void>();
  let connection: ConnectionState = 'connecting';
  let controller: AbortController | null = null;
  let retryTimer: ReturnType<typeof setTimeout> | null = null;
  let failures = 0;
  let serverRetryMs: number | null = null;
  let lastEventId: string | null = null;

  function setConnection(next: ConnectionState): void {
    if (next === connection) return;
    connection = next;
    for (const l of [...connectionListeners]) l(next);
  }

  function deliver(message: SseMessage): void {
    if (message.lastEventId !== null) lastEventId = message.lastEventId;
    const event = parseEventMessage(message);
    if (!event) return;
    for (const l of [...listeners]) {
      try {
        l(event);
      } catch (err) {
        console.error('Upkeep event listener failed', err);
      }
    }
  }

  function nextDelay(): number {
    const floor = Math.max(minRetry, serverRetryMs ?? 0);
    const exp = Math.min(maxRetry, floor * 2 ** Math.min(failures, 16));
    failures++;
    // Jitter (50–100 %) so many dashboards do not reconnect in lock-step after a daemon restart.
    return Math.round(exp * (0.5 + Math.random() * 0.5));
  }

  function scheduleReconnect(delay: number): void {
    if (retryTimer !== null || listeners.size === 0) return;
    retryTimer = setTimeout(() => {
      retryTimer = null;
      void connect();
    }, delay);
  }

  async function connect(): Promise<void> {
    if (controller || listeners.size === 0) return;
    const ctrl = new AbortController();
    controller = ctrl;
    const headers: Record<string, string> = { Accept: 'text/event-stream', ...authHeaders() };
    if (lastEventId !== null) headers['Last-Event-ID'] = lastEventId;
    let unauthorized = false;
    try {
      const res = await doFetch(`${base}/api/events`, { method: 'GET', headers, signal: ctrl.signal, cache: 'no-store', credentials: 'same-origin' });
      if (res.status === 401 || res.status === 403) {
        unauthorized = true;
        void res.body?.cancel().catch(() => undefined);
      } else if (!res.ok || !res.body) {
        void res.body?.cancel().catch(() => undefined);
      } else {
        const parser = new SseParser();
        const reader = res.body.getReader();
        setConnection('online');
        failures = 0;
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          for (const m of parser.push(value)) deliver(m);
          if (parser.retryMs !== null) serverRetryMs = parser.retryMs;
        }
        for (const m of parser.end()) deliver(m);
      }
    } catch {
      // Network failure or abort: handled below.
    }
    if (controller !== ctrl) return; // replaced or closed meanwhile
    controller = null;
    if (ctrl.signal.aborted || listeners.size === 0) return;
    if (unauthorized) {
      setConnection('unauthorized');
      // Wait long: a new token (setToken) reconnects at once.
      scheduleReconnect(maxRetry);
      return;
    }
    setConnection('offline');
    scheduleReconnect(nextDelay());
  }

  function disconnect(): void {
    if (retryTimer !== null) clearTimeout(retryTimer);
    retryTimer = null;
    const ctrl = controller;
    controller = null;
    ctrl?.abort();
  }

  function reconnectNow(): void {
    if (listeners.size === 0) return;
    disconnect();
    failures = 0;
    if (connection !== 'online') setConnection('connecting');
    void connect();
  }

  return {
    transport: 'http',
    info: () => request<DaemonInfo>('GET', '/api/info'),
    listTargets: () => request<TargetView[]>('GET', '/api/targets'),
    getTarget: (id) => request<TargetView>('GET', `/api/targets/${enc(id)}`),
    check: (id) => request<CheckResult>('POST', `/api/targets/${enc(id)}/check`),
    download: (id, version) => request<DownloadResult>('POST', `/api/targets/${enc(id)}/download`, version === undefined ? {} : { version }),
    apply: (id, opts) => {
      const body: { version?: string; verify_only?: boolean } = {};
      if (opts?.version !== undefined) body.version = opts.version;
      if (opts?.verify_only !== undefined) body.verify_only = opts.verify_only;
      return request<ApplyResult>('POST', `/api/targets/${enc(id)}/apply`, body);
    },
    cancel: (id) => request<{ cancelled: boolean }>('POST', `/api/targets/${enc(id)}/cancel`),
    listReleases: (id) => request<ReleaseList>('GET', `/api/targets/${enc(id)}/releases`),
    listPoints: (id) => request<RollbackPointView[]>('GET', `/api/targets/${enc(id)}/points`),
    rollback: (id, rollbackId) =>
      request<RollbackResult>('POST', rollbackId === undefined ? `/api/targets/${enc(id)}/rollback` : `/api/targets/${enc(id)}/rollback/${enc(rollbackId)}`),
    history: (id, limit) => {
      const q = limit === undefined ? '' : `?limit=${limit}`;
      return request<HistoryRecord[]>('GET', id === undefined ? `/api/history${q}` : `/api/targets/${enc(id)}/history${q}`);
    },
    skipVersion: (id, version) => request<TargetView>('POST', `/api/targets/${enc(id)}/skip`, { version }),
    updateSettings: (id, patch: SettingsPatch) => request<TargetView>('PATCH', `/api/targets/${enc(id)}/settings`, patch),
    reloadConfig: async () => {
      const r = await request<{ config_generation: number; restart_required?: string[] }>('POST', '/admin/reload');
      return { config_generation: r.config_generation, restart_required: r.restart_required ?? [] };
    },
    logs: (limit) => request<LogLine[]>('GET', `/api/logs${limit === undefined ? '' : `?limit=${limit}`}`),
    subscribe: (listener) => {
      listeners.add(listener);
      if (listeners.size === 1) {
        failures = 0;
        void connect();
      }
      return () => {
        listeners.delete(listener);
        if (listeners.size === 0) {
          disconnect();
          connection = 'connecting';
        }
      };
    },
    onConnectionChange: (listener) => {
      connectionListeners.add(listener);
      listener(connection);
      return () => connectionListeners.delete(listener);
    },
    getToken: () => token,
    checkToken: (candidate) => request<SessionView>('GET', '/api/session', undefined, candidate.trim()),
    setToken: (next) => {
      token = next && next.trim() !== '' ? next.trim() : null;
      try {
        if (token) storage?.setItem(TOKEN_STORAGE_KEY, token);
        else storage?.removeItem(TOKEN_STORAGE_KEY);
      } catch {
        // Storage may be unavailable (private mode); the token still works for this page.
      }
      reconnectNow();
    },
  };
}
