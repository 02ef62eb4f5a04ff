/**
 * Operation ids: time-ordered and unique.
 */
import { randomBytes } from 'node:crypto';

/** A new operation id for an operation started at `now`. */
export function newOperationId(now: Date): string {
  return `op_${now.toISOString().replace(/[-:.]/g, '').slice(0, 15)}_${randomBytes(3).toString('hex')}`;
}
