/**
 * `upkeep [--config FILE] [--json] <command>` — the command line other tools and tests rely on.
 * Exit codes: 0 success (also "up to date"), 1 operation failed (and was rolled back),
 * 2 usage or config error, 3 refused for security/verification, 4 busy.
 */
import { parseArgs } from 'node:util';
import { UpkeepError, UsageError, toUpkeepError, type ErrorKind } from '../../src-shared/errors';
import { processIO, type CliIO } from './io';
import { loadConfig, parseConfig, readConfigFile } from '../engine/config/load';
import { checkTrustKeys } from '../engine/config/trust-keys';
import { Engine } from '../engine/engine';
import { packageVersion } from '../engine/version';
import { runRelease } from './commands/release';
import { ProgressRenderer } from './progress-bar';
import { formatApply, formatCheck, formatDownload, formatHistory, formatPoints, formatRollback, formatStatus } from './format';
import path from 'node:path';

export const EXIT = { ok: 0, failed: 1, usage: 2, refused: 3, busy: 4 } as const;

const EXIT_BY_KIND: Record<ErrorKind, number> = {
  usage: EXIT.usage,
  not_found: EXIT.usage,
  auth: EXIT.usage,
  forbidden: EXIT.usage,
  security: EXIT.refused,
  refused: EXIT.refused,
  busy: EXIT.busy,
  failed: EXIT.failed,
};

/** The exit code for an error (one table). */
export function exitCodeFor(err: UpkeepError): number {
  return EXIT_BY_KIND[err.kind];
}

export const USAGE = `Usage: upkeep [--config FILE] [--json] <command> [options]

Targets:
  status [TARGET]                         installed version, last check, state
  check [TARGET]                          fetch and verify the feed; report the newest release
  download [TARGET] [--version V]         download and verify without installing
  apply [TARGET] [--version V] [--verify-only]
                                          install the newest eligible release (or V)
  rollback [TARGET] [ROLLBACK_ID]         restore a rollback point (default: the newest)
  points [TARGET]                         list rollback points
  history [TARGET] [--limit N]            list past operations
  config validate [FILE]                  validate a configuration file

Daemon:
  daemon                                  run the scheduler and the local HTTP API
  token create --name NAME --scope SCOPE  create an API token (printed once)

Publishing:
  release keygen --out DIR
  release publish BUILD_DIR --feed DIR --product P --version V [--channel C] --key KEY ...
  release rollout --feed DIR --channel C --version V --percent N --key KEY ...

Global options:
  --config FILE   configuration file (default: $UPKEEP_CONFIG, else ./upkeep.yaml)
  --json          print one JSON document
  --help          this text

Exit codes: 0 ok or up to date, 1 failed (rolled back), 2 usage/config, 3 refused (verification), 4 busy.
`;

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
    else if (a === '--config' || a === '-c') {
      const v = argv[++i];
      if (v === undefined) throw new UsageError('ERR_USAGE', '--config needs a file');
      g.config = v;
    } else if (a.startsWith('--config=')) g.config = a.slice('--config='.length);
    else g.rest.push(a);
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
    if (!cmd || g.help || cmd === 'help') {
      out.out(USAGE);
      return cmd || g.help ? EXIT.ok : EXIT.usage;
    }
    const args = g.rest.slice(1);
    switch (cmd) {
      case 'release':
        return await runRelease(args, out);
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
        throw new UsageError('ERR_USAGE', `Unknown command "${cmd}". Run "upkeep --help".`);
    }
  } catch (err) {
    const e = toUpkeepError(err);
    if (json) out.out(JSON.stringify({ error: { code: e.code, message: e.message, ...(e.details ? { details: e.details } : {}) } }));
    else out.err(`error: ${e.message} (${e.code})`);
    return exitCodeFor(e);
  }
}


async function configCommand(args: string[], g: Globals, out: CliIO): Promise<number> {
  if (args[0] !== 'validate') throw new UsageError('ERR_USAGE', 'Usage: upkeep config validate [FILE]');
  const file = path.resolve(args[1] ?? g.config ?? process.env.UPKEEP_CONFIG ?? 'upkeep.yaml');
  const text = await readConfigFile(file);
  const loaded = parseConfig(text, { file, dir: path.dirname(file), env: process.env });
  await checkTrustKeys(loaded);
  const targets = loaded.config.targets.map((t) => t.id);
  if (g.json) out.out(JSON.stringify({ valid: true, file, targets }));
  else out.out(`${file}: valid (${targets.length} target${targets.length === 1 ? '' : 's'}: ${targets.join(', ')})`);
  return EXIT.ok;
}

async function targetCommand(cmd: string, args: string[], g: Globals, out: CliIO): Promise<number> {
  const options = {
    version: { type: 'string' as const },
    'verify-only': { type: 'boolean' as const },
    limit: { type: 'string' as const },
  };
  let parsed;
  try {
    parsed = parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError('ERR_USAGE', (err as Error).message);
  }
  const { values, positionals } = parsed;
  const allowed: Record<string, string[]> = { download: ['version'], apply: ['version', 'verify-only'], history: ['limit'] };
  for (const k of Object.keys(values)) {
    if (!(allowed[cmd] ?? []).includes(k)) throw new UsageError('ERR_USAGE', `"${cmd}" has no option --${k}`);
  }
  const loaded = await loadConfig({ ...(g.config ? { path: g.config } : {}), env: process.env });
  const engine = new Engine({ loaded, actor: 'cli' });
  await engine.recoverAll('cli');

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
  try {
    switch (cmd) {
      case 'status': {
        const views = allTargets ? await engine.views() : [await engine.view(id())];
        out.out(g.json ? JSON.stringify(allTargets ? views : views[0], null, 2) : formatStatus(views));
        return EXIT.ok;
      }
      case 'check': {
        const r = await engine.check(id());
        out.out(g.json ? JSON.stringify(r, null, 2) : formatCheck(r));
        return EXIT.ok;
      }
      case 'download': {
        const r = await engine.download(id(), { ...(values.version ? { version: values.version } : {}) });
        bar.done();
        out.out(g.json ? JSON.stringify(r, null, 2) : formatDownload(r));
        return EXIT.ok;
      }
      case 'apply': {
        const r = await engine.apply(id(), { ...(values.version ? { version: values.version } : {}), verifyOnly: Boolean(values['verify-only']) });
        bar.done();
        out.out(g.json ? JSON.stringify(r, null, 2) : formatApply(r));
        return EXIT.ok;
      }
      case 'rollback': {
        const r = await engine.rollback(id(), { ...(extra ? { rollbackId: extra } : {}) });
        bar.done();
        out.out(g.json ? JSON.stringify(r, null, 2) : formatRollback(r));
        return EXIT.ok;
      }
      case 'points': {
        const r = await engine.points(id());
        out.out(g.json ? JSON.stringify(r, null, 2) : formatPoints(id(), r));
        return EXIT.ok;
      }
      case 'history': {
        const limit = values.limit !== undefined ? Number(values.limit) : 50;
        if (!Number.isInteger(limit) || limit < 1) throw new UsageError('ERR_USAGE', '--limit must be a positive integer');
        const r = await engine.history(allTargets ? undefined : id(), limit);
        out.out(g.json ? JSON.stringify(r, null, 2) : formatHistory(r));
        return EXIT.ok;
      }
      default:
        throw new UsageError('ERR_USAGE', `Unknown command "${cmd}"`);
    }
  } finally {
    bar.done();
    unsubscribe();
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
