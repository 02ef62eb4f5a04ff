/**
 * The configuration file's schema (one YAML file). Validation only; loading, env overrides and
 * path resolution live in load.ts. Every duration is in seconds unless its name says otherwise.
 */
import path from 'node:path';
import { z } from 'zod';
import { Cron } from 'croner';
import { isValidTimeZone } from '../../../src-shared/time-zone';
import { MAX_CHECK_INTERVAL_S } from '../../../src-shared/ipc-contract';
import { FeedSchema, TrustSchema, feedTrustIssues } from './feed-schema';
import { TARGET_ID_RE } from '../target-paths';

/** True when croner accepts `pattern` as a cron expression. */
export function isValidCron(pattern: string): boolean {
  try {
    new Cron(pattern, { paused: true }).stop();
    return true;
  } catch {
    return false;
  }
}

/**
 * One shared non-empty string schema: zod schemas are immutable, and building `z.string().min(1)`
 * afresh at each of its uses cost milliseconds of every start that reads the config.
 */
const nonEmpty = z.string().min(1);

const timeZone = z.string().refine(isValidTimeZone, 'unknown time zone (use an IANA name like Europe/Berlin)');

const duration = z.number().positive();
/** Longest timeout accepted, in seconds (24 h): timers past 2^31 ms would fire at once. */
export const MAX_TIMEOUT_S = 24 * 3600;
/** Most retries of a health check (each one may take its timeout_s). */
export const MAX_HEALTH_RETRIES = 1000;
/** A timeout in seconds: positive and at most MAX_TIMEOUT_S. */
const timeout = duration.max(MAX_TIMEOUT_S, `at most ${MAX_TIMEOUT_S} seconds (24 h)`);
/** A check interval in seconds: positive and at most MAX_CHECK_INTERVAL_S (366 days). */
const checkInterval = duration.max(MAX_CHECK_INTERVAL_S, `at most ${MAX_CHECK_INTERVAL_S} seconds (366 days)`);
const hhmm = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'expected "HH:MM" (24-hour)');
const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;

export const MaintenanceWindowSchema = z.object({
  days: z.array(z.enum(DAYS)).default([]),
  start: hhmm,
  end: hhmm,
  timezone: timeZone.default('UTC'),
}).strict();

export const HealthSchema = z.object({
  url: z.string().url().optional(),
  command: nonEmpty.optional(),
  expect_version: z.boolean().default(false),
  timeout_s: timeout.default(10),
  retries: z.number().int().min(0).max(MAX_HEALTH_RETRIES, `at most ${MAX_HEALTH_RETRIES}`).default(5),
  interval_s: z.number().min(0).max(MAX_TIMEOUT_S).default(1),
}).strict().refine((h) => Boolean(h.url) !== Boolean(h.command), { message: 'health needs exactly one of url or command' })
  // Every attempt may take timeout_s, with interval_s between them: the whole check is bounded
  // like a hook, or an apply could wait on a failing service for years with the lock held.
  .refine((h) => (h.retries + 1) * h.timeout_s + h.retries * h.interval_s <= MAX_TIMEOUT_S, {
    message: `(retries + 1) × timeout_s + retries × interval_s must be at most ${MAX_TIMEOUT_S} seconds (24 h)`,
  });

const hookCommand = z.union([
  nonEmpty,
  z.object({ run: nonEmpty, timeout_s: timeout.optional() }).strict(),
]);

export const HooksSchema = z.object({
  pre_apply: hookCommand.optional(),
  migrate: hookCommand.optional(),
  smoke: hookCommand.optional(),
  post_apply: hookCommand.optional(),
  rollback: hookCommand.optional(),
}).strict();

export const STEP_NAMES = ['backup', 'pull', 'migrate', 'smoke', 'switch', 'health', 'confirm', 'rollback'] as const;
export const StepsSchema = z.object(Object.fromEntries(STEP_NAMES.map((s) => [s, hookCommand.optional()])) as Record<(typeof STEP_NAMES)[number], z.ZodOptional<typeof hookCommand>>).strict();

export { FeedSchema, TrustSchema, type FeedConfig, type TrustConfig } from './feed-schema';

const policyFields = {
  channel: nonEmpty.default('stable'),
  check_schedule: nonEmpty.refine(isValidCron, 'not a valid cron expression').optional(),
  check_interval: checkInterval.optional(),
  maintenance_window: MaintenanceWindowSchema.optional(),
  auto_download: z.boolean().default(false),
  auto_apply: z.enum(['none', 'critical', 'all']).default('none'),
  paused: z.boolean().default(false),
  skip_versions: z.array(z.string()).default([]),
  retention: z.number().int().min(1).max(100).default(3),
  allow_downgrade: z.boolean().default(false),
};

const targetBase = {
  id: z.string().regex(TARGET_ID_RE, 'target id: lowercase letters, digits, - and _'),
  name: nonEmpty.optional(),
  install_dir: nonEmpty,
  /** Marks the target the compatibility routes act on (default: the first one). */
  default: z.boolean().default(false),
  hook_timeout: timeout.default(300),
  /** Command that restarts the managed software (POST /api/v1/restart). */
  restart: hookCommand.optional(),
  health: HealthSchema.optional(),
  ...policyFields,
};

export const FilesTargetSchema = z.object({
  ...targetBase,
  kind: z.literal('files'),
  layout: z.enum(['in-place', 'versioned']).default('in-place'),
  /** Managed files edited locally: keep the user copy beside as `<name>.local-<date>`, overwrite, or refuse (ERR_LOCAL_CHANGES). */
  on_local_change: z.enum(['keep', 'overwrite', 'refuse']).default('keep'),
  product: nonEmpty,
  feed: FeedSchema,
  trust: TrustSchema,
  hooks: HooksSchema.default({}),
  platform: z.enum(['linux', 'darwin', 'win32']).optional(),
  arch: z.enum(['x64', 'arm64']).optional(),
}).strict().superRefine((t, ctx) => {
  for (const i of feedTrustIssues(t.feed, t.trust)) ctx.addIssue({ code: 'custom', message: i.message, path: i.path });
  if (t.feed.type === 'hmac-manifest') ctx.addIssue({ code: 'custom', message: 'an hmac-manifest feed publishes no files: use it with a command target', path: ['feed', 'type'] });
});

export const CommandTargetSchema = z.object({
  ...targetBase,
  kind: z.literal('command'),
  /** Where versions come from: a signed feed like files targets, or none (manual `--version`). */
  product: nonEmpty.optional(),
  feed: FeedSchema.optional(),
  trust: TrustSchema.optional(),
  /** Current version when Upkeep has not recorded one yet. */
  initial_version: z.string().optional(),
  steps: StepsSchema,
  hooks: HooksSchema.default({}),
}).strict().refine((t) => Boolean(t.feed) === Boolean(t.trust), { message: 'a command target with a feed needs trust (and trust needs a feed)' })
  .refine((t) => !t.feed || Boolean(t.product), { message: 'a command target with a feed needs product' })
  .superRefine((t, ctx) => {
    for (const i of feedTrustIssues(t.feed, t.trust)) ctx.addIssue({ code: 'custom', message: i.message, path: i.path });
  });

/**
 * `git` targets: a git work tree updated to newer tags (or a branch head) of its remote, with
 * dependency install, migrations, build and health check, rolled back to the previous commit
 * and dependency folder on any failure.
 */
export const GitTargetSchema = z.object({
  ...targetBase,
  kind: z.literal('git'),
  /** Shown in views and used in messages; defaults to the target id. */
  product: nonEmpty.optional(),
  remote: nonEmpty.default('origin'),
  /** `{ tags: "v*" }`: SemVer tags matching the glob; `{ branch: main }`: the branch head. */
  track: z.union([
    z.object({ tags: nonEmpty }).strict(),
    z.object({ branch: nonEmpty.regex(/^[^\s~^:?*[\\]+$/, 'not a valid branch name') }).strict(),
  ]).default({ tags: 'v*' }),
  /** `auto` (from the lockfile: npm ci / pnpm / yarn), `none`, or a command. */
  install: z.union([z.literal('auto'), z.literal('none'), hookCommand]).default('auto'),
  build: hookCommand.optional(),
  hooks: HooksSchema.default({}),
  /** Extra files copied into every rollback point and restored with it (`.env`, compose files …), relative to install_dir. */
  backup_paths: z.array(nonEmpty).default([]),
  /**
   * Untracked folders moved aside into the rollback point by rename (never copied) before the
   * update and moved back on rollback: the dependency folder and any build output.
   */
  aside_paths: z.array(nonEmpty).default(['node_modules']),
  /** Tracked files changed locally: refuse the update (default) or stash them and re-apply after. */
  on_local_change: z.enum(['refuse', 'stash']).default('refuse'),
  /** Seconds a `git fetch` may take. */
  fetch_timeout: timeout.default(120),
  /** A tag whose annotation contains this text is a critical update. */
  critical_marker: nonEmpty.default('[critical]'),
  trust: z.object({
    signed_tags: z.object({
      /** An SSH allowed-signers file (`ssh-keygen -Y verify` format). */
      ssh_allowed_signers: nonEmpty.optional(),
      /** Armored OpenPGP public key files. */
      openpgp_keys: z.array(nonEmpty).min(1).optional(),
    }).strict().refine((s) => Boolean(s.ssh_allowed_signers) || Boolean(s.openpgp_keys), { message: 'signed_tags needs ssh_allowed_signers or openpgp_keys' }),
  }).strict().optional(),
}).strict();

/**
 * `compose` targets: the images of a Docker Compose stack, compared by digest with the registry
 * (OCI Distribution API), pulled and recreated, pinned back to the previous digests on failure.
 */
export const ComposeTargetSchema = z.object({
  ...targetBase,
  kind: z.literal('compose'),
  product: nonEmpty.optional(),
  compose_file: nonEmpty,
  /** Services managed; default: every service with an image. */
  services: z.array(nonEmpty).default([]),
  project_name: nonEmpty.optional(),
  /** Docker config.json with registry credentials. */
  registry_auth: z.object({ file: nonEmpty }).strict().optional(),
  /** Registries (host[:port]) reached over plain http although not on loopback. */
  insecure_registries: z.array(nonEmpty).default([]),
  /** The docker executable. */
  docker: nonEmpty.default('docker'),
  /** Seconds one docker command may take. */
  command_timeout: timeout.default(600),
  hooks: HooksSchema.default({}),
}).strict();

export const TargetSchema = z.discriminatedUnion('kind', [FilesTargetSchema, CommandTargetSchema, GitTargetSchema, ComposeTargetSchema]);

/** A compose target's install_dir defaults to its compose file's directory. */
function withComposeDefaults(v: unknown): unknown {
  if (!v || typeof v !== 'object') return v;
  const t = v as Record<string, unknown>;
  if (t.kind === 'compose' && t.install_dir === undefined && typeof t.compose_file === 'string' && t.compose_file !== '') {
    return { ...t, install_dir: path.dirname(t.compose_file) };
  }
  return v;
}

export const ApiTokenSchema = z.object({
  name: nonEmpty,
  sha256: z.string().regex(/^[0-9a-f]{64}$/, 'token sha256: 64 lowercase hex digits'),
  scopes: z.array(z.enum(['admin', 'update:apply', 'read'])).min(1),
}).strict();

export const ApiSchema = z.object({
  enabled: z.boolean().default(true),
  host: z.string().default('127.0.0.1'),
  port: z.number().int().min(0).max(65535).default(8765),
  tokens: z.array(ApiTokenSchema).default([]),
  jwt_secret: z.string().min(32, 'JWT secret must be at least 32 characters').optional(),
  public_reads: z.boolean().default(true),
  cors_origins: z.array(z.string()).default([]),
  /** Extra Host header values accepted besides the bound address and localhost. */
  allowed_hosts: z.array(z.string()).default([]),
  body_limit_bytes: z.number().int().positive().default(64 * 1024),
}).strict();

export const WebhookSchema = z.object({
  url: z.string().url(),
  secret: nonEmpty.optional(),
  events: z.array(z.string()).optional(),
  retries: z.number().int().min(0).max(10).default(3),
  timeout_s: timeout.default(10),
}).strict();

const proxyUrl = z.string().refine((v) => /^https?:\/\/[^/]/i.test(v) && URL.canParse(v), { message: 'a proxy is an http:// or https:// URL' });
/** `proxy:` — one URL for every request, `false` to ignore HTTP(S)_PROXY, or per scheme with a bypass list (net/proxy.ts). */
export const ProxySchema = z.union([
  proxyUrl,
  z.literal(false),
  z.object({
    url: proxyUrl.optional(),
    http: proxyUrl.optional(),
    https: proxyUrl.optional(),
    no_proxy: z.union([z.string(), z.array(nonEmpty)]).optional(),
  }).strict(),
]);

export const ConfigSchema = z.object({
  state_dir: nonEmpty.default('./state'),
  download_dir: nonEmpty.optional(),
  backup_dir: nonEmpty.optional(),
  check_interval: checkInterval.optional(),
  github_token: z.string().optional(),
  proxy: ProxySchema.optional(),
  log: z.object({
    file: z.string().optional(),
    level: z.enum(['error', 'warn', 'info', 'debug']).default('info'),
  }).strict().default({ level: 'info' }),
  api: ApiSchema.default(ApiSchema.parse({}, { jitless: true })),
  webhooks: z.array(WebhookSchema).default([]),
  notifications: z.object({
    quiet_hours: z.object({ start: hhmm, end: hhmm, timezone: timeZone.default('UTC') }).strict().optional(),
  }).strict().default({}),
  targets: z.array(z.preprocess(withComposeDefaults, TargetSchema)).min(1, 'targets needs at least one target'),
  /** Target groups: one operation over several targets, rolled back together (seed 004's full update). */
  groups: z.array(z.object({
    id: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'group id: lowercase letters, digits, - and _'),
    name: nonEmpty.optional(),
    targets: z.array(nonEmpty).min(2, 'a group needs at least two targets'),
  }).strict()).default([]),
}).strict().superRefine((c, ctx) => {
  c.groups.forEach((g, i) => {
    g.targets.forEach((id, j) => {
      if (!c.targets.some((t) => t.id === id)) ctx.addIssue({ code: 'custom', message: `Group '${g.id}' names unknown target '${id}'`, path: ['groups', i, 'targets', j] });
    });
    if (new Set(g.targets).size !== g.targets.length) ctx.addIssue({ code: 'custom', message: `Group '${g.id}' lists a target twice`, path: ['groups', i, 'targets'] });
    if (c.targets.some((t) => t.id === g.id)) ctx.addIssue({ code: 'custom', message: `Group id '${g.id}' is also a target id`, path: ['groups', i, 'id'] });
  });
  const seen = new Set<string>();
  c.targets.forEach((t, i) => {
    if (seen.has(t.id)) ctx.addIssue({ code: 'custom', message: `Duplicate target id '${t.id}'`, path: ['targets', i, 'id'] });
    seen.add(t.id);
  });
  if (c.targets.filter((t) => t.default).length > 1) ctx.addIssue({ code: 'custom', message: 'Only one target may be marked default', path: ['targets'] });
});

export type RawConfig = z.input<typeof ConfigSchema>;
export type Config = z.output<typeof ConfigSchema>;
export type TargetConfig = z.output<typeof TargetSchema>;
export type FilesTargetConfig = z.output<typeof FilesTargetSchema>;
export type CommandTargetConfig = z.output<typeof CommandTargetSchema>;
export type GitTargetConfig = z.output<typeof GitTargetSchema>;
export type ComposeTargetConfig = z.output<typeof ComposeTargetSchema>;
export type HookCommand = z.output<typeof hookCommand>;
export type HealthConfig = z.output<typeof HealthSchema>;
export type StepName = (typeof STEP_NAMES)[number];
