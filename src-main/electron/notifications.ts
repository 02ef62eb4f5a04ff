/**
 * Native notifications from the core's notification events: which ones are shown, their text,
 * the window route a click opens, and quiet hours. The decision is a pure function
 * (`decideNotification`); `createNotifier` only hands its result to Electron's Notification.
 */
import type { Notification as UpkeepNotification } from '../../src-shared/api';
import { isWithinQuietHours, type QuietHours } from './quiet-hours';

export interface NotificationContent {
  title: string;
  body: string;
  urgency: 'normal' | 'critical';
  /** Hash route the window opens on click: '#/targets/<id>' (or '#/' without a target). */
  route: string;
}

export interface DecideOptions {
  quietHours?: QuietHours | null;
  now: Date;
  /** Display name of a target id (defaults to the id). */
  nameOf?: (targetId: string) => string;
}

/** The window's hash route for one target. */
export function targetRoute(targetId: string | null | undefined): string {
  return targetId ? `#/targets/${encodeURIComponent(targetId)}` : '#/';
}

function versionText(v: string | null | undefined): string {
  return v ? v : 'an unknown version';
}

/**
 * Text for one core notification, or null for kinds that never become a desktop notification
 * (started, progress, config reloads: those are visible in the window and the log).
 */
export function notificationContent(n: UpkeepNotification, nameOf: (id: string) => string = (id) => id): NotificationContent | null {
  const name = n.target ? nameOf(n.target) : 'Upkeep';
  const route = targetRoute(n.target);
  const critical = n.is_critical === true;
  const urgency = critical ? 'critical' : 'normal';
  switch (n.type) {
    case 'update_available':
      return critical
        ? { title: `Critical update for ${name}`, body: `Version ${versionText(n.version)} fixes a critical problem. Install it soon.`, urgency, route }
        : { title: `Update available for ${name}`, body: `Version ${versionText(n.version)} is ready to install.`, urgency, route };
    case 'update_completed':
      return {
        title: `${name} updated`,
        body: n.from_version ? `Now running ${versionText(n.version)} (was ${n.from_version}).` : `Now running ${versionText(n.version)}.`,
        urgency,
        route,
      };
    case 'update_failed': {
      const cause = n.error ? `${n.error.message} (${n.error.code})` : n.message;
      return { title: `Update of ${name} failed`, body: `Version ${versionText(n.version)}: ${cause}`, urgency, route };
    }
    case 'update_cancelled':
      return { title: `Update of ${name} cancelled`, body: `Version ${versionText(n.version)} was not installed; nothing was changed.`, urgency, route };
    case 'rolled_back': {
      // `version` is the version installed now, `from_version` the one left (api.ts Notification).
      const cause = n.error ? ` Cause: ${n.error.message} (${n.error.code}).` : '';
      const back = n.version ? `Returned to ${n.version}` : 'Its installed files were removed (the state before the first install)';
      const left = n.from_version ? ` from ${n.from_version}` : '';
      return { title: `${name} rolled back${left}`, body: `${back}.${cause}`, urgency, route };
    }
    case 'update_started':
    case 'update_progress':
    case 'config_reloaded':
    case 'config_reload_failed':
      return null;
    default:
      return null;
  }
}

/**
 * Whether and how to show one notification: null when its kind is not shown, or when it is not
 * critical and `now` falls inside the quiet hours. Critical updates always come through.
 */
export function decideNotification(n: UpkeepNotification, o: DecideOptions): NotificationContent | null {
  const content = notificationContent(n, o.nameOf);
  if (!content) return null;
  if (content.urgency !== 'critical' && isWithinQuietHours(o.quietHours ?? null, o.now)) return null;
  return content;
}

/** The subset of Electron's Notification the notifier uses (injectable for tests). */
export interface NativeNotification {
  on(event: 'click', listener: () => void): unknown;
  on(event: 'close', listener: () => void): unknown;
  show(): void;
}

export interface NotifierDeps {
  create(options: { title: string; body: string; urgency: 'normal' | 'critical'; icon?: string }): NativeNotification;
  isSupported(): boolean;
  /** Opens the window on a hash route. */
  open(route: string): void;
  quietHours(): QuietHours | null;
  now?: () => Date;
  nameOf?: (targetId: string) => string;
  icon?: string;
}

/** How long a failure's second report (update_failed, then rolled_back) counts as the same failure. */
export const SAME_FAILURE_MS = 5 * 60 * 1000;

/**
 * The key of a failed update: a failed apply is reported as `update_failed` and as `rolled_back`
 * (with the cause); both carry the target, the version tried and the error code. Null for
 * notifications that are not about a failure (a manual rollback has no error).
 */
export function failureKey(n: UpkeepNotification): string | null {
  if (n.type === 'update_failed' || (n.type === 'rolled_back' && n.error)) {
    const version = n.type === 'rolled_back' ? (n.from_version ?? n.version) : n.version;
    return `${n.target ?? ''}|${version ?? ''}|${n.error?.code ?? ''}`;
  }
  return null;
}

/** The one notification that sums up what quiet hours held back. */
export function quietSummary(held: readonly NotificationContent[]): NotificationContent {
  const titles = held.map((h) => h.title);
  const body = titles.length <= 3 ? `${titles.join('. ')}.` : `${titles.slice(0, 3).join('. ')}. And ${titles.length - 3} more.`;
  return { title: `${held.length} notification${held.length === 1 ? '' : 's'} during quiet hours`, body, urgency: 'normal', route: '#/' };
}

export interface Notifier {
  /** Shows a core notification (or holds it during quiet hours); returns what was shown, or null. */
  (n: UpkeepNotification): NotificationContent | null;
  /** Call periodically: once quiet hours are over, shows one summary of what they held. */
  flushQuiet(): NotificationContent | null;
}

/**
 * Returns a function that shows a core notification natively and returns the content it showed,
 * or null. One failure gives one notification (its update_failed and rolled_back reports are
 * merged); non-critical notifications during quiet hours are held and summarised in one
 * notification afterwards. Shown notifications are kept referenced until closed so their click
 * handler survives garbage collection.
 */
export function createNotifier(deps: NotifierDeps): Notifier {
  const live = new Set<NativeNotification>();
  const failures = new Map<string, number>();
  const held: NotificationContent[] = [];
  const now = () => (deps.now ?? (() => new Date()))();

  const show = (content: NotificationContent): NotificationContent => {
    const native = deps.create({ title: content.title, body: content.body, urgency: content.urgency, ...(deps.icon ? { icon: deps.icon } : {}) });
    live.add(native);
    native.on('click', () => {
      live.delete(native);
      deps.open(content.route);
    });
    native.on('close', () => live.delete(native));
    native.show();
    return content;
  };

  const flushQuiet = (): NotificationContent | null => {
    if (held.length === 0 || !deps.isSupported() || isWithinQuietHours(deps.quietHours(), now())) return null;
    return show(quietSummary(held.splice(0)));
  };

  const notify = ((n: UpkeepNotification) => {
    if (!deps.isSupported()) return null;
    const summary = flushQuiet();
    const content = notificationContent(n, deps.nameOf);
    if (!content) return summary;
    const key = failureKey(n);
    if (key !== null) {
      const t = now().getTime();
      for (const [k, at] of failures) if (t - at > SAME_FAILURE_MS) failures.delete(k);
      if (failures.has(key)) return null;
      failures.set(key, t);
    }
    if (content.urgency !== 'critical' && isWithinQuietHours(deps.quietHours(), now())) {
      held.push(content);
      return null;
    }
    return show(content);
  }) as Notifier;
  notify.flushQuiet = flushQuiet;
  return notify;
}
