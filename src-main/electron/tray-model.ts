/**
 * What the tray shows, as plain data: the overall state (which icon), the tooltip, and the menu
 * model with one action per entry. tray.ts turns the model into a native Menu; everything that
 * decides lives here and is unit-tested without Electron.
 */
import type { RollbackPointView, TargetView, VerificationLevel } from '../../src-shared/api';
import { offeredVerification, verificationSuffix } from '../../src-shared/verification';
import { assertNever } from '../../src-shared/errors';
import { heldVersionText as heldText, progressLabelPercent, rolloutPendingText as rolloutText } from '../../src-shared/format';
import { isBusy, isWorking, type WorkingState } from '../../src-shared/target-state';
import { targetRoute } from './notifications';

export const TRAY_STATES = ['up-to-date', 'available', 'critical', 'working', 'error'] as const;
export type TrayState = (typeof TRAY_STATES)[number];

/** An entry chosen in "Apply when I quit". */
export interface QuitApplyEntry {
  target: string;
  version: string;
}

export type PauseChoice = 'hour' | 'tomorrow';

/** Everything a tray menu entry can ask for. */
export type TrayAction =
  | { type: 'check-now' }
  | { type: 'apply'; target: string; version: string }
  | { type: 'rollback'; target: string; rollback_id: string }
  | { type: 'toggle-apply-on-quit'; target: string; version: string }
  | { type: 'open'; route: string }
  | { type: 'pause'; choice: PauseChoice }
  | { type: 'resume' }
  | { type: 'reload-config' }
  | { type: 'toggle-start-at-login' }
  | { type: 'retry-start' }
  | { type: 'show-config' }
  | { type: 'quit' };

export type MenuItemModel =
  | { kind: 'item'; id: string; label: string; enabled: boolean; action?: TrayAction }
  | { kind: 'checkbox'; id: string; label: string; enabled: boolean; checked: boolean; action: TrayAction }
  | { kind: 'submenu'; id: string; label: string; enabled: boolean; items: MenuItemModel[] }
  | { kind: 'separator' };

export interface TrayMenuInput {
  targets: TargetView[];
  /** Newest rollback point of each target id (absent or null: none). */
  latestPoints: Record<string, RollbackPointView | null | undefined>;
  applyOnQuit: readonly QuitApplyEntry[];
  startAtLogin: boolean;
  now: Date;
}

function displayName(t: TargetView): string {
  return t.name || t.id;
}

/** The release a target offers: version, critical flag and verification level (null: unknown). */
function availableVersion(t: TargetView): { version: string; critical: boolean; verification: VerificationLevel | null } | null {
  if (t.state.kind === 'available') return { version: t.state.version, critical: t.state.is_critical, verification: offeredVerification(t) };
  if (t.available) return { version: t.available.version, critical: t.available.is_critical, verification: t.available.verification };
  return null;
}

/**
 * An available release that waits for the user: not the one held after a rollback (the user left
 * it on purpose, so it raises no "update available" icon or tooltip; the menu still offers it).
 */
function pendingVersion(t: TargetView): ReturnType<typeof availableVersion> {
  const a = availableVersion(t);
  return a && a.version !== t.held_version ? a : null;
}


/**
 * The tray's overall state, by priority: working (an update or rollback running) > error (a target
 * failed) > critical (a critical update waits) > available > up to date.
 */
export function trayStateOf(targets: readonly TargetView[]): TrayState {
  if (targets.some((t) => isWorking(t.state))) return 'working';
  if (targets.some((t) => t.state.kind === 'failed')) return 'error';
  const available = targets.map(pendingVersion).filter((a) => a !== null);
  if (available.some((a) => a.critical)) return 'critical';
  if (available.length > 0) return 'available';
  return 'up-to-date';
}

/**
 * The icon file for a state: `tray-<state>.png` (Electron picks `@2x` beside it on HiDPI), the
 * monochrome `tray-<state>Template.png` on macOS, which the menu bar tints for light and dark, or
 * `tray-<state>.ico` on Windows (every size in one file, sharp at any DPI).
 */
export function trayIconFile(state: TrayState, platform: NodeJS.Platform | string): string {
  if (platform === 'win32') return `tray-${state}.ico`;
  return platform === 'darwin' ? `tray-${state}Template.png` : `tray-${state}.png`;
}

/** Every icon file a state needs on disk (1x, 2x, template 1x and 2x, the Windows .ico). */
export function trayIconFiles(state: TrayState): string[] {
  return [`tray-${state}.png`, `tray-${state}@2x.png`, `tray-${state}Template.png`, `tray-${state}Template@2x.png`, `tray-${state}.ico`];
}

/** The tooltip's percent: the same as the dashboard badge's (progressLabelPercent). */
function percentOf(state: WorkingState): number {
  return progressLabelPercent(state.progress);
}

/**
 * One line describing a target's state for menus ("update 1.3.0 available", "updating 42%"). An
 * offered release accepted without signatures says so: "update 1.3.0 available (unverified)",
 * "(checksums only)".
 */
export function targetStatusText(t: TargetView): string {
  const s = t.state;
  switch (s.kind) {
    case 'idle':
      return t.current_version ? `version ${t.current_version}` : 'not checked yet';
    case 'checking':
      return 'checking…';
    case 'up-to-date':
      if (t.available) return t.available.version === t.held_version ? heldText(t.available.version) : `update ${t.available.version} available${verificationSuffix(t.available.verification)}`;
      // A newer release exists but the staged rollout has not reached this machine: not "up to date".
      return t.rollout_pending ? rolloutText(t.rollout_pending.version) : `up to date (${t.current_version ?? 'unknown version'})`;
    case 'available':
      if (s.version === t.held_version) return heldText(s.version);
      return `${s.is_critical ? 'critical update' : 'update'} ${s.version} available${verificationSuffix(offeredVerification(t))}`;
    case 'downloading':
    case 'verifying':
    case 'applying':
    case 'health-checking':
    case 'rolling-back':
      return phaseText(s);
    case 'failed':
      return s.error.code === 'ERR_CANCELLED' ? 'cancelled' : `failed: ${s.error.message}`;
    default:
      return assertNever(s, 'target state');
  }
}

/**
 * The phase of a running operation in words, without a percentage: menu labels change only when
 * the phase does (the percentage lives in the tooltip), so the native menu is not rebuilt at
 * progress rate.
 */
export function phaseText(s: WorkingState): string {
  switch (s.kind) {
    case 'downloading':
      return `downloading ${s.version}`;
    case 'verifying':
      return `verifying ${s.version}`;
    case 'applying':
      return `applying ${s.version}`;
    case 'health-checking':
      return `checking health of ${s.version}`;
    case 'rolling-back':
      return s.to_version ? `rolling back to ${s.to_version}` : 'rolling back';
    default:
      return assertNever(s, 'working state');
  }
}

function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

/**
 * The tray tooltip: "Upkeep — 1 update available", "Upkeep — updating demo 42%", … Offered
 * releases accepted with trust.none are counted as unverified: "1 update available (unverified)",
 * "2 updates available (1 critical, 1 unverified)".
 */
export function tooltipText(targets: readonly TargetView[], withPercent = true): string {
  const prefix = 'Upkeep — ';
  if (targets.length === 0) return `${prefix}no targets configured`;
  const working = targets.find((t) => isWorking(t.state));
  if (working && isWorking(working.state)) {
    const verb = { downloading: 'downloading', verifying: 'verifying', applying: 'applying', 'health-checking': 'checking health of', 'rolling-back': 'rolling back' }[working.state.kind];
    return `${prefix}${verb} ${displayName(working)}${withPercent ? ` ${percentOf(working.state)}%` : ''}`;
  }
  const failed = targets.filter((t) => t.state.kind === 'failed');
  if (failed.length === 1) return `${prefix}update of ${displayName(failed[0])} failed`;
  if (failed.length > 1) return `${prefix}${plural(failed.length, 'target needs', 'targets need')} attention`;
  const available = targets.map(pendingVersion).filter((a) => a !== null);
  if (available.length > 0) {
    const critical = available.filter((a) => a.critical).length;
    const unverified = available.filter((a) => a.verification === 'none').length;
    if (available.length === 1) return `${prefix}1 ${critical ? 'critical update' : 'update'} available${unverified ? ' (unverified)' : ''}`;
    const notes = [critical ? `${critical} critical` : '', unverified ? `${unverified} unverified` : ''].filter(Boolean);
    return `${prefix}${plural(available.length, 'update', 'updates')} available${notes.length ? ` (${notes.join(', ')})` : ''}`;
  }
  const held = targets.filter((t) => t.held_version && availableVersion(t)?.version === t.held_version);
  if (held.length === 1) return `${prefix}${displayName(held[0])} ${heldText(held[0].held_version ?? '')}`;
  const rolling = targets.filter((t) => t.rollout_pending && t.state.kind === 'up-to-date');
  if (held.length === 0 && rolling.length === 1) return `${prefix}${displayName(rolling[0])} ${rolloutText(rolling[0].rollout_pending?.version ?? '')}`;
  if (held.length + rolling.length > 1) return `${prefix}${plural(held.length + rolling.length, 'update', 'updates')} not applied automatically`;
  return `${prefix}up to date`;
}

/** True when every target is paused beyond `now` (so "Resume" is the useful entry). */
export function pausedUntil(targets: readonly TargetView[], now: Date): Date | null {
  if (targets.length === 0) return null;
  let earliest: number | null = null;
  for (const t of targets) {
    const until = t.policy.paused_until ? Date.parse(t.policy.paused_until) : NaN;
    if (!Number.isFinite(until) || until <= now.getTime()) return null;
    earliest = earliest === null ? until : Math.min(earliest, until);
  }
  return earliest === null ? null : new Date(earliest);
}

function targetMenu(t: TargetView, point: RollbackPointView | null | undefined, applyOnQuit: readonly QuitApplyEntry[]): MenuItemModel {
  const busy = isBusy(t.state);
  const avail = availableVersion(t);
  const items: MenuItemModel[] = [];
  if (avail) {
    items.push({ kind: 'item', id: `${t.id}:apply`, label: `Update to ${avail.version}${verificationSuffix(avail.verification)}`, enabled: !busy, action: { type: 'apply', target: t.id, version: avail.version } });
  } else {
    // After a failed check (or operation) nothing is known about newer releases: say so.
    const unknown = t.state.kind === 'failed' && t.state.error.code !== 'ERR_CANCELLED';
    items.push({ kind: 'item', id: `${t.id}:apply`, label: unknown ? 'Update status unknown (last attempt failed)' : 'No update available', enabled: false });
  }
  if (point) {
    const to = point.from_version ? `Roll back to ${point.from_version}` : `Remove ${displayName(t)} (roll back to before ${point.to_version})…`;
    items.push({ kind: 'item', id: `${t.id}:rollback`, label: to, enabled: !busy, action: { type: 'rollback', target: t.id, rollback_id: point.rollback_id } });
  } else {
    items.push({ kind: 'item', id: `${t.id}:rollback`, label: 'No rollback point', enabled: false });
  }
  if (avail) {
    const checked = applyOnQuit.some((e) => e.target === t.id && e.version === avail.version);
    items.push({ kind: 'checkbox', id: `${t.id}:apply-on-quit`, label: 'Apply when I quit', enabled: true, checked, action: { type: 'toggle-apply-on-quit', target: t.id, version: avail.version } });
  }
  items.push({ kind: 'separator' });
  items.push({ kind: 'item', id: `${t.id}:open`, label: 'Show details…', enabled: true, action: { type: 'open', route: targetRoute(t.id) } });
  return { kind: 'submenu', id: `target:${t.id}`, label: `${displayName(t)} — ${targetStatusText(t)}`, enabled: true, items };
}

function timeText(d: Date): string {
  return `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
}

/** The whole tray menu as data, in display order. */
export function buildTrayMenuModel(input: TrayMenuInput): MenuItemModel[] {
  const { targets } = input;
  const allBusy = targets.length > 0 && targets.every((t) => isBusy(t.state));
  const paused = pausedUntil(targets, input.now);
  const items: MenuItemModel[] = [
    { kind: 'item', id: 'status', label: tooltipText(targets, false).replace(/^Upkeep — /, ''), enabled: false },
    { kind: 'separator' },
    { kind: 'item', id: 'check-now', label: 'Check now', enabled: targets.length > 0 && !allBusy, action: { type: 'check-now' } },
  ];
  if (targets.length > 0) {
    items.push({ kind: 'separator' });
    for (const t of targets) items.push(targetMenu(t, input.latestPoints[t.id], input.applyOnQuit));
  }
  items.push(
    { kind: 'separator' },
    { kind: 'item', id: 'open', label: 'Open Upkeep', enabled: true, action: { type: 'open', route: '#/' } },
    {
      kind: 'submenu',
      id: 'pause',
      label: paused ? `Updates paused until ${timeText(paused)}` : 'Pause updates',
      enabled: targets.length > 0,
      items: [
        { kind: 'item', id: 'pause:hour', label: 'For 1 hour', enabled: true, action: { type: 'pause', choice: 'hour' } },
        { kind: 'item', id: 'pause:tomorrow', label: 'Until tomorrow', enabled: true, action: { type: 'pause', choice: 'tomorrow' } },
        { kind: 'item', id: 'pause:resume', label: 'Resume', enabled: paused !== null, action: { type: 'resume' } },
      ],
    },
    { kind: 'item', id: 'reload-config', label: 'Reload configuration', enabled: true, action: { type: 'reload-config' } },
    { kind: 'item', id: 'show-config', label: 'Show configuration file', enabled: true, action: { type: 'show-config' } },
    { kind: 'separator' },
    { kind: 'checkbox', id: 'start-at-login', label: 'Start at login', enabled: true, checked: input.startAtLogin, action: { type: 'toggle-start-at-login' } },
    { kind: 'item', id: 'quit', label: 'Quit Upkeep', enabled: true, action: { type: 'quit' } },
  );
  return items;
}

/**
 * The menu shown when the core could not start (e.g. an invalid config file). `noTargets`: the
 * config is valid but lists no target yet (the starter config of a first run).
 */
export function buildStartupErrorMenuModel(message: string, o: { noTargets?: boolean } = {}): MenuItemModel[] {
  const first = message.split('\n')[0] ?? message;
  const status = o.noTargets ? 'No targets yet: add one to the configuration file' : `Not running: ${first.length > 80 ? `${first.slice(0, 79)}…` : first}`;
  return [
    { kind: 'item', id: 'status', label: status, enabled: false },
    { kind: 'separator' },
    { kind: 'item', id: 'retry-start', label: 'Try again', enabled: true, action: { type: 'retry-start' } },
    { kind: 'item', id: 'show-config', label: 'Show configuration file', enabled: true, action: { type: 'show-config' } },
    { kind: 'separator' },
    { kind: 'item', id: 'quit', label: 'Quit Upkeep', enabled: true, action: { type: 'quit' } },
  ];
}

/** Longest Windows tray tooltip: NOTIFYICONDATA.szTip holds 128 UTF-16 units with the NUL. */
export const WINDOWS_TOOLTIP_MAX = 127;

/** The tooltip as the platform can show it: on Windows cut to 127 characters with an ellipsis. */
export function fitTooltip(text: string, platform: NodeJS.Platform | string): string {
  if (platform !== 'win32' || text.length <= WINDOWS_TOOLTIP_MAX) return text;
  return `${text.slice(0, WINDOWS_TOOLTIP_MAX - 1)}…`;
}

/**
 * A label as the native menu shows it: Windows and Linux read `&` as the mnemonic marker, so a
 * literal `&` (a target named "R&D tools") is doubled.
 */
export function menuLabel(label: string, platform: NodeJS.Platform | string): string {
  return platform === 'darwin' ? label : label.replace(/&/g, '&&');
}

/** A stable text of a menu model (labels, states, ids): equal keys need no native rebuild. */
export function menuKey(model: readonly MenuItemModel[]): string {
  return JSON.stringify(model);
}
