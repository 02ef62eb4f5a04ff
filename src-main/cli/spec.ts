/**
 * The command line's grammar in one table: every command's usage line, summary and options.
 * `upkeep <command> --help` prints a command's entry, argument parsing reads its options from
 * here, and an unknown command or option is refused with one line naming the closest match.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from '../../src-shared/errors';

export interface OptionSpec {
  name: string;
  type: 'string' | 'boolean';
  /** Placeholder of the value in help ("V", "N"). */
  arg?: string;
  multiple?: boolean;
  help: string;
}

export interface CommandSpec {
  name: string;
  usage: string;
  summary: string;
  /** Lines printed under the usage in `--help`. */
  details?: string[];
  options: OptionSpec[];
  /** Sub-commands (config validate, token create); their names are suggested for typos too. */
  subcommands?: string[];
}

/** Options every command accepts (pulled out before the command's own options are parsed). */
export const GLOBAL_OPTIONS: OptionSpec[] = [
  { name: 'config', type: 'string', arg: 'FILE', help: 'configuration file (default: $UPKEEP_CONFIG, else ./upkeep.yaml)' },
  { name: 'json', type: 'boolean', help: 'print exactly one JSON document on stdout' },
  { name: 'help', type: 'boolean', help: 'show help (of the command, when one is given)' },
];

const TARGET_NOTE = 'TARGET may be omitted when the config has one target.';

export const COMMANDS: CommandSpec[] = [
  { name: 'status', usage: 'upkeep status [TARGET]', summary: 'installed version, last check, state', details: ['Without TARGET: every target.'], options: [] },
  { name: 'check', usage: 'upkeep check [TARGET]', summary: 'fetch and verify the feed; report the newest release', details: [TARGET_NOTE], options: [] },
  {
    name: 'download', usage: 'upkeep download [TARGET] [--version V]', summary: 'download and verify without installing', details: [TARGET_NOTE],
    options: [{ name: 'version', type: 'string', arg: 'V', help: 'this version instead of the newest eligible one' }],
  },
  {
    name: 'apply', usage: 'upkeep apply [TARGET] [--version V] [--verify-only] | upkeep apply --group GROUP', summary: 'install the newest eligible release (or V)',
    details: [TARGET_NOTE, '--group applies every target of a configured group in order, rolling back the ones it applied when a later one fails.'],
    options: [
      { name: 'version', type: 'string', arg: 'V', help: 'this version instead of the newest eligible one' },
      { name: 'verify-only', type: 'boolean', help: 'download and verify everything, change nothing' },
      { name: 'group', type: 'string', arg: 'GROUP', help: 'apply a target group (config `groups`) as one operation' },
    ],
  },
  {
    name: 'rollback', usage: 'upkeep rollback [TARGET] [ROLLBACK_ID] [--yes]', summary: 'restore a rollback point (default: the newest)',
    details: [
      TARGET_NOTE,
      'ROLLBACK_ID comes from "upkeep points". Rolling back past the first install (none -> V)',
      'removes the installed files: on a terminal you are asked, otherwise --yes is required.',
    ],
    options: [{ name: 'yes', type: 'boolean', help: 'confirm a rollback that removes the installation' }],
  },
  { name: 'points', usage: 'upkeep points [TARGET]', summary: 'list rollback points', details: [TARGET_NOTE], options: [] },
  {
    name: 'history', usage: 'upkeep history [TARGET] [--limit N]', summary: 'list past operations', details: ['Without TARGET: every target.'],
    options: [{ name: 'limit', type: 'string', arg: 'N', help: 'at most N records, newest first (default 50)' }],
  },
  {
    name: 'config', usage: 'upkeep config validate [FILE]', summary: 'validate a configuration file', subcommands: ['validate'],
    details: ['FILE defaults to --config, $UPKEEP_CONFIG, then ./upkeep.yaml. Errors name file:line:col and the key.'], options: [],
  },
  {
    name: 'daemon', usage: 'upkeep daemon [--host H] [--port P] [--dashboard DIR] [--no-watch]', summary: 'run the scheduler and the local HTTP API',
    details: ['Serves the web dashboard at /, reloads the config on change and SIGHUP, stops safely on SIGTERM/SIGINT.'],
    options: [
      { name: 'host', type: 'string', arg: 'H', help: 'listen address (default api.host, 127.0.0.1)' },
      { name: 'port', type: 'string', arg: 'P', help: 'listen port, 0 for any free port (default api.port, 8765)' },
      { name: 'dashboard', type: 'string', arg: 'DIR', help: 'serve this built dashboard instead of the packaged one' },
      { name: 'no-watch', type: 'boolean', help: 'do not reload when the config file changes' },
    ],
  },
  {
    name: 'token', usage: 'upkeep token create --name NAME --scope SCOPE [--scope SCOPE ...]', summary: 'create an API token (printed once)', subcommands: ['create'],
    details: ['Prints the token once and the api.tokens line that stores only its SHA-256.'],
    options: [
      { name: 'name', type: 'string', arg: 'NAME', help: 'letters, digits, . _ -' },
      { name: 'scope', type: 'string', arg: 'SCOPE', multiple: true, help: 'admin, update:apply or read' },
    ],
  },
  { name: 'release', usage: 'upkeep release keygen|publish|rollout|manifest ...', summary: 'publish signed releases (see "upkeep release --help")', subcommands: ['keygen', 'publish', 'rollout', 'manifest', 'help'], options: [] },
  { name: 'version', usage: 'upkeep version', summary: 'print the version', options: [] },
  { name: 'help', usage: 'upkeep help [COMMAND]', summary: 'this text, or a command\'s help', options: [] },
];

export function commandSpec(name: string): CommandSpec | undefined {
  return COMMANDS.find((c) => c.name === name);
}

/**
 * Edit distance between two short words, counting a swap of neighbours as one edit (optimal
 * string alignment, a Damerau-Levenshtein variant). Own code: a dozen lines for command-line
 * suggestions, where a dependency would cost more than it saves.
 */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const row = d[i]!;
      row[j] = Math.min(d[i - 1]![j]! + 1, row[j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) row[j] = Math.min(row[j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}

/** The candidate closest to `word` (a prefix, or at most a third of its letters off), or null. */
export function suggest(word: string, candidates: readonly string[]): string | null {
  const w = word.toLowerCase();
  const prefixed = candidates.filter((c) => w.length >= 2 && c.startsWith(w));
  if (prefixed.length === 1) return prefixed[0]!;
  let best: string | null = null;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = editDistance(w, c);
    if (d < bestD) [best, bestD] = [c, d];
  }
  return best !== null && bestD <= Math.max(1, Math.floor(Math.max(w.length, best.length) / 3)) ? best : null;
}

function didYouMean(s: string | null, render: (x: string) => string = (x) => x): string {
  return s ? ` Did you mean "${render(s)}"?` : '';
}

/** The one-line error for an unknown command. */
export function unknownCommand(cmd: string): UsageError {
  const names = COMMANDS.map((c) => c.name);
  return new UsageError('ERR_USAGE', `Unknown command "${cmd}".${didYouMean(suggest(cmd, names))} Run "upkeep --help" for the list.`);
}

/** The one-line error for an unknown sub-command ("config valdate"). */
export function unknownSubcommand(spec: CommandSpec, sub: string | undefined): UsageError {
  if (sub === undefined) return new UsageError('ERR_USAGE', `"${spec.name}" needs a command: ${spec.usage}`);
  // "upkeep release --bogus": an option where the command should be.
  if (sub.startsWith('-')) return new UsageError('ERR_USAGE', `Unknown option "${sub}" for "${spec.name}", which needs a command first: ${spec.usage}`);
  return new UsageError('ERR_USAGE', `Unknown command "${spec.name} ${sub}".${didYouMean(suggest(sub, spec.subcommands ?? []), (x) => `upkeep ${spec.name} ${x}`)} Usage: ${spec.usage}`);
}

/** `upkeep <command> --help`. */
export function commandHelp(spec: CommandSpec): string {
  const lines = [`Usage: ${spec.usage}`, '', `  ${spec.summary[0]!.toUpperCase()}${spec.summary.slice(1)}.`];
  for (const d of spec.details ?? []) lines.push(`  ${d}`);
  const opt = (o: OptionSpec) => `--${o.name}${o.arg ? ` ${o.arg}` : ''}`;
  const all = [...spec.options, ...GLOBAL_OPTIONS];
  const width = Math.max(...all.map((o) => opt(o).length)) + 2;
  if (spec.options.length > 0) {
    lines.push('', 'Options:');
    for (const o of spec.options) lines.push(`  ${opt(o).padEnd(width)}${o.help}${o.multiple ? ' (repeatable)' : ''}`);
  }
  lines.push('', 'Global options:');
  for (const o of GLOBAL_OPTIONS) lines.push(`  ${opt(o).padEnd(width)}${o.help}`);
  return `${lines.join('\n')}\n`;
}

export type ParsedValues = Record<string, string | boolean | string[] | undefined>;

/**
 * Parses a command's own arguments (globals already removed) against its spec. An unknown option
 * or a missing value is one ERR_USAGE line, with the closest option name when there is one.
 */
export function parseCommandArgs(spec: CommandSpec, args: string[]): { values: ParsedValues; positionals: string[] } {
  const names = spec.options.map((o) => o.name);
  for (const a of args) {
    if (a === '--') break;
    if (!a.startsWith('-') || a === '-') continue;
    const name = a.replace(/^--?/, '').split('=')[0]!;
    if (!names.includes(name)) {
      const known = names.length ? ` Options of "${spec.name}": ${names.map((n) => `--${n}`).join(', ')}.` : ` "${spec.name}" takes no options.`;
      throw new UsageError('ERR_USAGE', `Unknown option "${a.split('=')[0]}" for "${spec.name}".${didYouMean(suggest(name, names), (x) => `--${x}`)}${known}`);
    }
  }
  const options: NonNullable<ParseArgsConfig['options']> = {};
  for (const o of spec.options) options[o.name] = { type: o.type, ...(o.multiple ? { multiple: true } : {}) };
  try {
    const r = parseArgs({ args, options, allowPositionals: true, strict: true });
    return { values: r.values as ParsedValues, positionals: r.positionals };
  } catch (err) {
    // parseArgs's own messages run over several clauses; keep the first sentence.
    const first = (err as Error).message.split(/\. |\n/)[0]!.replace(/\.$/, '');
    throw new UsageError('ERR_USAGE', `${spec.name}: ${first}. Run "upkeep ${spec.name} --help".`);
  }
}

/** The top-level help, generated from the table. */
export function mainUsage(): string {
  const width = 34;
  const row = (c: CommandSpec) => `  ${c.usage.replace(/^upkeep /, '').padEnd(width)}${c.usage.length - 7 >= width ? `\n  ${''.padEnd(width)}` : ''}${c.summary}`;
  const group = (names: string[]) => names.map((n) => row(commandSpec(n)!)).join('\n');
  return `Usage: upkeep [--config FILE] [--json] <command> [options]

Targets:
${group(['status', 'check', 'download', 'apply', 'rollback', 'points', 'history', 'config'])}

Daemon:
${group(['daemon', 'token'])}

Publishing:
${group(['release'])}

Global options:
  --config FILE   configuration file (default: $UPKEEP_CONFIG, else ./upkeep.yaml)
  --json          print one JSON document
  --help          this text; "upkeep <command> --help" for one command

Exit codes: 0 ok or up to date, 1 failed (rolled back), 2 usage/config, 3 refused (verification), 4 busy,
5 corrupt state file.
`;
}
