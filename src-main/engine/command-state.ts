/**
 * `<state_dir>/targets/<id>/command-state.json`: what Upkeep recorded for a `command` target —
 * the version its steps last switched to and the (from → to) rollback points, newest first.
 * Written durably (temp + fsync + rename); every read is checked against CommandStateSchema.
 */
import path from 'node:path';
import type { RollbackPointView } from '../../src-shared/api';
import { readJson, writeJsonDurable } from './fs/atomic';
import { z } from './state/state-zod';

export const COMMAND_STATE_FILE = 'command-state.json';

const PointViewSchema = z.object({
  rollback_id: z.string().check(z.regex(/^rb_\d{8}T\d{6}_[0-9a-f]{6}$/, 'not a rollback id')),
  target: z.string().check(z.minLength(1)),
  from_version: z.nullable(z.string()),
  to_version: z.string(),
  created_at: z.string(),
  size_bytes: z.number().check(z.int(), z.nonnegative()),
  files: z.number().check(z.int(), z.nonnegative()),
}) satisfies z.ZodMiniType<RollbackPointView>;

/** The persisted record of a command target. */
export const CommandStateSchema = z.object({
  version: z.nullable(z.string()),
  /** ISO 8601 time of the last write ('' before any). */
  updated_at: z.string(),
  points: z.array(PointViewSchema),
});
export type CommandState = z.infer<typeof CommandStateSchema>;

/**
 * The command target's record in `targetStateDir`, or undefined when none was written yet.
 * Throws StateCorruptError (ERR_STATE_CORRUPT naming the file) when it is malformed.
 */
export async function readCommandState(targetStateDir: string): Promise<CommandState | undefined> {
  return readJson(path.join(targetStateDir, COMMAND_STATE_FILE), CommandStateSchema);
}

/** Durably replaces the command target's record. */
export async function writeCommandState(targetStateDir: string, state: CommandState): Promise<void> {
  await writeJsonDurable(path.join(targetStateDir, COMMAND_STATE_FILE), state);
}
