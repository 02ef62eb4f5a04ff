/**
 * Human output of the command line (the --json output is the result objects themselves).
 */
import type { GroupResult } from '../engine/runner/target-group';
import { formatBytes, formatDuration, heldVersionText, rolloutPendingText } from '../../src-shared/format';
import type { ApplyResult, CheckResult, DownloadResult, HistoryRecord, RollbackPointView, RollbackResult, TargetView, VerificationLevel } from '../../src-shared/api';
import { offeredVerification, verificationLabel, verificationSentence, verificationSuffix } from '../../src-shared/verification';

/** "1.2.0 is rolling out; this machine is not yet in it (25% of machines so far)". */
function rolloutText(p: NonNullable<TargetView['rollout_pending']>): string {
  return `${rolloutPendingText(p.version)} (${p.percent}% of machines so far)`;
}

function stateLabel(v: TargetView): string {
  const s = v.state;
  switch (s.kind) {
    // The user rolled back from this version: it waits for an explicit apply, it is not urged.
    case 'available':
      if (v.held_version === s.version) return `held after rollback: ${s.version}`;
      return `update available: ${s.version}${s.is_critical ? ' (critical)' : ''}${s.is_breaking ? ' (breaking)' : ''}${verificationSuffix(offeredVerification(v))}`;
    case 'failed': return `failed: ${s.error.message} (${s.error.code})`;
    // A newer release exists but the staged rollout has not reached this machine: not "up to date".
    case 'up-to-date': return v.rollout_pending ? rolloutText(v.rollout_pending) : 'up to date';
    case 'idle': return 'not checked yet';
    case 'rolling-back': return `rolling back (${Math.round(s.progress.percent)}%)`;
    case 'checking': return 'checking';
    default: return `${s.kind} ${s.version} (${Math.round(s.progress.percent)}%)`;
  }
}

/**
 * `upkeep status`: one block per target. An offered release accepted without signatures is named
 * "(unverified)" or "(checksums only)" on the state line, with a `verified:` line saying what that means;
 * a target whose lock a live process holds (`busy`, by target id) gets a `busy:` line. A target
 * whose state files could not be read (`damaged`, by target id) shows the error on its state line.
 */
export function formatStatus(views: TargetView[], busy: ReadonlyMap<string, BusyHolder> = new Map(), damaged: ReadonlySet<string> = new Set()): string {
  return views.map((v) => [
    `${v.id} (${v.name})`,
    // A damaged target's installed.json may be what could not be read: its version is not known.
    `  installed: ${v.current_version ?? (damaged.has(v.id) ? 'unknown' : 'nothing yet')}`,
    `  state:     ${stateLabel(v)}`,
    ...busyLine(busy.get(v.id)),
    ...weakVerificationLine(v.state.kind === 'available' ? offeredVerification(v) : null),
    ...(v.held_version ? [`  held:      ${heldVersionText(v.held_version)} (upkeep apply ${v.id} --version ${v.held_version})`] : []),
    ...(v.rollout_pending && v.state.kind !== 'up-to-date' ? [`  rollout:   ${rolloutText(v.rollout_pending)}`] : []),
    `  install:   ${v.install_dir}${v.layout ? ` [${v.layout}]` : ''}`,
    `  channel:   ${v.policy.channel}`,
    `  checked:   ${v.last_checked_at ?? 'never'}`,
    `  rollback points: ${v.points_count}`,
    ...(v.facts ?? []).map((f) => `  ${`${f.label}:`.padEnd(10)} ${f.value}`),
  ].join('\n')).join('\n\n');
}

/** The live holder of a target's lock (engine/lock.ts LockHolder): who runs which operation since when. */
export interface BusyHolder {
  actor: string;
  pid: number;
  hostname: string;
  op_id: string;
  since: string;
}

/**
 * The `busy:` line of a target another process is working on: the state line above is what was
 * last written, so it says nothing of the running operation.
 */
function busyLine(h: BusyHolder | undefined): string[] {
  return h ? [`  busy:      ${h.actor} (pid ${h.pid} on ${h.hostname}) runs operation ${h.op_id} since ${h.since}`] : [];
}

/** A target group's result, one line per member. */
export function formatGroup(r: GroupResult): string {
  return [`group ${r.group}: ${r.success ? 'applied' : 'failed'}`, ...r.members.map((m) => `  ${m.target}: ${m.result.replace('_', ' ')}${m.version ? ` (${m.from_version ?? 'nothing'} -> ${m.version})` : ''}`)].join('\n');
}

/** The `verified:` line of a release that is not signed (none for a signed one). */
function weakVerificationLine(level: VerificationLevel | null): string[] {
  return level === 'none' || level === 'checksums' ? [`  verified:  ${verificationSentence(level)}`] : [];
}

/**
 * `upkeep check`: the newest release and its flags; a release accepted with trust.none is flagged
 * "unverified", one accepted with trust.checksums_only "checksums only", each with a `verified:` line.
 */
export function formatCheck(r: CheckResult): string {
  if (!r.update_available || !r.release) return `${r.target}: up to date (${r.current_version ?? 'nothing installed'})`;
  const level = r.release.verification;
  const flags = [r.is_critical ? 'critical' : '', r.is_breaking ? 'breaking' : '', level !== 'signed' ? verificationLabel(level) : ''].filter(Boolean).join(', ');
  const lines = [`${r.target}: ${r.current_version ?? 'nothing installed'} -> ${r.latest_version} available${flags ? ` (${flags})` : ''}`, ...weakVerificationLine(level)];
  if (r.held_version && r.held_version === r.latest_version) lines.push(`held: ${heldVersionText(r.held_version)} (upkeep apply ${r.target} --version ${r.held_version})`);
  if (r.release_notes.trim()) lines.push('', r.release_notes.trim());
  return lines.join('\n');
}

export function formatDownload(r: DownloadResult): string {
  if (r.up_to_date) return `${r.target}: up to date, nothing to download`;
  return `${r.target}: downloaded and verified ${r.version} (${files(r.files)}, ${formatBytes(r.bytes)}, ${formatBytes(r.reused_bytes)} reused) -> ${r.download_path}`;
}

/** "1 file", "2 files". */
function files(n: number): string {
  return `${n} ${n === 1 ? 'file' : 'files'}`;
}

/**
 * One line for an apply: "installed V (N files)" for a first install, "updated A -> B (N files
 * updated, M removed)" otherwise, then the rollback point and any locally edited copies kept.
 */
export function formatApply(r: ApplyResult): string {
  if (r.up_to_date) return `${r.target}: up to date (${r.version || 'nothing installed'})`;
  if (r.verify_only) return `${r.target}: ${r.version} verified (${files(r.files_updated.length)} would change); nothing installed`;
  const kept = (r.local_copies ?? []).map((c) => `\n  ${c.path} was edited locally: your copy is kept as ${c.kept_as}`).join('');
  const what =
    r.from_version === null
      ? `installed ${r.version} (${files(r.files_updated.length)})`
      : `updated ${r.from_version} -> ${r.version} (${files(r.files_updated.length)} updated, ${r.files_removed.length} removed)`;
  return `${r.target}: ${what}; rollback point ${r.rollback_id ?? 'none'}${kept}`;
}

export function formatRollback(r: RollbackResult): string {
  return `${r.target}: rolled back ${r.from_version ?? 'nothing'} -> ${r.version ?? 'nothing installed'} (point ${r.rollback_id})`;
}

/** One line per point, newest first; a damaged point says so with its error code and file. */
export function formatPoints(target: string, points: RollbackPointView[]): string {
  if (points.length === 0) return `${target}: no rollback points`;
  return points.map((p) => {
    if (!p.error) return `${p.rollback_id}  ${p.from_version ?? 'none'} -> ${p.to_version}  ${p.created_at}  ${formatBytes(p.size_bytes)}`;
    const file = typeof p.error.details?.file === 'string' ? ` ${p.error.details.file}` : '';
    return `${p.rollback_id}  damaged (${p.error.code}${file}): cannot be rolled back to, nor past`;
  }).join('\n');
}

/**
 * One line per record, newest first; an apply that kept locally edited files adds one indented
 * line per kept copy, as `upkeep apply` printed them.
 */
export function formatHistory(records: HistoryRecord[]): string {
  if (records.length === 0) return 'no history yet';
  return records.map((r) => {
    const err = r.error_code ? ` ${r.error_code}` : '';
    const kept = (r.local_copies ?? []).map((c) => `\n  ${c.path} was edited locally: your copy is kept as ${c.kept_as}`).join('');
    return `${r.started_at}  ${r.target}  ${r.operation.padEnd(8)} ${(r.from_version ?? '-')} -> ${(r.to_version ?? '-')}  ${r.result}${err}  by ${r.actor}  ${formatDuration(r.duration_ms)}${kept}`;
  }).join('\n');
}
