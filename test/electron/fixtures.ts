// Builders of TargetView / RollbackPointView values for the Electron-side tests.
import type { Progress, RollbackPointView, TargetState, TargetView } from '../../src-shared/api';

export function progress(percent: number): Progress {
  return {
    operation_id: 'op-1',
    phase: 'download',
    message: 'Downloading',
    bytes_done: percent,
    bytes_total: 100,
    speed_bps: 0,
    eta_s: null,
    files_done: 0,
    files_total: 1,
    percent,
    cancellable: true,
  };
}

export function target(id: string, state: TargetState, extra: Partial<TargetView> = {}): TargetView {
  return {
    id,
    name: id,
    kind: 'files',
    layout: 'in-place',
    install_dir: `/opt/${id}`,
    product: id,
    current_version: '1.0.0',
    state,
    available: null,
    policy: {
      channel: 'stable',
      check_schedule: null,
      check_interval_s: null,
      maintenance_window: null,
      auto_download: false,
      auto_apply: 'none',
      paused_until: null,
      skip_versions: [],
      retention: 3,
      allow_downgrade: false,
    },
    last_checked_at: null,
    last_error: null,
    points_count: 0,
    ...extra,
  };
}

export function point(targetId: string, id: string, from: string | null, to: string, createdAt: string): RollbackPointView {
  return { rollback_id: id, target: targetId, from_version: from, to_version: to, created_at: createdAt, size_bytes: 10, files: 1 };
}

export const CHECKED = '2025-01-01T00:00:00Z';
