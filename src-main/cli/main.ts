/**
 * `upkeep [--config FILE] [--json] <command>` — the command line other tools and tests rely on.
 * Exit codes: 0 success (also "up to date"), 1 operation failed (and was rolled back),
 * 2 usage or config error, 3 refused for security/verification, 4 busy, 5 corrupt state file.
 *
 * Start-up time matters (scripts call `upkeep status` in loops): each command loads the modules
 * it needs with a `require` where it runs, so `--help` loads no engine and `status` no publisher.
 * The static imports below must stay free of npm packages (test/cli/start-modules.test.ts checks
 * what `--help` loads).
 */
import { ConfigError, UpkeepError, UsageError, toUpkeepError, errorFromJson, type ErrorKind } from '../../src-shared/errors';
import { appPaths, cliConfigPath } from '../engine/app-paths';
import { existsSync } from 'node:fs';
import os from 'node:os';
import { commandHelp, commandSpec, mainUsage, parseCommandArgs, unknownCommand, unknownSubcommand } from './spec';
import { processIO, type CliIO } from './io';
import { packageVersion } from '../engine/version';
import { limitUmask } from '../engine/fs/strict-modes';
import { ProgressRenderer } from './progress-bar';
import { guardRollback } from './rollback-guard';
import { formatApply, formatCheck, formatDownload, formatGroup, formatHistory, formatPoints, formatRollback, formatStatus, type BusyHolder } from './format';
import { applyGroup, findGroup, type GroupResult } from '../engine/runner/target-group';
import path from 'node:path';
import type { LoadedConfig } from '../engine/config/load';

export const EXIT = { ok: 0, failed: 1, usage: 2, refused: 3, busy: 4, corrupt: 5 } as const;

const EXIT_BY_KIND: Record<ErrorKind, number> = {
  usage: EXIT.usage,
  not_found: EXIT.usage,
  auth: EXIT.usage,
  forbidden: EXIT.usage,
  security: EXIT.refused,
  refused: EXIT.refused,
  busy: EXIT.busy,
  corrupt: EXIT.corrupt,
  failed: EXIT.failed,
};

/** The exit code for an error (one table). */
export function exitCodeFor(err: UpkeepError): number {
  return EXIT_BY_KIND[err.kind];
}

/** The top-level help text. */
export const USAGE = mainUsage();

/** Commands that read the config file. */
const CONFIG_COMMANDS = ['status', 'check', 'download', 'apply', 'rollback', 'points', 'history', 'daemon', 'config'];

/**
 * The config file when --config is not given: $UPKEEP_CONFIG, ./upkeep.yaml, else the desktop
 * app's file (src-main/engine/app-paths.ts); none existing is one error naming both places.
 */
function defaultConfigFile(): string {
  const r = cliConfigPath({ env: process.env, cwd: process.cwd(), appConfig: appPaths(process.platform, process.env, os.homedir()).configFile, exists: existsSync });
  if (r.tried.length > 0) throw new ConfigError(`No configuration file: neither ${r.tried.join(' nor ')} exists. Pass --config FILE or set UPKEEP_CONFIG.`);
  return r.file;
}

/** Throws the command's usage error (ERR_USAGE) for an unknown subcommand or option; parses nothing else. */
function checkGrammar(cmd: string, args: string[]): void {
  const spec = commandSpec(cmd)!;
  if (cmd !== 'config') parseCommandArgs(spec, args);
  else if (args[0] !== 'validate') throw unknownSubcommand(spec, args[0]);
  else parseCommandArgs(spec, args.slice(1));
}

interface Globals {
  config?: string;
  json: boolean;
  help: boolean;
  rest: string[];
}

/** Pulls the global flags out of argv wherever they stand; the rest belongs to the command. */
export function splitGlobals(argv: string[]): Globals {
  const g: Globals = { json: false, help: false, rest: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--json') g.json = true;
    else if (a === '--help' || a === '-h') g.help = true;
    else if (a === '--config' || a === '-c' || a.startsWith('--config=')) {
      const v = a.startsWith('--config=') ? a.slice('--config='.length) : argv[++i];
      // An empty name is refused: read as "no --config", it would use ./upkeep.yaml or $UPKEEP_CONFIG.
      if (v === undefined || v === '') throw new UsageError('ERR_USAGE', '--config needs a file');
      g.config = v;
    } else g.rest.push(a);
  }
  return g;
}

/** Runs the command line; resolves to the process exit code. Never calls process.exit. */
export async function main(argv: string[], io?: CliIO): Promise<number> {
  let json = argv.includes('--json');
  const out = io ?? processIO(json);
  try {
    const g = splitGlobals(argv);
    json = g.json;
    const cmd = g.rest[0];
    if (!cmd || (cmd === 'help' && g.rest.length === 1)) {
      out.out(USAGE);
      return cmd || g.help ? EXIT.ok : EXIT.usage;
    }
    if (cmd === 'help' || g.help) {
      // `upkeep help X` and `upkeep X --help`: that command's usage and options.
      const asked = cmd === 'help' ? g.rest[1]! : cmd;
      // `--version` is the version command spelt as an option: `upkeep --version --help` is its help.
      const name = asked === '--version' ? 'version' : asked;
      const spec = commandSpec(name);
      if (!spec) throw unknownCommand(name);
      if (name === 'release') {
        const { runRelease } = require('./commands/release') as typeof import('./commands/release');
        return await runRelease([...g.rest.slice(cmd === 'help' ? 2 : 1).filter((a) => !a.startsWith('-')).slice(0, 1), '--help'], out);
      }
      out.out(commandHelp(spec));
      return EXIT.ok;
    }
    const args = g.rest.slice(1);
    limitUmask();
    if (CONFIG_COMMANDS.includes(cmd) && !g.config && !(cmd === 'config' && args.length > 1)) {
      // A mistyped subcommand or option is a usage error whether or not a config file exists.
      checkGrammar(cmd, args);
      g.config = defaultConfigFile();
    }
    switch (cmd) {
      case 'release': {
        const { runRelease } = require('./commands/release') as typeof import('./commands/release');
        return await runRelease(args, out);
      }
      case 'config':
        return await configCommand(args, g, out);
      case 'version':
      case '--version':
        out.out(json ? JSON.stringify({ version: packageVersion() }) : packageVersion());
        return EXIT.ok;
      case 'daemon': {
        // Loaded on demand: the HTTP server's dependencies would slow every other command's start.
        const { runDaemonCommand } = require('./commands/daemon') as typeof import('./commands/daemon');
        return await runDaemonCommand(args, g.config, out);
      }
      case 'token': {
        const { runTokenCommand } = require('./commands/token') as typeof import('./commands/token');
        return await runTokenCommand(args, out);
      }
      case 'status':
      case 'check':
      case 'download':
      case 'apply':
      case 'rollback':
      case 'points':
      case 'history':
        return await targetCommand(cmd, args, g, out);
      default:
        throw unknownCommand(cmd);
    }
  } catch (err) {
    const e = toUpkeepError(err);
    if (json) out.out(JSON.stringify({ error: { code: e.code, message: e.message, ...(e.details ? { details: e.details } : {}) } }));
    else out.err(`error: ${e.message} (${e.code})`);
    return exitCodeFor(e);
  }
}


async function configCommand(args: string[], g: Globals, out: CliIO): Promise<number> {
  const spec = commandSpec('config')!;
  if (args[0] !== 'validate') throw unknownSubcommand(spec, args[0]);
  const { positionals } = parseCommandArgs(spec, args.slice(1));
  if (positionals.length > 1) throw new UsageError('ERR_USAGE', `config validate: unexpected argument "${positionals[1]}"`);
  const file = path.resolve(positionals[0] ?? g.config ?? process.env.UPKEEP_CONFIG ?? 'upkeep.yaml');
  const { parseConfig, readConfigFile } = require('../engine/config/load') as typeof import('../engine/config/load');
  const text = await readConfigFile(file);
  const loaded = parseConfig(text, { file, dir: path.dirname(file), env: process.env });
  const { checkTrustKeys } = require('../engine/config/trust-keys') as typeof import('../engine/config/trust-keys');
  await checkTrustKeys(loaded);
  const targets = loaded.config.targets.map((t) => t.id);
  const { plannedRequests } = require('../engine/net/planned-requests') as typeof import('../engine/net/planned-requests');
  const planned = plannedRequests(loaded.config, process.env);
  if (g.json) out.out(JSON.stringify({ valid: true, file, targets, requests: planned }));
  else {
    out.out(`${file}: valid (${targets.length} target${targets.length === 1 ? '' : 's'}: ${targets.join(', ')})`);
    for (const p of planned) {
      out.out(`${p.target} (${p.feed_type} feed) fetches:`);
      for (const r of p.requests) out.out(`  GET ${r.url}${r.proxy ? `  via proxy ${r.proxy}` : '  (direct)'}`);
      out.out(`  then ${p.then}`);
    }
  }
  return EXIT.ok;
}

/** Set when this process parsed and validated the config although the build keeps a config cache. */
let validatedConfig = false;

/**
 * True when this process validated the config with the config cache on (a miss): its compiled code
 * then holds the YAML parser and the config schemas, which later runs (hits) never run, so
 * bin/upkeep.js keeps V8's code cache of this run only until a run that used the config cache.
 */
export function configValidated(): boolean {
  return validatedConfig;
}

/**
 * The config file, validated: from the cache of validated configs when this build keeps one
 * (config-cache-options.ts) and it has this file's text, else parsed, validated and stored.
 */
async function loadCliConfig(file: string | undefined): Promise<LoadedConfig> {
  const { configCacheOptions } = require('./config-cache-options') as typeof import('./config-cache-options');
  const cache = configCacheOptions();
  const o = { ...(file ? { path: file } : {}), env: process.env };
  if (cache) {
    const { loadCachedConfig } = require('../engine/config/config-cache') as typeof import('../engine/config/config-cache');
    const hit = await loadCachedConfig({ ...o, cache });
    if (hit) return hit;
  }
  const { loadConfig } = require('../engine/config/load') as typeof import('../engine/config/load');
  if (cache) validatedConfig = true;
  return loadConfig({ ...o, ...(cache ? { cache } : {}) });
}

async function targetCommand(cmd: string, args: string[], g: Globals, out: CliIO): Promise<number> {
  const { values, positionals } = parseCommandArgs(commandSpec(cmd)!, args);
  const version = typeof values.version === 'string' ? values.version : undefined;
  const { OperationRunner } = require('../engine/runner/operation-runner') as typeof import('../engine/runner/operation-runner');
  const loaded = await loadCliConfig(g.config);
  const engine = new OperationRunner({ loaded, actor: 'cli' });
  const operation = cmd === 'download' || cmd === 'apply' || cmd === 'rollback';
  // Operations recover their target under its lock; reads recover every free target first.
  if (!operation) await engine.recoverAll('cli');

  if (cmd === 'apply' && typeof values.group === 'string') {
    if (positionals.length > 0 || version || values['verify-only']) throw new UsageError('ERR_USAGE', '--group takes no target, --version or --verify-only');
    const members = findGroup(loaded.config, values.group).targets;
    const bar = new ProgressRenderer(out);
    const unsubscribe = engine.bus.subscribe((e) => bar.onEvent(e));
    // Ctrl-C cancels whichever member is running while that is safe (the group then rolls back the others).
    const onSignal = (signal: NodeJS.Signals): void => {
      bar.done();
      const running = members.find((m) => engine.isRunning(m));
      if (running && engine.cancel(running)) out.err(`${signal}: cancelling the apply of ${running}`);
      else out.err(`${signal}: waiting for the group operation to finish or roll back`);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    try {
      const r = await applyGroup(engine, loaded.config, values.group);
      bar.done();
      out.out(g.json ? JSON.stringify(r, null, 2) : formatGroup(r));
      return EXIT.ok;
    } catch (err) {
      bar.finish(toUpkeepError(err).code);
      const group = toUpkeepError(err).details?.group as GroupResult | undefined;
      if (group && !g.json) out.err(formatGroup(group));
      throw err;
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      bar.finish();
      unsubscribe();
    }
  }

  let targetId: string | undefined = positionals[0];
  let extra: string | undefined = positionals[1];
  if (cmd === 'rollback' && positionals.length === 1 && !loaded.config.targets.some((t) => t.id === positionals[0])) {
    targetId = undefined;
    extra = positionals[0];
  }
  const maxPositionals = cmd === 'rollback' ? 2 : 1;
  if (positionals.length > maxPositionals) throw new UsageError('ERR_USAGE', `Too many arguments for "${cmd}"`);
  // `status` and `history` without a target cover every target; the rest act on one.
  const allTargets = (cmd === 'status' || cmd === 'history') && targetId === undefined;
  const target = allTargets ? null : engine.target(targetId);
  const id = (): string => target!.id;

  const bar = new ProgressRenderer(out);
  const unsubscribe = engine.bus.subscribe((e) => bar.onEvent(e));
  // Ctrl-C / SIGTERM cancel an operation while that is safe (it then ends with ERR_CANCELLED,
  // a history row and exit 1); once the target is changing, the operation finishes or rolls back.
  const onSignal = (signal: NodeJS.Signals): void => {
    bar.done();
    if (engine.cancel(id())) out.err(`${signal}: cancelling ${cmd} of ${id()}`);
    else out.err(`${signal}: ${id()} is being changed; waiting for the ${cmd} to finish or roll back`);
  };
  if (operation) {
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }
  try {
    switch (cmd) {
      case 'status': {
        const views = allTargets ? await engine.views() : [await engine.view(id())];
        // A target whose state files cannot be read is listed with its error (the others as
        // always), and the exit code is that error's (5 for a corrupt state file) so scripts notice.
        const damaged = views.flatMap((v) => {
          const e = engine.damage(v.id);
          return e ? [{ id: v.id, error: e }] : [];
        });
        const code = damaged.length > 0 ? exitCodeFor(damaged[0]!.error) : EXIT.ok;
        if (g.json) {
          out.out(JSON.stringify(allTargets ? views : views[0], null, 2));
          return code;
        }
        // Another process (the daemon, the tray, another command) may be working on a target now.
        const { readLockHolder } = require('../engine/lock') as typeof import('../engine/lock');
        const busy = new Map<string, BusyHolder>();
        for (const v of views) {
          const holder = await readLockHolder(loaded.config.state_dir, v.id);
          if (holder && !holder.stale) busy.set(v.id, holder);
        }
        out.out(formatStatus(views, busy, new Set(damaged.map((d) => d.id))));
        for (const d of damaged) out.err(`error: ${d.id}: ${d.error.message} (${d.error.code})`);
        return code;
      }
      case 'check': {
        const r = await engine.check(id());
        out.out(g.json ? JSON.stringify(r, null, 2) : formatCheck(r));
        return EXIT.ok;
      }
      case 'download': {
        const r = await engine.download(id(), { ...(version ? { version } : {}) });
        bar.done();
        out.out(g.json ? JSON.stringify(r, null, 2) : formatDownload(r));
        return EXIT.ok;
      }
      case 'apply': {
        const r = await engine.apply(id(), { ...(version ? { version } : {}), verifyOnly: Boolean(values['verify-only']) });
        bar.done();
        out.out(g.json ? JSON.stringify(r, null, 2) : formatApply(r));
        return EXIT.ok;
      }
      case 'rollback': {
        const t = target!;
        const point = await guardRollback({
          targetId: t.id, targetName: t.name ?? t.id, rollbackId: extra, points: await engine.points(t.id), yes: Boolean(values.yes), ...(out.ask ? { ask: out.ask } : {}),
        });
        const r = await engine.rollback(t.id, { rollbackId: point.rollback_id });
        bar.done();
        out.out(g.json ? JSON.stringify(r, null, 2) : formatRollback(r));
        return EXIT.ok;
      }
      case 'points': {
        const r = await engine.points(id());
        out.out(g.json ? JSON.stringify(r, null, 2) : formatPoints(id(), r));
        // Damaged points are listed with the others; the exit code is their error's (5) so scripts notice.
        const bad = r.filter((p) => p.error);
        for (const p of bad) out.err(`error: ${id()}: ${p.error!.message} (${p.error!.code})`);
        return bad[0] ? exitCodeFor(errorFromJson(bad[0].error!)) : EXIT.ok;
      }
      case 'history': {
        const limit = typeof values.limit === 'string' ? Number(values.limit) : 50;
        if (!Number.isInteger(limit) || limit < 1) throw new UsageError('ERR_USAGE', '--limit must be a positive integer');
        const r = await engine.history(allTargets ? undefined : id(), limit);
        out.out(g.json ? JSON.stringify(r, null, 2) : formatHistory(r));
        return EXIT.ok;
      }
      default:
        throw new UsageError('ERR_USAGE', `Unknown command "${cmd}"`);
    }
  } catch (err) {
    bar.finish(toUpkeepError(err).code);
    throw err;
  } finally {
    if (operation) {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    bar.finish();
    unsubscribe();
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
