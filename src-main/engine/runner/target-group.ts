/**
 * Target groups: one operation over several targets, applied in the configured order and rolled
 * back together — seed 004's "full update" (the code of a git target, then the images of a compose
 * stack). When a member fails (its own apply already undid itself), every member this run applied
 * before it is rolled back to the point the run created, newest first. Members with nothing newer
 * count as done and are left as they are.
 */
import type { Actor, ApplyResult } from '../../../src-shared/api';
import { NotFoundError, OperationError, toUpkeepError } from '../../../src-shared/errors';
import type { Config } from '../config/schema';

/** What a group needs of the runner: apply and rollback of single targets. */
export interface GroupRunner {
  apply(id: string, o: { actor?: Actor }): Promise<ApplyResult>;
  rollback(id: string, o: { rollbackId?: string; actor?: Actor }): Promise<unknown>;
}

/** One member's part in a group operation. */
export interface GroupMemberResult {
  target: string;
  /** applied | up_to_date | failed (this member's apply failed) | rolled_back (undone because a later member failed) | rollback_failed | not_run */
  result: 'applied' | 'up_to_date' | 'failed' | 'rolled_back' | 'rollback_failed' | 'not_run';
  from_version: string | null;
  version: string | null;
  rollback_id: string | null;
  error?: { code: string; message: string };
}

export interface GroupResult {
  group: string;
  success: boolean;
  members: GroupMemberResult[];
}

/** The group `id` of the config; ERR_TARGET_NOT_FOUND when there is none. */
export function findGroup(config: Config, id: string): { id: string; name?: string | undefined; targets: string[] } {
  const g = config.groups.find((x) => x.id === id);
  if (!g) throw new NotFoundError('ERR_TARGET_NOT_FOUND', `No target group "${id}"${config.groups.length ? ` (groups: ${config.groups.map((x) => x.id).join(', ')})` : ''}`, { group: id });
  return g;
}

/**
 * Applies every member of group `id` in order. Resolves when all are applied or up to date.
 * Rejects with the failing member's error code (OperationError) and `details.group` holding the
 * per-member results when a member fails; the members applied before it are rolled back first
 * (`details.rolled_back` is true when all of them were).
 */
export async function applyGroup(runner: GroupRunner, config: Config, id: string, o: { actor?: Actor } = {}): Promise<GroupResult> {
  const group = findGroup(config, id);
  const members: GroupMemberResult[] = group.targets.map((target) => ({ target, result: 'not_run', from_version: null, version: null, rollback_id: null }));
  for (const m of members) {
    try {
      const r = await runner.apply(m.target, { ...(o.actor ? { actor: o.actor } : {}) });
      m.from_version = r.from_version;
      m.version = r.version || null;
      m.rollback_id = r.rollback_id;
      m.result = r.up_to_date ? 'up_to_date' : 'applied';
    } catch (err) {
      const e = toUpkeepError(err);
      m.result = 'failed';
      m.error = { code: e.code, message: e.message };
      let undone = true;
      for (const prev of members.slice(0, members.indexOf(m)).reverse()) {
        if (prev.result !== 'applied' || !prev.rollback_id) continue;
        try {
          await runner.rollback(prev.target, { rollbackId: prev.rollback_id, ...(o.actor ? { actor: o.actor } : {}) });
          prev.result = 'rolled_back';
        } catch (rbErr) {
          undone = false;
          const re = toUpkeepError(rbErr);
          prev.result = 'rollback_failed';
          prev.error = { code: re.code, message: re.message };
        }
      }
      const summary = members.map((x) => `${x.target}: ${x.result}`).join(', ');
      throw new OperationError(e.code, `Group ${group.id}: ${m.target} failed (${e.message})${undone ? '; the members applied before it were rolled back' : '; rolling back an earlier member failed too'} — ${summary}`, {
        group: { group: group.id, success: false, members } satisfies GroupResult, rolled_back: undone, failed_target: m.target,
      });
    }
  }
  return { group: group.id, success: true, members };
}
