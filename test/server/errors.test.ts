import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ERROR_CODES, UpkeepError, type ErrorCode } from '../../src-shared/errors';
import { STATUS_BY_KIND, errorBody, statusForCode, toHttpError } from '../../src-main/server/errors';

describe('the code → status table', () => {
  it('gives every stable code the status of its kind (a cancel is a 409 conflict, not a failure)', () => {
    const expected: Record<string, number> = { corrupt: 500, usage: 400, auth: 401, forbidden: 403, not_found: 404, busy: 409, security: 422, refused: 422, failed: 500 };
    for (const [code, kind] of Object.entries(ERROR_CODES)) {
      expect(statusForCode(code), code).toBe(code === 'ERR_CANCELLED' ? 409 : expected[kind]);
      expect(STATUS_BY_KIND[kind]).toBe(expected[kind]);
    }
    expect(statusForCode('ERR_SOMETHING_NEW')).toBe(500);
  });

  it('maps engine errors, zod errors, fastify errors and unknown throws', () => {
    expect(toHttpError(new UpkeepError('ERR_ROLLBACK_ATTACK' as ErrorCode, 'replayed'))).toEqual({ status: 422, code: 'ERR_ROLLBACK_ATTACK', message: 'replayed' });
    const zerr = z.object({ a: z.number() }).safeParse({ a: 'x' });
    expect(zerr.success).toBe(false);
    if (!zerr.success) expect(toHttpError(zerr.error)).toMatchObject({ status: 400, code: 'ERR_BAD_REQUEST' });
    const big = Object.assign(new Error('too big'), { statusCode: 413, code: 'FST_ERR_CTP_BODY_TOO_LARGE' });
    expect(toHttpError(big, { bodyLimit: 10 })).toEqual({ status: 413, code: 'ERR_BAD_REQUEST', message: 'Request body is too large (limit 10 bytes)' });
    expect(toHttpError({ code: 'ERR_BUSY', message: 'held' })).toEqual({ status: 409, code: 'ERR_BUSY', message: 'held' });
    expect(toHttpError(new Error('/secret/path exploded'))).toEqual({ status: 500, code: 'ERR_INTERNAL', message: 'Internal server error' });
  });

  it('shapes bodies per route family, always with the code', () => {
    const e = { status: 404, code: 'ERR_MANIFEST_NOT_FOUND', message: 'Manifest not found for version: 1.2.0' };
    expect(errorBody(e, 'canonical')).toEqual({ error: { code: e.code, message: e.message }, code: e.code, message: e.message });
    expect(errorBody(e, 'seed-read')).toEqual({ error: e.message, status: 404, code: e.code });
    expect(errorBody(e, 'seed-op')).toEqual({ success: false, error: e.message, code: e.code });
    expect(errorBody({ status: 400, code: 'ERR_CONFIG_INVALID', message: 'bad' }, 'seed-admin')).toEqual({ status: 'error', message: 'Configuration reload failed', error: 'bad', code: 'ERR_CONFIG_INVALID' });
    expect(errorBody(e, 'seed-v1')).toMatchObject({ status: 'failed', error: e.message, code: e.code });
  });
});
