/**
 * A read-only client of the OCI Distribution API (Docker Registry HTTP API v2) that answers one
 * question without a Docker engine: which manifest digest does `repository:tag` point at now?
 *
 * - `HEAD /v2/<repository>/manifests/<tag>` with every manifest and index media type accepted,
 *   reading `Docker-Content-Digest`; when a registry leaves that header out, the manifest is
 *   fetched (bounded) and its SHA-256 computed, as the spec allows.
 * - Authentication follows the registry's `WWW-Authenticate` challenge: `Basic` with the
 *   configured credentials, or `Bearer` — a token fetched from the challenge's realm for its
 *   service and scope (Docker's token authentication spec), cached until it expires.
 * - Credentials come from a Docker `config.json` (`auths.<host>.auth` or username/password).
 *
 * Source of the formats: the OCI Distribution Specification v1.1 and Docker's "Token
 * Authentication Specification". The client is small and written here because no maintained npm
 * package resolves digests without also bundling a container engine client.
 */
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import type { Dispatcher } from 'undici';
import { NetworkError, NotFoundError, UpkeepError, UsageError } from '../../../src-shared/errors';
import { checkUrlAllowed, redactUrl } from '../net/url-policy';
import { registryApiBase, type ImageRef } from './image-ref';
import { systemClock, type Clock } from '../clock';

/** undici, loaded on the first request (it costs tens of ms and ~20 MB at every start otherwise). */
const undici = (): typeof import('undici') => require('undici') as typeof import('undici');

/** Media types asked for: OCI index and manifest, Docker manifest list and schema 2 manifest. */
export const MANIFEST_ACCEPT = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

/** Largest manifest body read when the digest has to be computed (bytes). */
const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
/** Largest token response read (bytes). */
const MAX_TOKEN_BYTES = 256 * 1024;

export interface RegistryCredentials {
  username: string;
  password: string;
}

export interface RegistryClientOptions {
  /** Credentials for a registry host (as written in image references), or null. */
  credentials?: (registry: string) => RegistryCredentials | null;
  /** Registries reached over plain http although not on loopback. */
  insecureRegistries?: string[];
  /** Whole-request timeout, ms (default 30 000). */
  timeoutMs?: number;
  /** undici dispatcher (proxy agent), when set. */
  dispatcher?: Dispatcher;
  /** Token lifetimes are measured on its monotonic counter (default: the system clock). */
  clock?: Clock;
}

export interface ResolvedDigest {
  /** `sha256:<hex>` digest of the manifest or index the tag points at. */
  digest: string;
  /** The manifest's media type as the registry served it (may be empty). */
  mediaType: string;
}

interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/** Parses a `WWW-Authenticate` header: `Bearer realm="…",service="…",scope="…"`. */
export function parseChallenge(header: string): Challenge | null {
  const m = /^\s*([A-Za-z]+)\s*(.*)$/.exec(header);
  if (!m) return null;
  const params: Record<string, string> = {};
  for (const p of (m[2] ?? '').matchAll(/([A-Za-z_]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g)) {
    params[(p[1] ?? '').toLowerCase()] = (p[2] ?? p[3] ?? '').replace(/\\(.)/g, '$1');
  }
  return { scheme: (m[1] ?? '').toLowerCase(), params };
}

/**
 * Reads registry credentials from a Docker `config.json` (`{"auths": {"host": {"auth":
 * base64("user:pass")}}}`, or `username`/`password` fields). Docker Hub's key
 * `https://index.docker.io/v1/` answers for `docker.io`. Throws ERR_CONFIG_INVALID when the file
 * is not valid JSON; a missing file means no credentials.
 */
export async function loadDockerCredentials(file: string): Promise<(registry: string) => RegistryCredentials | null> {
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return () => null;
    throw err;
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new UsageError('ERR_CONFIG_INVALID', `${file} is not valid JSON`, { file });
  }
  const auths = (doc && typeof doc === 'object' && 'auths' in doc ? (doc as { auths: unknown }).auths : {}) as Record<string, unknown>;
  const table = new Map<string, RegistryCredentials>();
  for (const [key, value] of Object.entries(auths ?? {})) {
    if (!value || typeof value !== 'object') continue;
    const v = value as { auth?: unknown; username?: unknown; password?: unknown };
    let creds: RegistryCredentials | null = null;
    if (typeof v.auth === 'string' && v.auth !== '') {
      const plain = Buffer.from(v.auth, 'base64').toString('utf8');
      const i = plain.indexOf(':');
      if (i > 0) creds = { username: plain.slice(0, i), password: plain.slice(i + 1) };
    } else if (typeof v.username === 'string' && typeof v.password === 'string') {
      creds = { username: v.username, password: v.password };
    }
    if (!creds) continue;
    let host = key.replace(/^https?:\/\//, '').replace(/\/.*$/, '');
    if (host === 'index.docker.io' || host === 'registry-1.docker.io') host = 'docker.io';
    table.set(host, creds);
  }
  return (registry) => table.get(registry) ?? null;
}

interface Response {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

function header(h: Response['headers'], name: string): string | undefined {
  const v = h[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

/** Resolves tags to digests against OCI registries; one instance may serve many images. */
export class RegistryClient {
  private readonly tokens = new Map<string, { token: string; expiresAt: number }>();
  private readonly clock: Clock;
  constructor(private readonly o: RegistryClientOptions = {}) {
    this.clock = o.clock ?? systemClock;
  }

  /**
   * The digest `ref`'s tag points at now (a pinned reference answers its own digest without a
   * request). Throws NotFoundError ERR_IMAGE_NOT_FOUND (404), UpkeepError ERR_REGISTRY_AUTH when
   * the registry refuses the credentials, NetworkError ERR_REGISTRY for other failures.
   */
  async resolveDigest(ref: ImageRef, signal?: AbortSignal): Promise<ResolvedDigest> {
    if (ref.digest) return { digest: ref.digest, mediaType: '' };
    const base = registryApiBase(ref.registry, { insecure: this.o.insecureRegistries?.includes(ref.registry) ?? false });
    const url = `${base}/v2/${ref.repository}/manifests/${encodeURIComponent(ref.tag)}`;
    const scope = `repository:${ref.repository}:pull`;
    const head = await this.authorised(ref.registry, scope, url, 'HEAD', signal);
    let digest = header(head.headers, 'docker-content-digest');
    let mediaType = header(head.headers, 'content-type') ?? '';
    if (!digest) {
      const got = await this.authorised(ref.registry, scope, url, 'GET', signal);
      digest = `sha256:${createHash('sha256').update(got.body).digest('hex')}`;
      mediaType = header(got.headers, 'content-type') ?? mediaType;
      const said = header(got.headers, 'docker-content-digest');
      if (said && said !== digest) {
        throw new NetworkError('ERR_REGISTRY', `${ref.registry} answered ${said} for ${ref.repository}:${ref.tag} but the manifest hashes to ${digest}`);
      }
    }
    if (!/^sha256:[a-f0-9]{64}$/.test(digest)) {
      throw new NetworkError('ERR_REGISTRY', `${ref.registry} answered an unusable digest "${digest}" for ${ref.repository}:${ref.tag}`);
    }
    return { digest, mediaType: mediaType.split(';')[0]?.trim() ?? '' };
  }

  private async authorised(registry: string, scope: string, url: string, method: 'HEAD' | 'GET', signal?: AbortSignal): Promise<Response> {
    const key = `${registry} ${scope}`;
    const cached = this.tokens.get(key);
    let auth = cached && cached.expiresAt > this.clock.monoMs() ? `Bearer ${cached.token}` : undefined;
    let res = await this.send(url, method, auth, signal);
    if (res.status === 401) {
      const challenge = parseChallenge(header(res.headers, 'www-authenticate') ?? '');
      const creds = this.o.credentials?.(registry) ?? null;
      if (challenge?.scheme === 'bearer' && challenge.params.realm) {
        auth = `Bearer ${await this.token(key, challenge, scope, creds, signal)}`;
      } else if (challenge?.scheme === 'basic' && creds) {
        auth = `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;
      } else {
        throw new UpkeepError('ERR_REGISTRY_AUTH', `${registry} needs credentials for ${scope.split(':')[1]} (add them to the Docker config.json named in registry_auth)`, { registry });
      }
      res = await this.send(url, method, auth, signal);
      if (res.status === 401 || res.status === 403) {
        throw new UpkeepError('ERR_REGISTRY_AUTH', `${registry} refused the credentials for ${scope.split(':')[1]} (HTTP ${res.status})`, { registry });
      }
    }
    if (res.status === 404) throw new NotFoundError('ERR_IMAGE_NOT_FOUND', `${registry} has no ${url.split('/v2/')[1]?.replace('/manifests/', ':')}`, { registry });
    if (res.status < 200 || res.status > 299) {
      throw new NetworkError('ERR_REGISTRY', `${registry} answered HTTP ${res.status} for ${redactUrl(url)}`, { registry, status: res.status });
    }
    return res;
  }

  private async token(key: string, ch: Challenge, scope: string, creds: RegistryCredentials | null, signal?: AbortSignal): Promise<string> {
    const realm = new URL(ch.params.realm ?? '');
    if (ch.params.service) realm.searchParams.set('service', ch.params.service);
    realm.searchParams.set('scope', ch.params.scope ?? scope);
    const basic = creds ? `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}` : undefined;
    const res = await this.send(realm.href, 'GET', basic, signal, MAX_TOKEN_BYTES);
    if (res.status === 401 || res.status === 403) {
      throw new UpkeepError('ERR_REGISTRY_AUTH', `The token service ${realm.host} refused the credentials (HTTP ${res.status})`, { realm: realm.origin });
    }
    if (res.status !== 200) throw new NetworkError('ERR_REGISTRY', `The token service ${realm.host} answered HTTP ${res.status}`, { realm: realm.origin });
    let doc: { token?: unknown; access_token?: unknown; expires_in?: unknown };
    try {
      doc = JSON.parse(res.body.toString('utf8')) as typeof doc;
    } catch {
      throw new NetworkError('ERR_REGISTRY', `The token service ${realm.host} did not answer JSON`);
    }
    const token = typeof doc.token === 'string' ? doc.token : typeof doc.access_token === 'string' ? doc.access_token : '';
    if (!token) throw new NetworkError('ERR_REGISTRY', `The token service ${realm.host} answered no token`);
    // The spec's default lifetime is 60 s; renew a little early.
    const life = typeof doc.expires_in === 'number' && doc.expires_in > 0 ? doc.expires_in : 60;
    this.tokens.set(key, { token, expiresAt: this.clock.monoMs() + Math.max(0, life - 5) * 1000 });
    return token;
  }

  private async send(url: string, method: 'HEAD' | 'GET', auth: string | undefined, signal?: AbortSignal, max = MAX_MANIFEST_BYTES): Promise<Response> {
    checkUrlAllowed(url, { allowInsecureHttp: this.o.insecureRegistries?.some((r) => new URL(url).host === r) ?? false });
    const headers: Record<string, string> = { accept: MANIFEST_ACCEPT, 'user-agent': 'upkeep' };
    if (auth) headers.authorization = auth;
    let res: Dispatcher.ResponseData;
    try {
      res = await undici().request(url, {
        method, headers, signal: signal ? AbortSignal.any([signal, AbortSignal.timeout(this.o.timeoutMs ?? 30_000)]) : AbortSignal.timeout(this.o.timeoutMs ?? 30_000),
        ...(this.o.dispatcher ? { dispatcher: this.o.dispatcher } : {}),
      });
    } catch (err) {
      if (signal?.aborted) throw new UpkeepError('ERR_CANCELLED', 'Cancelled by the user');
      throw new NetworkError('ERR_REGISTRY', `Cannot reach ${redactUrl(url)}: ${(err as Error).message}`);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const c of res.body) {
      size += (c as Buffer).length;
      if (size > max) {
        res.body.destroy();
        throw new NetworkError('ERR_REGISTRY', `${redactUrl(url)} answered more than ${max} bytes`);
      }
      chunks.push(c as Buffer);
    }
    return { status: res.statusCode, headers: res.headers as Response['headers'], body: Buffer.concat(chunks) };
  }
}
