/**
 * Bearer-token authentication and scope checks for the local API. Tokens are configured as
 * SHA-256 hex hashes (the plain token never sits in the config); the presented token is hashed and
 * compared in constant time against every configured hash. When `api.jwt_secret` is set, HS256
 * JWTs signed with it are accepted too (claim `scope`, or `role: admin`).
 */
import { timingSafeEqual } from 'node:crypto';
import { sha256Hex } from '../engine/trust/digest';
import { jwtVerify, errors as joseErrors } from 'jose';
import { AuthError, UpkeepError } from '../../src-shared/errors';
import type { Config } from '../engine/config/schema';

export type ApiConfig = Config['api'];

/** What a route needs: nothing, read access, the right to change targets, or admin. */
export type Access = 'public' | 'read' | 'apply' | 'admin';

export type Scope = 'admin' | 'update:apply' | 'read';

export interface Principal {
  /** Token name from the config, or the JWT's `sub` (or "jwt"). */
  name: string;
  via: 'token' | 'jwt';
  scopes: Scope[];
}

const KNOWN_SCOPES: readonly Scope[] = ['admin', 'update:apply', 'read'];

/** Lowercase hex SHA-256 of a token, the form tokens are configured in. */
export function hashToken(token: string): string {
  return sha256Hex(token);
}

/** The token of an `Authorization: Bearer <token>` header, or null. */
export function bearerToken(header: string | undefined): string | null {
  if (!header) return null;
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  return m ? m[1] : null;
}

/** The configured token whose hash equals the token's hash; every entry is compared (no early exit). */
function matchToken(token: string, api: ApiConfig): Principal | null {
  const presented = Buffer.from(hashToken(token), 'hex');
  let found: Principal | null = null;
  for (const t of api.tokens) {
    const configured = Buffer.from(t.sha256, 'hex');
    if (configured.length !== presented.length) continue;
    if (timingSafeEqual(configured, presented) && found === null) found = { name: t.name, via: 'token', scopes: [...t.scopes] };
  }
  return found;
}

function looksLikeJwt(token: string): boolean {
  return /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(token);
}

function scopesFromClaims(payload: Record<string, unknown>): Scope[] {
  const raw = payload.scope;
  const list = typeof raw === 'string' ? raw.split(/\s+/) : Array.isArray(raw) ? raw.filter((s): s is string => typeof s === 'string') : [];
  const scopes = new Set<Scope>(list.filter((s): s is Scope => (KNOWN_SCOPES as readonly string[]).includes(s)));
  if (payload.role === 'admin') scopes.add('admin');
  return [...scopes];
}

async function verifyJwt(token: string, secret: string): Promise<Principal> {
  try {
    // An expiry is required: a token without one would be an admin credential forever.
    const { payload } = await jwtVerify(token, new TextEncoder().encode(secret), { algorithms: ['HS256'], requiredClaims: ['exp'] });
    const name = typeof payload.sub === 'string' && payload.sub !== '' ? payload.sub : 'jwt';
    return { name, via: 'jwt', scopes: scopesFromClaims(payload as Record<string, unknown>) };
  } catch (err) {
    if (err instanceof joseErrors.JWTExpired) throw new AuthError('ERR_UNAUTHORIZED', 'Invalid token: expired');
    throw new AuthError('ERR_UNAUTHORIZED', 'Invalid token');
  }
}

/**
 * Resolves a presented token to a principal. Rejects with ERR_UNAUTHORIZED when the token matches
 * no configured hash and is not a valid JWT.
 */
export async function authenticate(token: string, api: ApiConfig): Promise<Principal> {
  const byHash = matchToken(token, api);
  if (byHash) return byHash;
  if (api.jwt_secret && looksLikeJwt(token)) return verifyJwt(token, api.jwt_secret);
  throw new AuthError('ERR_UNAUTHORIZED', 'Invalid token');
}

/** True when `scopes` grant `access` (admin ⊃ update:apply ⊃ read). */
export function grants(scopes: readonly Scope[], access: Access): boolean {
  switch (access) {
    case 'public':
      return true;
    case 'read':
      return scopes.length > 0;
    case 'apply':
      return scopes.includes('admin') || scopes.includes('update:apply');
    case 'admin':
      return scopes.includes('admin');
  }
}

function scopeText(access: Access): string {
  return access === 'admin' ? 'scope admin' : access === 'apply' ? 'scope admin or update:apply' : 'scope read, update:apply or admin';
}

/**
 * Checks a request's credentials against what the route needs, reading the config in force now.
 * Reads are public while `api.public_reads` is on, but a presented token is checked even then.
 * Resolves with the principal (null when no credentials were presented or needed); rejects with
 * ERR_UNAUTHORIZED (none or invalid) or ERR_FORBIDDEN.
 */
export async function authorize(
  access: Access,
  presented: string | null,
  api: ApiConfig,
): Promise<Principal | null> {
  if (access === 'public') return null;
  // A token presented where none is needed is still checked: a wrong token is refused at once
  // rather than silently ignored until the first action that needs it.
  if (access === 'read' && api.public_reads && presented === null) return null;
  if (presented === null) throw new AuthError('ERR_UNAUTHORIZED', 'Missing token');
  const principal = await authenticate(presented, api);
  if (!grants(principal.scopes, access)) {
    throw new UpkeepError('ERR_FORBIDDEN', `Token "${principal.name}" lacks ${scopeText(access)}`);
  }
  return principal;
}
