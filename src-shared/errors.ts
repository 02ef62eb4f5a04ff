/**
 * One tree of error classes with stable string codes. The CLI, the HTTP API and the UI show
 * `code` exactly as it is; the CLI maps `kind` to an exit code and the HTTP API maps it to a
 * status (each in one table of its own).
 */

/** What kind of failure a code is: drives exit codes and HTTP statuses. */
export type ErrorKind =
  | 'usage' // bad arguments or configuration: exit 2, HTTP 400
  | 'not_found' // unknown target, version, rollback point: exit 2, HTTP 404
  | 'security' // refused for security or verification: exit 3, HTTP 422
  | 'refused' // refused by version policy (downgrade, incompatible): exit 3, HTTP 422
  | 'busy' // another operation holds the target: exit 4, HTTP 409
  | 'auth' // missing credentials: HTTP 401
  | 'forbidden' // credentials without the needed scope: HTTP 403
  | 'corrupt' // a file Upkeep persisted is unreadable or malformed; nothing was changed: exit 5, HTTP 500
  | 'failed'; // the operation failed (and was rolled back): exit 1, HTTP 500

export const ERROR_CODES = {
  ERR_USAGE: 'usage',
  ERR_CONFIG_INVALID: 'usage',
  ERR_KEY_INVALID: 'usage',
  ERR_BAD_REQUEST: 'usage',
  ERR_TARGET_NOT_FOUND: 'not_found',
  ERR_MANIFEST_NOT_FOUND: 'not_found',
  ERR_ROLLBACK_POINT_NOT_FOUND: 'not_found',
  ERR_NOT_FOUND: 'not_found',
  ERR_NO_RELEASE: 'not_found',
  ERR_HASH_MISMATCH: 'security',
  ERR_SIZE_MISMATCH: 'security',
  ERR_SIGNATURE_INVALID: 'security',
  /** Trust is configured but the release carries no signature to check. */
  ERR_SIGNATURE_MISSING: 'security',
  ERR_SIGNATURE_THRESHOLD: 'security',
  ERR_PAYLOAD_TYPE: 'security',
  ERR_METADATA_INVALID: 'security',
  ERR_METADATA_EXPIRED: 'security',
  ERR_ROLLBACK_ATTACK: 'security',
  ERR_PRODUCT_MISMATCH: 'security',
  ERR_VERSION_MISMATCH: 'security',
  ERR_UNSAFE_PATH: 'security',
  /** A file mode with setuid, setgid, sticky or world-writable bits. */
  ERR_UNSAFE_MODE: 'security',
  /** The install dir or a parent is writable by another user (StrictModes-style check). */
  ERR_UNSAFE_INSTALL_DIR: 'security',
  /** state_dir, download_dir or backup_dir (or a parent) is writable by another user (same rule). */
  ERR_UNSAFE_STATE_DIR: 'security',
  ERR_INSECURE_URL: 'security',
  /** An archive entry escapes the extraction root, is a device/FIFO, breaks a bound, or the archive is malformed. */
  ERR_UNSAFE_ARCHIVE: 'security',
  ERR_INCOMPATIBLE_UPGRADE: 'refused',
  ERR_DOWNGRADE: 'refused',
  ERR_BUSY: 'busy',
  ERR_UNAUTHORIZED: 'auth',
  ERR_FORBIDDEN: 'forbidden',
  ERR_DOWNLOAD_FAILED: 'failed',
  ERR_DOWNLOAD_TIMEOUT: 'failed',
  ERR_TOO_MANY_REDIRECTS: 'failed',
  /** An upstream API (GitHub) rate-limited the request; details.reset_at says when it resets. */
  ERR_RATE_LIMITED: 'failed',
  ERR_HOOK_FAILED: 'failed',
  ERR_STEP_FAILED: 'failed',
  ERR_HEALTH_CHECK_FAILED: 'failed',
  ERR_APPLY_FAILED: 'failed',
  /** ENOSPC/EDQUOT, or too little free space found before starting; names the directory and bytes needed. */
  ERR_DISK_FULL: 'failed',
  /** Managed files changed locally and the target says `on_local_change: refuse`; lists them. */
  ERR_LOCAL_CHANGES: 'refused',
  ERR_CANCELLED: 'failed',
  ERR_INTERNAL: 'failed',
  /** A persisted state file (journal, installed.json, point.json, …) is not what Upkeep wrote; `details.file` names it. */
  ERR_STATE_CORRUPT: 'corrupt',
  /** Client side: the daemon could not be reached. */
  ERR_NETWORK: 'failed',
  /** Client side: the daemon's answer could not be understood. */
  ERR_BAD_RESPONSE: 'failed',
  /** An image tag or digest the container registry does not have. */
  ERR_IMAGE_NOT_FOUND: 'not_found',
  /** The container registry refused the configured credentials (or needs some). */
  ERR_REGISTRY_AUTH: 'failed',
  /** The container registry could not be reached or answered something unusable. */
  ERR_REGISTRY: 'failed',
  /** A git command of a git target failed (fetch, checkout, …). */
  ERR_GIT: 'failed',
} as const satisfies Record<string, ErrorKind>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** True when `code` is one of Upkeep's stable codes. */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.prototype.hasOwnProperty.call(ERROR_CODES, code);
}

/** The kind of a stable code (unknown codes count as plain failures). */
export function errorKind(code: string): ErrorKind {
  return isErrorCode(code) ? ERROR_CODES[code] : 'failed';
}

/** Base of every error Upkeep raises on purpose. `details` is safe to show and serialise. */
export class UpkeepError extends Error {
  readonly code: ErrorCode;
  readonly details?: Record<string, unknown>;
  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = new.target.name;
    this.code = code;
    if (details !== undefined) this.details = details;
  }
  get kind(): ErrorKind {
    return ERROR_CODES[this.code];
  }
  toJSON(): { code: ErrorCode; message: string; details?: Record<string, unknown> } {
    return this.details === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, details: this.details };
  }
}

/** Bad arguments, bad configuration, bad keys. */
export class UsageError extends UpkeepError {}
/** Configuration that failed validation; the message names the key path and line. */
export class ConfigError extends UsageError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('ERR_CONFIG_INVALID', message, details);
  }
}
/** Something asked for does not exist. */
export class NotFoundError extends UpkeepError {}
/** Refused because something did not verify (signature, hash, size, path, expiry, replay). */
export class VerificationError extends UpkeepError {}
/** Refused by version policy (downgrade, min_upgrade_from). */
export class PolicyError extends UpkeepError {}
/** Network or transfer failure. */
export class NetworkError extends UpkeepError {}
/** A hook, step, health check or file operation failed; the operation was rolled back. */
export class OperationError extends UpkeepError {}
/** Another operation holds the target's lock. */
export class BusyError extends UpkeepError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('ERR_BUSY', message, details);
  }
}
/** Missing or insufficient credentials (HTTP API). */
export class AuthError extends UpkeepError {}
/**
 * A file Upkeep persisted (journal, installed record, rollback point, runtime or feed memory) does
 * not parse or does not match its schema. ERR_STATE_CORRUPT; `details.file` is the path and
 * `details.reason` what is wrong. Nothing is changed or reset: the file needs a person's look.
 */
export class StateCorruptError extends UpkeepError {
  constructor(file: string, reason: string) {
    super('ERR_STATE_CORRUPT', `Corrupt state file ${file}: ${reason}. Nothing was changed; the file needs repair.`, { file, reason });
  }
}

/**
 * The UpkeepError of an error's JSON form (`toJSON`, an API ErrorView), e.g. a damaged rollback
 * point's error carried in its view; a code this build does not know becomes ERR_INTERNAL.
 */
export function errorFromJson(v: { code: string; message: string; details?: Record<string, unknown> }): UpkeepError {
  return new UpkeepError(isErrorCode(v.code) ? v.code : 'ERR_INTERNAL', v.message, v.details);
}

/**
 * The refusal of a rollback that needs damaged rollback point `rollbackId`: `cause` is that point
 * file's error (ERR_STATE_CORRUPT naming it), `what` how the message names the point (default
 * "rollback point <id>"). The engine and the command line refuse in these same words.
 */
export function damagedPointError(rollbackId: string, cause: UpkeepError, what = `rollback point ${rollbackId}`): UpkeepError {
  return new UpkeepError(cause.code, `Cannot roll back: ${what} is damaged. ${cause.message}`, { ...cause.details, rollback_id: rollbackId });
}

/** Wraps anything thrown into an UpkeepError (unknown errors become ERR_INTERNAL). */
export function toUpkeepError(err: unknown, fallback: ErrorCode = 'ERR_INTERNAL'): UpkeepError {
  if (err instanceof UpkeepError) return err;
  const sys = err && typeof err === 'object' ? (err as { code?: unknown; path?: unknown }) : null;
  if (sys && (sys.code === 'ENOSPC' || sys.code === 'EDQUOT')) {
    // Out of space (or inodes, or quota) wherever it struck: never an internal error, never retried.
    const where = typeof sys.path === 'string' ? sys.path : null;
    const dir = where === null ? null : where.replace(/[/\\][^/\\]*$/, '') || where;
    return new UpkeepError('ERR_DISK_FULL', `${sys.code === 'EDQUOT' ? 'disk quota exceeded' : 'no space left on device'}${dir ? ` in ${dir}` : ''}; free some space and try again`, dir ? { dir } : undefined);
  }
  if (err && typeof err === 'object' && 'code' in err && isErrorCode((err as { code: unknown }).code)) {
    const e = err as { code: ErrorCode; message?: string };
    return new UpkeepError(e.code, e.message ?? e.code);
  }
  const message = err instanceof Error ? err.message : String(err);
  return new UpkeepError(fallback, message);
}

/** Exhaustiveness helper for switches over discriminated unions. */
export function assertNever(value: never, what = 'value'): never {
  throw new Error(`Unexpected ${what}: ${JSON.stringify(value)}`);
}
