/**
 * What `upkeep rollback` checks before it touches anything: the rollback id names a kept point
 * (a typo is a usage error, exit 2, never a failed rollback in the history), and a rollback to
 * the first point ("none -> 1.0.0"), which removes the installed files, is confirmed by the
 * person on a terminal or by `--yes`.
 */
import type { RollbackPointView } from '../../src-shared/api';
import { damagedPointError, errorFromJson, UpkeepError, UsageError } from '../../src-shared/errors';
import { suggest } from './spec';

export interface RollbackGuardInput {
  targetId: string;
  /** Display name of the target (its `name`, else its id). */
  targetName: string;
  /** The id given on the command line, if any. */
  rollbackId: string | undefined;
  /** Kept points, newest first (Engine.points). */
  points: readonly RollbackPointView[];
  /** --yes was given. */
  yes: boolean;
  /** Asks a yes/no question on the terminal; absent when stdin/stdout are not a terminal (or with --json). */
  ask?: (question: string) => Promise<boolean>;
}

/** The sentence the CLI, the tray and the UI use for a rollback past the first install. */
export function removesInstallText(name: string): string {
  return `This removes the installed files of ${name}`;
}

/**
 * Resolves the point to roll back to, or throws: ERR_ROLLBACK_POINT_NOT_FOUND (unknown id, or no
 * points at all), ERR_STATE_CORRUPT (the point's point.json cannot be read), ERR_USAGE (removing the install without a terminal and without --yes), or
 * ERR_CANCELLED (the person answered no).
 */
export async function guardRollback(i: RollbackGuardInput): Promise<RollbackPointView> {
  if (i.points.length === 0) {
    throw new UpkeepError('ERR_ROLLBACK_POINT_NOT_FOUND', `${i.targetId} has no rollback points.`);
  }
  const point = i.rollbackId === undefined ? i.points[0]! : i.points.find((p) => p.rollback_id === i.rollbackId);
  if (!point) {
    const near = suggest(i.rollbackId!, i.points.map((p) => p.rollback_id));
    throw new UpkeepError(
      'ERR_ROLLBACK_POINT_NOT_FOUND',
      `No rollback point "${i.rollbackId}" for ${i.targetId}.${near ? ` Did you mean "${near}"?` : ''} Run "upkeep points ${i.targetId}" to list them.`,
    );
  }
  // A damaged point cannot be rolled back to (rollbacks past it are refused by the engine, in the
  // same words: pointsForRollback).
  if (point.error) throw damagedPointError(point.rollback_id, errorFromJson(point.error));
  // Past a damaged point the engine refuses (ERR_STATE_CORRUPT, nothing removed): nothing to confirm.
  if (point.from_version !== null || i.yes || i.points.slice(0, i.points.indexOf(point)).some((p) => p.error)) return point;
  const what = `Rolling back ${i.targetId} to before ${point.to_version} (none -> ${point.to_version}). ${removesInstallText(i.targetName)}.`;
  if (!i.ask) throw new UsageError('ERR_USAGE', `${what} Run again with --yes to confirm.`);
  if (!(await i.ask(`${what} Continue? [y/N] `))) throw new UpkeepError('ERR_CANCELLED', 'Rollback cancelled; nothing was changed.');
  return point;
}
