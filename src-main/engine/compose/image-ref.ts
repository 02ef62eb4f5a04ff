/**
 * Container image references (`[registry/]repository[:tag][@digest]`), normalised the way the
 * Docker CLI and the OCI Distribution spec read them: a first path component with a `.` or `:`
 * (or `localhost`) names the registry, anything else lives on Docker Hub (`docker.io`, API host
 * `registry-1.docker.io`), where one-component names get the `library/` prefix; the tag defaults
 * to `latest`. Pure functions over strings.
 */
import { UsageError } from '../../../src-shared/errors';

export interface ImageRef {
  /** Registry host[:port] as written (`docker.io` for Docker Hub). */
  registry: string;
  /** Repository path inside the registry, e.g. `library/nginx`, `acme/api`. */
  repository: string;
  /** Tag, `latest` when none was written. */
  tag: string;
  /** Pinned digest (`sha256:<64 hex>`), when the reference had one. */
  digest: string | null;
}

const DIGEST_RE = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-f0-9]{32,}$/;
const TAG_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const PATH_COMPONENT_RE = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;

/** True for a `sha256:<64 lowercase hex>` content digest (the only algorithm registries serve today). */
export function isSha256Digest(s: string): boolean {
  return /^sha256:[a-f0-9]{64}$/.test(s);
}

/**
 * Parses an image reference. Throws UsageError ERR_CONFIG_INVALID for a reference the Docker
 * reference grammar does not accept (upper-case repository, empty component, bad tag or digest).
 */
export function parseImageRef(ref: string): ImageRef {
  const bad = (why: string): never => { throw new UsageError('ERR_CONFIG_INVALID', `Not a valid image reference "${ref}": ${why}`, { image: ref }); };
  let rest = ref.trim();
  if (rest === '') bad('empty');
  let digest: string | null = null;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST_RE.test(digest)) bad('the digest is not algorithm:hex');
  }
  let tag = 'latest';
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG_RE.test(tag)) bad('the tag may hold letters, digits, _ . - (at most 128)');
  }
  const parts = rest.split('/');
  let registry = 'docker.io';
  const first = parts[0] ?? '';
  if (parts.length > 1 && (first.includes('.') || first.includes(':') || first === 'localhost')) {
    registry = first;
    parts.shift();
  }
  if (parts.length === 0 || parts.some((p) => !PATH_COMPONENT_RE.test(p))) bad('repository components are lowercase letters, digits and separators');
  if (registry === 'docker.io' && parts.length === 1) parts.unshift('library');
  return { registry, repository: parts.join('/'), tag, digest };
}

/** The reference written back in its full form (`registry/repository:tag[@digest]`). */
export function formatImageRef(r: ImageRef): string {
  return `${r.registry}/${r.repository}:${r.tag}${r.digest ? `@${r.digest}` : ''}`;
}

/** The reference pinned to `digest` (`registry/repository@digest`), as compose files take it. */
export function pinnedRef(r: ImageRef, digest: string): string {
  return `${r.registry}/${r.repository}@${digest}`;
}

/** The base URL of a registry's HTTP API: Docker Hub's API lives on registry-1.docker.io. */
export function registryApiBase(registry: string, o: { insecure?: boolean } = {}): string {
  const host = registry === 'docker.io' ? 'registry-1.docker.io' : registry;
  const plain = o.insecure || /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])(:\d+)?$/.test(host);
  return `${plain ? 'http' : 'https'}://${host}`;
}
