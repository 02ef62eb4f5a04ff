/**
 * The HTTP API's one table from error kinds to statuses, and the error bodies of each route family
 * (canonical routes, and the shapes the compatibility routes promised their clients). Every body
 * carries the stable `code` exactly as the engine raised it.
 */
import { ZodError } from 'zod';
import { UpkeepError, errorKind, isErrorCode, type ErrorKind } from '../../src-shared/errors';

/** HTTP status of each error kind (src-shared/errors.ts assigns every code a kind). */
export const STATUS_BY_KIND: Readonly<Record<ErrorKind, number>> = Object.freeze({
  usage: 400,
  auth: 401,
  forbidden: 403,
  not_found: 404,
  busy: 409,
  security: 422,
  refused: 422,
  corrupt: 500,
  failed: 500,
});

/**
 * The HTTP status for a stable error code (unknown codes count as failures: 500). A cancelled
 * operation is not a server failure: 409, the request conflicted with the user's cancel.
 */
export function statusForCode(code: string): number {
  if (code === 'ERR_CANCELLED') return 409;
  return STATUS_BY_KIND[errorKind(code)];
}

/** An error as the HTTP layer reports it. */
export interface HttpError {
  status: number;
  code: string;
  message: string;
  details?: Record<string, unknown>;
}

/** How the error body of a route is shaped. */
export type ErrorStyle =
  /** `{error:{code,message}, code, message}` — the canonical /api routes. */
  | 'canonical'
  /** `{error: message, status, code}` — the ThemisDB hot-reload API's read routes (e.g. manifest not found). */
  | 'seed-read'
  /** `{success:false, error: message, code}` — the ThemisDB hot-reload API's mutating routes. */
  | 'seed-op'
  /** `{status:'error', message, error, code}` — the config-reload API's /admin/reload. */
  | 'seed-admin'
  /** `{status:'failed', message, error, code}` — the CAIO update API's /api/v1 routes. */
  | 'seed-v1';

function zodMessage(err: ZodError): string {
  return err.issues
    .map((i) => {
      const where = i.path.length > 0 ? i.path.map(String).join('.') : 'body';
      return `${where}: ${i.message}`;
    })
    .join('; ');
}

/** Fastify's own errors (body parsing, media types) carry `statusCode` and an FST_ code. */
function fastifyError(err: unknown): { statusCode: number; code: string; message: string } | null {
  if (!err || typeof err !== 'object') return null;
  const e = err as { statusCode?: unknown; code?: unknown; message?: unknown };
  if (typeof e.statusCode !== 'number' || typeof e.code !== 'string' || !e.code.startsWith('FST_')) return null;
  return { statusCode: e.statusCode, code: e.code, message: typeof e.message === 'string' ? e.message : e.code };
}

/**
 * Turns anything thrown while serving a request into status + stable code + message. Unknown
 * errors become 500 ERR_INTERNAL with a generic message (their text may hold internals); the
 * caller logs the original.
 */
export function toHttpError(err: unknown, opts: { bodyLimit?: number } = {}): HttpError {
  if (err instanceof UpkeepError) {
    const out: HttpError = { status: statusForCode(err.code), code: err.code, message: err.message };
    if (err.details !== undefined) out.details = err.details;
    return out;
  }
  if (err instanceof ZodError) return { status: 400, code: 'ERR_BAD_REQUEST', message: `Invalid request: ${zodMessage(err)}` };
  const fst = fastifyError(err);
  if (fst) {
    if (fst.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      const limit = opts.bodyLimit !== undefined ? ` (limit ${opts.bodyLimit} bytes)` : '';
      return { status: 413, code: 'ERR_BAD_REQUEST', message: `Request body is too large${limit}` };
    }
    if (fst.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
      return { status: 415, code: 'ERR_BAD_REQUEST', message: 'Unsupported Content-Type: send application/json' };
    }
    if (fst.statusCode >= 400 && fst.statusCode < 500) return { status: fst.statusCode, code: 'ERR_BAD_REQUEST', message: fst.message };
    return { status: 500, code: 'ERR_INTERNAL', message: 'Internal server error' };
  }
  if (err && typeof err === 'object' && 'code' in err && isErrorCode((err as { code: unknown }).code)) {
    const e = err as { code: string; message?: unknown };
    return { status: statusForCode(e.code), code: e.code, message: typeof e.message === 'string' ? e.message : e.code };
  }
  // Errors that carry their own 4xx status (static file serving: not found, forbidden path).
  const status = err && typeof err === 'object' ? Number((err as { status?: unknown; statusCode?: unknown }).statusCode ?? (err as { status?: unknown }).status) : NaN;
  if (status === 404) return { status, code: 'ERR_NOT_FOUND', message: 'Not found' };
  if (status >= 400 && status < 500) return { status, code: status === 403 ? 'ERR_FORBIDDEN' : 'ERR_BAD_REQUEST', message: status === 403 ? 'Forbidden' : 'Bad request' };
  return { status: 500, code: 'ERR_INTERNAL', message: 'Internal server error' };
}

/** Text the config hot-reload API shows for authentication failures. */
function adminMessage(e: HttpError): string {
  if (e.code === 'ERR_UNAUTHORIZED') return e.message.startsWith('Authentication') ? e.message : `Authentication required: ${e.message}`;
  if (e.code === 'ERR_FORBIDDEN') return `Forbidden: ${e.message}`;
  return 'Configuration reload failed';
}

/** The JSON body of an error for a route of the given style. Always includes `code`. */
export function errorBody(e: HttpError, style: ErrorStyle): Record<string, unknown> {
  switch (style) {
    case 'canonical': {
      const inner: Record<string, unknown> = { code: e.code, message: e.message };
      if (e.details !== undefined) inner.details = e.details;
      return { error: inner, code: e.code, message: e.message };
    }
    case 'seed-read':
      return { error: e.message, status: e.status, code: e.code };
    case 'seed-op':
      return { success: false, error: e.message, code: e.code };
    case 'seed-admin':
      // Seed 001's 401 body has no `error` key: the message says it all.
      return e.status === 401 || e.status === 403
        ? { status: 'error', message: adminMessage(e), code: e.code }
        : { status: 'error', message: adminMessage(e), error: e.message, code: e.code };
    case 'seed-v1':
      return { status: 'failed', message: e.message, error: e.message, code: e.code };
  }
}
