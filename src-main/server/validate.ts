/**
 * Request validation with zod: a failure becomes ERR_BAD_REQUEST (400) naming the field, the way
 * every other usage error reads.
 */
import { z } from 'zod';
import { UsageError } from '../../src-shared/errors';

/** Parses `value` with `schema`; throws ERR_BAD_REQUEST "Invalid <what>: <field>: <problem>" otherwise. */
export function parseInput<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const detail = r.error.issues
    .map((i) => (i.path.length > 0 ? `${i.path.map(String).join('.')}: ${i.message}` : i.message))
    .join('; ');
  throw new UsageError('ERR_BAD_REQUEST', `Invalid ${what}: ${detail}`);
}

export const TargetIdSchema = z.string().min(1).max(64);
export const VersionSchema = z.string().min(1).max(256);
export const RollbackIdSchema = z.string().min(1).max(128);

/** `?limit=N` (1…10 000), optional. */
export const LimitQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(10_000).optional(),
});

/** Booleans as JSON gives them, or as a form post spells them ("true"/"false"/"1"/"0"). */
export const LooseBoolean = z.preprocess((v) => {
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  return v;
}, z.boolean());

/** A body that may be absent (no Content-Type, empty): absent reads as {}. */
export function bodyOrEmpty(body: unknown): unknown {
  return body === undefined || body === null ? {} : body;
}
