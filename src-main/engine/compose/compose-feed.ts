/**
 * The feed of a `compose` target is the registries its images come from: a check resolves every
 * managed service's tag to its current digest (OCI Distribution API) and compares the result with
 * what runs. A compose "version" is the identity of one set of digests: the first 12 hex digits
 * of the SHA-256 of its pin document (`{"services":{"api":"reg/repo@sha256:…"}}`, keys sorted).
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import { NotFoundError } from '../../../src-shared/errors';
import type { ComposeTargetConfig } from '../config/schema';
import type { Assessment, Candidate, Feed, FeedPolicy } from '../feed/feed';
import type { Release } from '../feed/release';
import { readComposeServices } from './compose-file';
import type { Clock } from '../clock';
import { pinnedRef } from './image-ref';
import { RegistryClient, loadDockerCredentials } from './registry-client';

/** Services → image pinned by digest. */
export type Pins = Record<string, string>;

/** The pin document's bytes (canonical: services sorted). */
export function pinDocument(pins: Pins): Buffer {
  const services = Object.fromEntries(Object.keys(pins).sort().map((k) => [k, pins[k]]));
  return Buffer.from(JSON.stringify({ services }));
}

/** The version naming a set of pins. */
export function pinsVersion(pins: Pins): string {
  return createHash('sha256').update(pinDocument(pins)).digest('hex').slice(0, 12);
}

/** Reads the pins back from a compose release's source document. */
export function pinsOfRelease(r: Release): Pins {
  const doc = JSON.parse(Buffer.from(r.source.bytes ?? new Uint8Array()).toString('utf8')) as { services?: Record<string, unknown> };
  const out: Pins = {};
  for (const [k, v] of Object.entries(doc.services ?? {})) if (typeof v === 'string') out[k] = v;
  return out;
}

/** The feed of one compose target (built per operation). */
export class ComposeFeed implements Feed {
  readonly type = 'compose';
  private latest: Promise<Pins> | null = null;
  constructor(private readonly t: ComposeTargetConfig, private readonly channel: string, private readonly client?: RegistryClient, private readonly clock?: Clock) {}

  private async registry(): Promise<RegistryClient> {
    if (this.client) return this.client;
    const creds = this.t.registry_auth ? await loadDockerCredentials(this.t.registry_auth.file) : undefined;
    return new RegistryClient({ ...(creds ? { credentials: creds } : {}), insecureRegistries: this.t.insecure_registries, ...(this.clock ? { clock: this.clock } : {}) });
  }

  /** The digests the registries serve now for every managed service (resolved once per feed). */
  current(signal?: AbortSignal): Promise<Pins> {
    this.latest ??= (async () => {
      const services = await readComposeServices(this.t.compose_file, this.t.services);
      const client = await this.registry();
      const pins: Pins = {};
      for (const s of services) pins[s.name] = pinnedRef(s.ref, (await client.resolveDigest(s.ref, signal)).digest);
      return pins;
    })();
    return this.latest;
  }

  async candidates(installed: string | null, policy: FeedPolicy, signal?: AbortSignal): Promise<Candidate[]> {
    const version = pinsVersion(await this.current(signal));
    if (version === installed || policy.skip_versions.includes(version)) return [];
    return [{ version, is_critical: false }];
  }

  async release(version: string, signal?: AbortSignal): Promise<Release> {
    const pins = await this.current(signal);
    if (pinsVersion(pins) !== version) {
      throw new NotFoundError('ERR_MANIFEST_NOT_FOUND', `The registries no longer serve image set ${version} (now ${pinsVersion(pins)}); check again`, { version });
    }
    const bytes = pinDocument(pins);
    return {
      version, tag_name: version, product: this.t.product ?? this.t.id, channel: this.channel, released_at: null,
      notes: Object.entries(pins).map(([svc, ref]) => `- **${svc}**: \`${ref}\``).join('\n'),
      is_critical: false, informational: false, min_upgrade_from: null, migrations_required: false, breaking_changes: [],
      build_commit: null, rollout: null,
      // A digest names the content exactly, but nothing signs which digest a tag should have.
      verification: 'checksums',
      source: { feed_type: 'compose', url: path.resolve(this.t.compose_file), sha256: createHash('sha256').update(bytes).digest('hex'), bytes },
      items: [],
    };
  }

  assess(): Assessment {
    return { breaking: false };
  }
}
