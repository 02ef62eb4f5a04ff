/**
 * A target's effective policy: its config, overridden by settings saved from the UI/API
 * (runtime.json). Pure.
 */
import type { TargetPolicy, SettingsPatch, MaintenanceWindow } from '../../src-shared/api';
import type { TargetConfig } from './config/schema';

/** Config values with the saved settings patch applied on top. */
export function effectivePolicy(t: TargetConfig, saved: SettingsPatch | undefined, globalInterval?: number): TargetPolicy {
  const s = saved ?? {};
  const mw: MaintenanceWindow | null = t.maintenance_window
    ? { days: [...t.maintenance_window.days], start: t.maintenance_window.start, end: t.maintenance_window.end, timezone: t.maintenance_window.timezone }
    : null;
  return {
    channel: s.channel ?? t.channel,
    check_schedule: s.check_schedule !== undefined ? s.check_schedule : t.check_schedule ?? null,
    check_interval_s: s.check_interval_s !== undefined ? s.check_interval_s : t.check_interval ?? globalInterval ?? null,
    maintenance_window: s.maintenance_window !== undefined ? s.maintenance_window : mw,
    auto_download: s.auto_download ?? t.auto_download,
    auto_apply: s.auto_apply ?? t.auto_apply,
    paused_until: s.paused_until !== undefined ? s.paused_until : t.paused ? '9999-12-31T23:59:59.000Z' : null,
    skip_versions: [...new Set([...t.skip_versions, ...(s.skip_versions ?? [])])],
    retention: t.retention,
    allow_downgrade: t.allow_downgrade,
  };
}

/** True while automatic work is paused at `now`. */
export function isPaused(p: TargetPolicy, now: Date): boolean {
  return p.paused_until !== null && Date.parse(p.paused_until) > now.getTime();
}
