/**
 * The `feed` and `trust` blocks of a target (validation only). `feed.type` selects the source
 * (feed/registry.ts): `native` (default), `github`, `electron-builder`, `sparkle`, `tuf`,
 * `hmac-manifest`. Every output carries `url` (the first document the feed fetches) so
 * `config validate` can print it and the engine treats every feed alike.
 */
import { z } from 'zod';
import { keyLineProblem } from './trust-keys';

/**
 * One shared non-empty string schema: zod schemas are immutable, and building `z.string().min(1)`
 * afresh at each of its uses cost milliseconds of every start that reads the config.
 */
const nonEmpty = z.string().min(1);

const insecure = {
  /** Allow plain http:// to non-loopback hosts (never the default). */
  allow_insecure_http: z.boolean().default(false),
};

const url = nonEmpty;

export const NativeFeedSchema = z.object({
  type: z.literal('native').optional(),
  url,
  ...insecure,
}).strict();

const REPO_RE = /^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/;
const TEMPLATE_RE = /^(?:[^{}]|\{(?:version|platform|arch)\})*$/;
const names = z.record(z.string(), nonEmpty).default({});

export const GithubFeedSchema = z.object({
  type: z.literal('github'),
  /** owner/name (or UPKEEP_GITHUB_REPO / GITHUB_REPO for the default target). */
  repo: z.string().regex(REPO_RE, 'repo: expected "owner/name"'),
  api_url: z.string().url().default('https://api.github.com'),
  /** Asset name template: {version} (tag without leading v), {platform}, {arch}. */
  asset: nonEmpty.regex(TEMPLATE_RE, 'asset: only {version}, {platform} and {arch} placeholders').optional(),
  platform_names: names,
  arch_names: names,
  /** Asset holding GNU sha256sum lines. */
  checksums: nonEmpty.optional(),
  /** Asset holding a seed-000 release manifest (files[] with sha256_hash, manifest_hash, CMS signature). */
  manifest_asset: nonEmpty.optional(),
  strip_components: z.number().int().min(0).max(32).default(0),
  prerelease: z.boolean().default(false),
  /** API token (else GITHUB_TOKEN / THEMIS_GITHUB_API_TOKEN / top-level github_token). */
  token: nonEmpty.optional(),
  ...insecure,
}).strict()
  .refine((f) => Boolean(f.asset) || Boolean(f.manifest_asset), { message: 'a github feed needs asset (a name template) or manifest_asset', path: ['asset'] })
  .transform((f) => ({ ...f, url: `${f.api_url.replace(/\/+$/, '')}/repos/${f.repo}/releases` }));

export const ElectronBuilderFeedSchema = z.object({
  type: z.literal('electron-builder'),
  /** The folder holding latest.yml / latest-mac.yml / latest-linux.yml. */
  url,
  /** File extensions preferred when several files fit this machine (first wins), e.g. [".zip"]. */
  extensions: z.array(z.string().regex(/^\.[A-Za-z0-9.]+$/)).min(1).optional(),
  strip_components: z.number().int().min(0).max(32).default(0),
  ...insecure,
}).strict();

export const SparkleFeedSchema = z.object({
  type: z.literal('sparkle'),
  /** The appcast URL. */
  url,
  /** Compared with minimumSystemVersion/maximumSystemVersion; default: not checked. */
  system_version: nonEmpty.optional(),
  /** Operating system name matched against sparkle:os (default: this machine's, macos for darwin). */
  os: nonEmpty.optional(),
  strip_components: z.number().int().min(0).max(32).default(0),
  ...insecure,
}).strict();

export const TufFeedSchema = z.object({
  type: z.literal('tuf'),
  /** Metadata base URL (root.json, timestamp.json, … live here). */
  url,
  /** Targets base URL (default: <url>/../targets/). */
  targets_url: nonEmpty.optional(),
  /** Naming rule mapping target paths to versions: "myapp-{version}.tar.gz" ({platform}, {arch} allowed). */
  target: nonEmpty.regex(/\{version\}/, 'target: the naming rule needs {version}').regex(TEMPLATE_RE, 'target: only {version}, {platform} and {arch} placeholders'),
  platform_names: names,
  arch_names: names,
  strip_components: z.number().int().min(0).max(32).default(0),
  ...insecure,
}).strict();

export const HmacManifestFeedSchema = z.object({
  type: z.literal('hmac-manifest'),
  /** URL of the signed release manifest (JSON). */
  url,
  ...insecure,
}).strict();

export const FeedSchema = z.discriminatedUnion('type', [
  NativeFeedSchema,
  GithubFeedSchema,
  ElectronBuilderFeedSchema,
  SparkleFeedSchema,
  TufFeedSchema,
  HmacManifestFeedSchema,
]);

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** One `trust.keys` line, its syntax checked by the trust key parser (kind, base64, length). */
const trustKeyLine = nonEmpty.superRefine((line, ctx) => {
  const problem = keyLineProblem(line);
  if (problem !== null) ctx.addIssue({ code: 'custom', message: problem });
});

export const TrustSchema = z.object({
  /** Public keys: ed25519:…, minisign:RW…, openpgp:FILE, x509:FILE (syntax checked here; files by checkTrustKeys). */
  keys: z.array(trustKeyLine).default([]),
  threshold: z.number().int().min(1).default(1),
  /** Accept releases verified only by published checksums (logged as a warning). */
  checksums_only: z.boolean().default(false),
  /** Accept releases with no verification at all ("unverified" in every UI). */
  none: z.boolean().default(false),
  /** Name of the environment variable holding an HMAC-SHA256 secret (hmac-manifest feeds). */
  hmac_secret_env: z.string().regex(ENV_NAME, 'hmac_secret_env: an environment variable name').optional(),
  /** The trusted root.json of a TUF repository (tuf feeds). */
  tuf_root: nonEmpty.optional(),
}).strict()
  .refine((t) => new Set(t.keys.map((k) => k.trim())).size === t.keys.length, { message: 'trust.keys lists the same key twice', path: ['keys'] })
  .refine((t) => t.keys.length === 0 || t.threshold <= t.keys.length, { message: 'trust.threshold is larger than the number of keys', path: ['threshold'] })
  .refine((t) => !(t.none && (t.keys.length > 0 || t.checksums_only)), { message: 'trust.none cannot be combined with keys or checksums_only', path: ['none'] });

export type FeedConfig = z.output<typeof FeedSchema>;
export type TrustConfig = z.output<typeof TrustSchema>;

/**
 * The feed/trust combinations that make sense, as issues (path relative to the target). Native
 * feeds need keys; github needs keys, checksums_only or none; electron-builder publishes only
 * digests (checksums_only or none); Sparkle signs with Ed25519 keys (or none); TUF needs its
 * trusted root.json; hmac-manifest needs hmac_secret_env.
 */
export function feedTrustIssues(feed: FeedConfig | undefined, trust: TrustConfig | undefined): Array<{ path: Array<string | number>; message: string }> {
  if (!feed || !trust) return [];
  const type = feed.type ?? 'native';
  const keys = trust.keys.length > 0;
  const out: Array<{ path: Array<string | number>; message: string }> = [];
  const need = (ok: boolean, path: Array<string | number>, message: string): void => {
    if (!ok) out.push({ path, message });
  };
  if (type === 'native' || type === 'sparkle') {
    // Both verify bare Ed25519 signatures (DSSE envelopes, edSignature): other kinds could never sign.
    trust.keys.forEach((k, i) => need(/^\s*ed25519:/.test(k), ['trust', 'keys', i], `a ${type} feed verifies Ed25519 signatures: use an ed25519: key (got ${k.trim().split(':')[0]}:)`));
  }
  switch (type) {
    case 'native':
      if (trust.none || trust.checksums_only) {
        // The native format is signed by design (FEED-FORMAT.md): there is no unsigned mode to fall back to.
        need(false, ['trust', trust.none ? 'none' : 'checksums_only'], `a native (Upkeep) feed is always signed: trust.${trust.none ? 'none' : 'checksums_only'} is not available for it; list the feed's ed25519: public key in trust.keys`);
      } else {
        need(keys, ['trust', 'keys'], 'trust.keys needs at least one public key');
      }
      break;
    case 'github':
      need(keys || trust.checksums_only || trust.none, ['trust'], 'a github feed needs trust.keys, or trust.checksums_only: true, or trust.none: true');
      need(!trust.checksums_only || keys || (feed.type === 'github' && Boolean(feed.checksums || feed.manifest_asset)), ['trust', 'checksums_only'], 'trust.checksums_only needs feed.checksums or feed.manifest_asset');
      break;
    case 'electron-builder':
      need(!keys && (trust.checksums_only || trust.none), ['trust'], 'electron-builder feeds carry only sha512 digests: use trust.checksums_only: true (or trust.none: true)');
      break;
    case 'sparkle':
      need(keys || trust.none, ['trust'], 'a sparkle feed needs trust.keys (the SUPublicEDKey as ed25519:…) or trust.none: true');
      break;
    case 'tuf':
      need(Boolean(trust.tuf_root), ['trust', 'tuf_root'], 'a tuf feed needs trust.tuf_root (the trusted root.json)');
      break;
    case 'hmac-manifest':
      need(Boolean(trust.hmac_secret_env), ['trust', 'hmac_secret_env'], 'an hmac-manifest feed needs trust.hmac_secret_env');
      break;
  }
  return out;
}
