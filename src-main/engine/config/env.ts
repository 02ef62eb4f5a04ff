/**
 * Environment-variable overrides of the config file, applied to the parsed YAML before schema
 * validation. Each UPKEEP_* variable may have a legacy alias (the seed products' names); the
 * UPKEEP_* name wins when both are set. A bad value is a ConfigError naming the variable.
 */
import { ConfigError } from '../../../src-shared/errors';

export interface EnvVarInfo {
  name: string;
  alias: string | null;
  meaning: string;
}

/** Seed 003's agent variables → the steps of the default command target they configure. */
export const COMMAND_STEP_ENV: ReadonlyArray<readonly [string, string]> = Object.freeze([
  ['UPDATE_BACKUP_CMD', 'backup'],
  ['UPDATE_PULL_CMD', 'pull'],
  ['UPDATE_MIGRATE_CMD', 'migrate'],
  ['UPDATE_SMOKE_CMD', 'smoke'],
  ['UPDATE_SWITCH_CMD', 'switch'],
  ['UPDATE_ROLLBACK_CMD', 'rollback'],
] as const);

/** Every environment variable the config loader reads, for docs and `--help`. */
export const ENV_VARS: readonly EnvVarInfo[] = Object.freeze([
  { name: 'UPKEEP_CONFIG', alias: null, meaning: 'Path of the config file (default ./upkeep.yaml).' },
  { name: 'UPKEEP_STATE_DIR', alias: null, meaning: 'state_dir: where Upkeep keeps its state.' },
  { name: 'UPKEEP_DOWNLOAD_DIR', alias: 'THEMIS_DOWNLOAD_DIR', meaning: 'download_dir (default <state_dir>/downloads).' },
  { name: 'UPKEEP_BACKUP_DIR', alias: 'THEMIS_BACKUP_DIR', meaning: 'backup_dir: rollback points (default <state_dir>/points).' },
  { name: 'UPKEEP_CHECK_INTERVAL', alias: 'THEMIS_UPDATE_CHECK_INTERVAL', meaning: 'check_interval in seconds: the global default check interval.' },
  { name: 'GITHUB_TOKEN', alias: 'THEMIS_GITHUB_API_TOKEN', meaning: 'github_token: API token of github feeds without their own feed.token (sent only to their api_url).' },
  { name: 'UPKEEP_GITHUB_REPO', alias: 'GITHUB_REPO', meaning: 'feed.repo (owner/name) of the default target, when its feed is a github feed.' },
  ...COMMAND_STEP_ENV.map(([name, step]) => ({ name, alias: null, meaning: `steps.${step} of the default target, when it is a command target.` })),
  { name: 'UPDATE_HEALTHCHECK_URL', alias: null, meaning: 'health.url of the default target, when it is a command target.' },
  { name: 'UPDATE_BRANCH', alias: null, meaning: 'track: { branch } of the default target, when it is a git target (seed 004).' },
  { name: 'UPKEEP_CHECK_SCHEDULE', alias: 'UPDATE_CHECK_SCHEDULE', meaning: 'check_schedule (cron) of the default target.' },
  { name: 'UPKEEP_AUTO_APPLY', alias: 'AUTO_UPDATE_ENABLED', meaning: 'auto_apply of the default target: none | critical | all (alias: true = all, false = none).' },
  { name: 'UPKEEP_BACKUP_RETENTION', alias: 'BACKUP_RETENTION_COUNT', meaning: 'retention (rollback points kept) of the default target, 1-100.' },
]);

type Raw = Record<string, unknown>;

function isObject(v: unknown): v is Raw {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The value of `name`, else of `alias`, with the variable it came from; empty strings count as unset. */
function pick(env: NodeJS.ProcessEnv, name: string, alias?: string): { from: string; value: string } | null {
  const v = env[name];
  if (v !== undefined && v.trim() !== '') return { from: name, value: v.trim() };
  if (alias) {
    const a = env[alias];
    if (a !== undefined && a.trim() !== '') return { from: alias, value: a.trim() };
  }
  return null;
}

function bad(variable: string, value: string, expected: string): ConfigError {
  return new ConfigError(`environment variable ${variable}=${JSON.stringify(value)}: ${expected}`, {
    issues: [{ path: `env.${variable}`, line: null, message: expected }],
  });
}

function positiveSeconds(p: { from: string; value: string }): number {
  const n = Number(p.value);
  if (!/^\d+(\.\d+)?$/.test(p.value) || !Number.isFinite(n) || n <= 0) throw bad(p.from, p.value, 'expected a positive number of seconds');
  return n;
}

function autoApply(p: { from: string; value: string }): 'none' | 'critical' | 'all' {
  const v = p.value.toLowerCase();
  if (p.from === 'AUTO_UPDATE_ENABLED') {
    if (['true', '1', 'yes', 'on'].includes(v)) return 'all';
    if (['false', '0', 'no', 'off'].includes(v)) return 'none';
    throw bad(p.from, p.value, 'expected true or false');
  }
  if (v === 'none' || v === 'critical' || v === 'all') return v;
  throw bad(p.from, p.value, 'expected none, critical or all');
}

function retention(p: { from: string; value: string }): number {
  const n = Number(p.value);
  if (!/^\d+$/.test(p.value) || n < 1 || n > 100) throw bad(p.from, p.value, 'expected a whole number from 1 to 100');
  return n;
}

/**
 * The raw target the per-target aliases act on: the one marked `default: true`, else the first.
 * Null when the raw document has no usable targets (validation reports that).
 */
function rawDefaultTarget(raw: Raw): Raw | null {
  const targets = raw.targets;
  if (!Array.isArray(targets)) return null;
  const marked = targets.find((t) => isObject(t) && t.default === true);
  const t = marked ?? targets[0];
  return isObject(t) ? t : null;
}

/**
 * Applies the environment overrides to a parsed (not yet validated) config document, in place,
 * and returns the names of the variables that took effect. Throws ConfigError on a bad value.
 */
export function applyEnvOverrides(raw: unknown, env: NodeJS.ProcessEnv): string[] {
  const applied: string[] = [];
  if (!isObject(raw)) return applied;

  const stateDir = pick(env, 'UPKEEP_STATE_DIR');
  if (stateDir) { raw.state_dir = stateDir.value; applied.push(stateDir.from); }
  const downloadDir = pick(env, 'UPKEEP_DOWNLOAD_DIR', 'THEMIS_DOWNLOAD_DIR');
  if (downloadDir) { raw.download_dir = downloadDir.value; applied.push(downloadDir.from); }
  const backupDir = pick(env, 'UPKEEP_BACKUP_DIR', 'THEMIS_BACKUP_DIR');
  if (backupDir) { raw.backup_dir = backupDir.value; applied.push(backupDir.from); }
  const interval = pick(env, 'UPKEEP_CHECK_INTERVAL', 'THEMIS_UPDATE_CHECK_INTERVAL');
  if (interval) { raw.check_interval = positiveSeconds(interval); applied.push(interval.from); }
  const token = pick(env, 'GITHUB_TOKEN', 'THEMIS_GITHUB_API_TOKEN');
  if (token) { raw.github_token = token.value; applied.push(token.from); }

  const schedule = pick(env, 'UPKEEP_CHECK_SCHEDULE', 'UPDATE_CHECK_SCHEDULE');
  const auto = pick(env, 'UPKEEP_AUTO_APPLY', 'AUTO_UPDATE_ENABLED');
  const keep = pick(env, 'UPKEEP_BACKUP_RETENTION', 'BACKUP_RETENTION_COUNT');
  // Parse every value first, so a bad variable is reported even when there is no target.
  const autoValue = auto ? autoApply(auto) : undefined;
  const keepValue = keep ? retention(keep) : undefined;
  const target = rawDefaultTarget(raw);
  if (target) {
    if (schedule) { target.check_schedule = schedule.value; applied.push(schedule.from); }
    if (auto) { target.auto_apply = autoValue; applied.push(auto.from); }
    if (keep) { target.retention = keepValue; applied.push(keep.from); }
  }
  applied.push(...applyGithubEnv(raw, target, env), ...applyCommandEnv(target, env), ...applyGitEnv(target, env));
  return applied;
}

/**
 * Seed 004's UPDATE_BRANCH makes the default git target follow that branch's head. Setting it
 * while the default target is not a git target is a ConfigError naming the variable.
 */
function applyGitEnv(target: Raw | null, env: NodeJS.ProcessEnv): string[] {
  const branch = pick(env, 'UPDATE_BRANCH');
  if (!branch) return [];
  if (!target || target.kind !== 'git') throw bad(branch.from, branch.value, 'the default target is not a git target');
  target.track = { branch: branch.value };
  return [branch.from];
}

/**
 * UPKEEP_GITHUB_REPO / GITHUB_REPO set the default target's github `feed.repo`; the top-level
 * `github_token` (from the file, GITHUB_TOKEN or THEMIS_GITHUB_API_TOKEN) becomes `feed.token` of
 * every github feed that has none of its own.
 */
function applyGithubEnv(raw: Raw, target: Raw | null, env: NodeJS.ProcessEnv): string[] {
  const applied: string[] = [];
  const repo = pick(env, 'UPKEEP_GITHUB_REPO', 'GITHUB_REPO');
  if (repo && target && isObject(target.feed) && target.feed.type === 'github') {
    target.feed.repo = repo.value;
    applied.push(repo.from);
  }
  const token = typeof raw.github_token === 'string' && raw.github_token.trim() !== '' ? raw.github_token.trim() : null;
  if (token && Array.isArray(raw.targets)) {
    for (const t of raw.targets) {
      if (isObject(t) && isObject(t.feed) && t.feed.type === 'github' && t.feed.token === undefined) t.feed.token = token;
    }
  }
  return applied;
}

/**
 * Seed 003's UPDATE_*_CMD variables set the steps of the default target and UPDATE_HEALTHCHECK_URL
 * its health check URL. Setting one while the default target is not a command target is a
 * ConfigError naming the variable.
 */
function applyCommandEnv(target: Raw | null, env: NodeJS.ProcessEnv): string[] {
  const applied: string[] = [];
  const set = COMMAND_STEP_ENV.map(([name, step]) => ({ p: pick(env, name), step })).filter((x) => x.p !== null);
  const health = pick(env, 'UPDATE_HEALTHCHECK_URL');
  if (set.length === 0 && !health) return applied;
  const first = set[0]?.p ?? health!;
  if (!target || target.kind !== 'command') throw bad(first.from, first.value, 'the default target is not a command target');
  const steps = isObject(target.steps) ? target.steps : (target.steps = {});
  for (const { p, step } of set) {
    (steps as Raw)[step] = p!.value;
    applied.push(p!.from);
  }
  if (health) {
    let u: URL | null = null;
    try {
      u = new URL(health.value);
    } catch {}
    if (!u || (u.protocol !== 'http:' && u.protocol !== 'https:')) throw bad(health.from, health.value, 'expected an http(s) URL');
    const prev = isObject(target.health) ? target.health : {};
    delete prev.command;
    target.health = { ...prev, url: health.value };
    applied.push(health.from);
  }
  return applied;
}
