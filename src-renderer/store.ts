/**
 * The renderer's state: a read-only mirror of main's state, fed by events (one `state` event per
 * change replaces that target's view; `progress` events carry live progress; `notification`
 * events become toasts; `log` events feed the log view), plus UI flags (loading, connection,
 * pending actions, sign-in). Main owns the truth: actions call the API, then rely on events and
 * re-read the target once the call resolves in case an event was missed.
 */
import { createStore, type StoreApi } from 'zustand/vanilla';
import {
  ApiError,
  type DaemonInfo,
  type ErrorView,
  type LogLine,
  type Notification,
  type Progress,
  type TargetView,
  type UpkeepEvent,
} from '../src-shared/api';
import type { ConnectionState, RendererApi, SessionView } from './api/types';
import { isCancelled, progressOf } from './status';

/** Most log lines kept in memory. */
export const MAX_LOG_LINES = 1000;
/** Most toasts on screen at once (older ones give way). */
export const MAX_TOASTS = 5;

export type ToastLevel = 'info' | 'success' | 'warning' | 'error';

export interface Toast {
  id: number;
  level: ToastLevel;
  title: string;
  message: string;
  target: string | null;
  /**
   * The condition the toast is about: `target:<id>` (an operation or check of that target) or
   * `config` (reloading the configuration). A newer toast with the same key replaces the older
   * one, and an error toast leaves once its condition is gone (the target works again, the
   * configuration reloaded).
   */
  key?: string;
}

/** Toast key of everything about one target's operations. */
export function targetKey(id: string): string {
  return `target:${id}`;
}

/** Toast key of configuration reloads. */
export const CONFIG_KEY = 'config';

/** What the last user action on a target came to, shown next to its buttons. */
export interface Outcome {
  action: string;
  ok: boolean;
  message: string;
  error?: ErrorView;
  /** The user cancelled the operation: shown as "Cancelled", not as a failure. */
  cancelled?: boolean;
}

export interface AuthState {
  /** A request was refused for lack of (or an insufficient) token. */
  needed: boolean;
  message: string | null;
  code: string | null;
}

export interface UpkeepState {
  targets: Record<string, TargetView>;
  /** Target ids in the order the engine lists them. */
  order: string[];
  /** Live progress per target (newer than the last state event's copy). */
  progress: Record<string, Progress>;
  /** The first target list is loading. */
  loading: boolean;
  loaded: boolean;
  loadError: ErrorView | null;
  connection: ConnectionState;
  info: DaemonInfo | null;
  logs: LogLine[];
  toasts: Toast[];
  /** Action in flight per target ("apply", "check"…). */
  pending: Record<string, string>;
  outcomes: Record<string, Outcome>;
  auth: AuthState;
  /**
   * Who the web dashboard's token is (`GET /api/session`: the token's configured name or the JWT's
   * subject, never the secret); null without a token, or until the daemon has answered.
   */
  session: SessionView | null;
}

export interface UpkeepActions {
  /** Folds one engine event into the mirror. */
  applyEvent(event: UpkeepEvent): void;
  /** Subscribes to events and connection changes, then loads targets and info; returns the stop function. */
  start(): () => void;
  loadTargets(): Promise<void>;
  refreshTarget(id: string): Promise<void>;
  /** Runs a user action on a target: marks it pending, records its outcome, re-reads the target. */
  runAction<T>(targetId: string, action: string, call: () => Promise<T>, describe: (result: T) => Omit<Outcome, 'action'>): Promise<T | undefined>;
  clearOutcome(targetId: string): void;
  /** Turns any thrown value into an ErrorView, noting a sign-in need on 401/403. */
  reportError(err: unknown): ErrorView;
  /** Shows a toast; one with the `key` of a toast on screen replaces it. */
  pushToast(toast: Omit<Toast, 'id'>): void;
  dismissToast(id: number): void;
  /** Removes the error toasts about a condition that is gone (see Toast.key). */
  clearErrorToasts(key: string): void;
  addLogLines(lines: LogLine[]): void;
  /** Replaces the log with lines read from the engine, keeping streamed lines newer than them. */
  setLogHistory(lines: LogLine[]): void;
  /**
   * Keeps (or clears) the dashboard's token. `session` is the daemon's answer for it when the
   * caller already asked; otherwise the daemon is asked here.
   */
  setToken(token: string | null, session?: SessionView): void;
  /** Asks the daemon who the token in use is and keeps the answer in `session` (null on failure). */
  loadSession(): Promise<void>;
}

export type UpkeepStore = StoreApi<UpkeepState & UpkeepActions>;

/**
 * The sentence for a failed action: a rolled-back update reads differently from a plain failure
 * (the error itself is shown beside it).
 */
export function failureMessage(error: ErrorView): string {
  const d = error.details;
  if (d?.rolled_back === true) {
    const to = typeof d.to_version === 'string' ? ` to ${d.to_version}` : '';
    const back = typeof d.rolled_back_to === 'string' ? d.rolled_back_to : 'the previous version';
    return `The update${to} failed and was rolled back to ${back}.`;
  }
  return error.message;
}

/** Error view of anything thrown by the API (ApiError keeps the engine's code). */
export function toErrorView(err: unknown): ErrorView {
  if (err instanceof ApiError) return { code: err.code, message: err.message, ...(err.details ? { details: err.details } : {}) };
  if (err && typeof err === 'object' && 'code' in err && 'message' in err) {
    const e = err as { code: unknown; message: unknown };
    return { code: String(e.code), message: String(e.message) };
  }
  if (err instanceof Error) return { code: 'ERR_INTERNAL', message: err.message };
  return { code: 'ERR_INTERNAL', message: String(err) };
}

/** The outcomes that are not a refusal of the token (ERR_UNAUTHORIZED, ERR_FORBIDDEN). */
function withoutAuthFailures(outcomes: Record<string, Outcome>): Record<string, Outcome> {
  return Object.fromEntries(Object.entries(outcomes).filter(([, o]) => o.error?.code !== 'ERR_UNAUTHORIZED' && o.error?.code !== 'ERR_FORBIDDEN'));
}

function authProblem(err: unknown, view: ErrorView): AuthState | null {
  const status = err instanceof ApiError ? err.status : undefined;
  if (view.code === 'ERR_UNAUTHORIZED' || status === 401) {
    return { needed: true, code: view.code, message: 'This needs an access token. Enter your token in the header to continue.' };
  }
  if (view.code === 'ERR_FORBIDDEN' || status === 403) {
    return { needed: true, code: view.code, message: 'Your access token does not allow this action. Use a token with the admin or update:apply scope.' };
  }
  return null;
}

function toastFor(n: Notification): Omit<Toast, 'id'> | null {
  const target = n.target;
  const key = target ? targetKey(target) : undefined;
  const base = { target, ...(key ? { key } : {}) };
  switch (n.type) {
    case 'update_progress':
      return null; // shown by the progress panel, not as a toast
    case 'update_available':
      return { level: n.is_critical ? 'warning' : 'info', title: n.is_critical ? 'Critical update available' : 'Update available', message: n.message, target };
    case 'update_started':
      return { level: 'info', title: 'Update started', message: n.message, ...base };
    case 'update_completed':
      return { level: 'success', title: 'Update applied', message: n.message, ...base };
    case 'update_failed':
      // Cancelling is the user's choice, not a failure.
      if (isCancelled(n.error)) return { level: 'info', title: 'Cancelled', message: `${n.version ? `The update to ${n.version} was cancelled` : 'The operation was cancelled'}. Nothing was changed.`, ...base };
      return { level: 'error', title: 'Update failed', message: n.error ? `${n.message} (${n.error.code})` : n.message, ...base };
    case 'rolled_back':
      return { level: 'warning', title: 'Rolled back', message: n.message, ...base };
    case 'config_reloaded':
      return { level: 'success', title: 'Configuration reloaded', message: n.message, target, key: CONFIG_KEY };
    case 'config_reload_failed':
      return { level: 'error', title: 'Configuration reload failed', message: n.error ? `${n.message} (${n.error.code})` : n.message, target, key: CONFIG_KEY };
    default:
      return { level: 'info', title: 'Upkeep', message: n.message, target };
  }
}

/** True when a target's view shows that whatever failed on it before is over. */
function failureGone(view: TargetView): boolean {
  switch (view.state.kind) {
    case 'up-to-date':
    case 'available':
    case 'idle':
      return view.last_error === null;
    default:
      return false;
  }
}

/** Creates the store bound to one API client. */
export function createUpkeepStore(api: RendererApi): UpkeepStore {
  let toastSeq = 0;
  return createStore<UpkeepState & UpkeepActions>()((set, get) => ({
    targets: {},
    order: [],
    progress: {},
    loading: true,
    loaded: false,
    loadError: null,
    connection: api.onConnectionChange ? 'connecting' : 'online',
    info: null,
    logs: [],
    toasts: [],
    pending: {},
    outcomes: {},
    auth: { needed: false, message: null, code: null },
    session: null,

    applyEvent(event) {
      switch (event.type) {
        case 'state': {
          const view = event.target;
          set((s) => {
            const progress = { ...s.progress };
            const fromState = progressOf(view.state);
            const live = progress[view.id];
            if (!fromState) delete progress[view.id];
            else if (!live || live.operation_id !== fromState.operation_id || live.phase !== fromState.phase) progress[view.id] = fromState;
            const order = s.order.includes(view.id) ? s.order : [...s.order, view.id];
            return { targets: { ...s.targets, [view.id]: view }, order, progress };
          });
          if (failureGone(view)) get().clearErrorToasts(targetKey(view.id));
          return;
        }
        case 'progress':
          set((s) => ({ progress: { ...s.progress, [event.target]: event.progress } }));
          return;
        case 'notification': {
          const toast = toastFor(event.notification);
          if (toast) get().pushToast(toast);
          return;
        }
        case 'log':
          get().addLogLines([event.line]);
          return;
        default:
          return;
      }
    },

    start() {
      const stops: Array<() => void> = [];
      stops.push(api.subscribe((e) => get().applyEvent(e)));
      if (api.onConnectionChange) {
        let previous: ConnectionState | null = null;
        stops.push(
          api.onConnectionChange((connection) => {
            set({ connection });
            // Events may have been missed while disconnected: re-read everything once back.
            if (connection === 'online' && (previous === 'offline' || previous === 'unauthorized')) void get().loadTargets();
            previous = connection;
          }),
        );
      }
      void get().loadTargets();
      void get().loadSession();
      api.info().then(
        (info) => set({ info }),
        () => undefined, // the header just shows no version
      );
      return () => stops.forEach((stop) => stop());
    },

    async loadTargets() {
      try {
        const list = await api.listTargets();
        const targets: Record<string, TargetView> = {};
        for (const t of list) targets[t.id] = t;
        for (const t of list) if (failureGone(t)) get().clearErrorToasts(targetKey(t.id));
        set((s) => {
          const progress: Record<string, Progress> = {};
          for (const t of list) {
            const fromState = progressOf(t.state);
            if (fromState) progress[t.id] = s.progress[t.id] ?? fromState;
          }
          return { targets, order: list.map((t) => t.id), progress, loading: false, loaded: true, loadError: null };
        });
      } catch (err) {
        set({ loading: false, loadError: get().reportError(err) });
      }
    },

    async refreshTarget(id) {
      try {
        const view = await api.getTarget(id);
        get().applyEvent({ type: 'state', target: view });
      } catch (err) {
        get().reportError(err);
      }
    },

    async runAction(targetId, action, call, describe) {
      set((s) => {
        const outcomes = { ...s.outcomes };
        delete outcomes[targetId];
        return { pending: { ...s.pending, [targetId]: action }, outcomes };
      });
      let result: Awaited<ReturnType<typeof call>> | undefined;
      let outcome: Outcome;
      try {
        result = await call();
        outcome = { action, ...describe(result) };
      } catch (err) {
        const error = get().reportError(err);
        outcome = isCancelled(error) ? { action, ok: false, cancelled: true, message: 'Cancelled. Nothing was changed.' } : { action, ok: false, message: failureMessage(error), error };
      }
      set((s) => {
        const pending = { ...s.pending };
        delete pending[targetId];
        return { pending, outcomes: { ...s.outcomes, [targetId]: outcome } };
      });
      await get().refreshTarget(targetId);
      return result;
    },

    clearOutcome(targetId) {
      set((s) => {
        const outcomes = { ...s.outcomes };
        delete outcomes[targetId];
        return { outcomes };
      });
    },

    reportError(err) {
      const view = toErrorView(err);
      const auth = authProblem(err, view);
      if (auth) set({ auth });
      return view;
    },

    pushToast(toast) {
      const id = ++toastSeq;
      set((s) => {
        const kept = toast.key === undefined ? s.toasts : s.toasts.filter((t) => t.key !== toast.key);
        return { toasts: [...kept, { ...toast, id }].slice(-MAX_TOASTS) };
      });
    },

    dismissToast(id) {
      set((s) => ({ toasts: s.toasts.filter((t) => t.id !== id) }));
    },

    clearErrorToasts(key) {
      if (!get().toasts.some((t) => t.key === key && t.level === 'error')) return;
      set((s) => ({ toasts: s.toasts.filter((t) => !(t.key === key && t.level === 'error')) }));
    },

    addLogLines(lines) {
      if (lines.length === 0) return;
      set((s) => ({ logs: [...s.logs, ...lines].slice(-MAX_LOG_LINES) }));
    },

    setLogHistory(lines) {
      set((s) => {
        const last = lines.length > 0 ? lines[lines.length - 1].at : '';
        const newer = s.logs.filter((l) => l.at > last);
        return { logs: [...lines, ...newer].slice(-MAX_LOG_LINES) };
      });
    },

    setToken(token, session) {
      api.setToken?.(token);
      // An action refused for the old token (401/403) says nothing about the new one.
      set((s) => ({ auth: { needed: false, message: null, code: null }, outcomes: withoutAuthFailures(s.outcomes), session: session ?? null }));
      if (token !== null && !session) void get().loadSession();
      void get().loadTargets();
      api.info().then((info) => set({ info }), () => undefined);
    },

    async loadSession() {
      const token = api.getToken?.() ?? null;
      if (token === null || !api.checkToken) return;
      let session: SessionView | null = null;
      try {
        session = await api.checkToken(token);
      } catch {
        // A refused token is reported by the reads made with it; the header just names no token.
      }
      // The token may have changed while the daemon answered: keep only an answer about the current one.
      if (api.getToken?.() === token) set({ session });
    },
  }));
}
