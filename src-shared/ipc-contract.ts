/**
 * The one typed IPC channel map between the renderer (through the preload bridge) and Electron
 * main. Each request channel mirrors an `UpdaterApi` method; main validates every payload with the
 * channel's zod schema before acting. Events flow main → renderer on EVENT_CHANNEL.
 */
import { z } from 'zod';
import type { UpdaterApi, UpkeepEvent } from './api';
import { isValidTimeZone } from './time-zone';

export { isValidTimeZone } from './time-zone';

const id = z.string().min(1).max(64);

const version = z.string().min(1).max(256);

const maintenanceWindow = z.object({
  days: z.array(z.enum(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'])),
  start: z.string().regex(/^\d\d:\d\d$/),
  end: z.string().regex(/^\d\d:\d\d$/),
  timezone: z.string().min(1).max(64).refine(isValidTimeZone, 'unknown time zone'),
}).strict();

/**
 * Longest check interval accepted, in seconds (366 days): a longer one would put the next check
 * past the dates a clock can hold, and the target would silently never be checked again.
 */
export const MAX_CHECK_INTERVAL_S = 366 * 24 * 3600;

export const SettingsPatchSchema = z.object({
  channel: z.string().min(1).max(64).optional(),
  check_schedule: z.string().min(1).max(128).nullable().optional(),
  check_interval_s: z.number().positive().max(MAX_CHECK_INTERVAL_S, `at most ${MAX_CHECK_INTERVAL_S} seconds (366 days)`).nullable().optional(),
  maintenance_window: maintenanceWindow.nullable().optional(),
  auto_download: z.boolean().optional(),
  auto_apply: z.enum(['none', 'critical', 'all']).optional(),
  paused_until: z.string().datetime().nullable().optional(),
  skip_versions: z.array(version).max(100).optional(),
}).strict();

/** Argument tuples of every request channel, validated in main. */
export const IPC_REQUESTS = {
  info: z.tuple([]),
  listTargets: z.tuple([]),
  getTarget: z.tuple([id]),
  check: z.tuple([id]),
  download: z.tuple([id, version.optional()]),
  apply: z.tuple([id, z.object({ version: version.optional(), verify_only: z.boolean().optional() }).strict().optional()]),
  cancel: z.tuple([id]),
  listReleases: z.tuple([id]),
  listPoints: z.tuple([id]),
  rollback: z.tuple([id, z.string().min(1).max(128).optional()]),
  history: z.tuple([id.optional(), z.number().int().min(1).max(10_000).optional()]),
  skipVersion: z.tuple([id, version]),
  updateSettings: z.tuple([id, SettingsPatchSchema]),
  reloadConfig: z.tuple([]),
  logs: z.tuple([z.number().int().min(1).max(10_000).optional()]),
  openExternal: z.tuple([z.string().url().max(2048)]),
} as const;

export type IpcChannel = keyof typeof IPC_REQUESTS;
export type IpcArgs<C extends IpcChannel> = z.input<(typeof IPC_REQUESTS)[C]>;
type ApiMethod = Exclude<keyof UpdaterApi, 'subscribe'>;
export type IpcResult<C extends IpcChannel> = C extends ApiMethod ? Awaited<ReturnType<UpdaterApi[C]>> : void;

export { IPC_PREFIX, EVENT_CHANNEL } from './ipc-channels';

/** Result envelope over IPC: errors keep their stable code across the boundary. */
export type IpcResponse<T> = { ok: true; value: T } | { ok: false; error: { code: string; message: string; details?: Record<string, unknown> } };

/** What the preload exposes as `window.upkeep` (one narrow object). */
export interface UpkeepBridge {
  invoke<C extends IpcChannel>(channel: C, ...args: IpcArgs<C>): Promise<IpcResponse<IpcResult<C>>>;
  onEvent(listener: (event: UpkeepEvent) => void): () => void;
}
