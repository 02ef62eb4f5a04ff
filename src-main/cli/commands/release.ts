/**
 * `upkeep release keygen | publish | rollout | manifest`: the publisher's side of a native Upkeep feed
 * (manifest: an HMAC-signed release manifest, release-manifest.ts).
 * Argument parsing and output only; the work is done by src-main/engine/publish.
 */
import { promises as fsp } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from '../../../src-shared/errors';
import type { CliIO } from '../io';
import { commandSpec, suggest, unknownSubcommand } from '../spec';
import { keygen } from '../../engine/publish/keygen';
import { publish, type PublishOptions } from '../../engine/publish/publish';
import { setRollout } from '../../engine/publish/rollout';
import { RELEASE_MANIFEST_USAGE, runReleaseManifest } from './release-manifest';

const KEYGEN_USAGE = `  keygen --out DIR
      Create an Ed25519 signing key: DIR/upkeep.key (private, mode 0600) and DIR/upkeep.pub
      (the "ed25519:..." line clients put in their trust config). Never overwrites a key.
`;

const PUBLISH_USAGE = `  publish BUILD_DIR --feed FEED_DIR --product P --version V --key KEY [--key KEY2 ...]
      [--channel C] [--notes FILE.md] [--critical] [--min-upgrade-from RANGE] [--rollout PCT]
      [--expires-in DAYS] [--platform P] [--arch A] [--tag T] [--commit SHA]
      [--migrations-required] [--breaking TEXT ...] [--force]
      Publish every file of BUILD_DIR as version V of the channel (default "stable"): blobs,
      a manifest signed with every --key, and a re-signed channel index (sequence + 1, expiry
      renewed, default 30 days). A published version is immutable: --force replaces it.
      --platform: linux | darwin | win32 | any; --arch: x64 | arm64 | any (default any).
      With --platform/--arch, a version already published gets this platform's files added
      (re-signed, sequence + 1); --force then replaces only this platform's files.
`;

const ROLLOUT_USAGE = `  rollout --feed FEED_DIR --version V --percent N --key KEY [--key KEY2 ...] [--channel C]
      [--expires-in DAYS]
      Set the share of machines (0-100) that may take version V; 0 halts the rollout.
`;

/** `upkeep release --help`: every publishing command. */
export const RELEASE_USAGE = `Usage: upkeep release <command> [options]

Commands:
${KEYGEN_USAGE}
${PUBLISH_USAGE}
${ROLLOUT_USAGE}
${RELEASE_MANIFEST_USAGE}
  help
      Show this text.
`;

/**
 * `upkeep release <command> --help`: that command's usage alone, as "Usage: upkeep release <command> ..."
 * followed by its description (the same text as its block in RELEASE_USAGE).
 */
export function releaseCommandUsage(command: 'keygen' | 'publish' | 'rollout' | 'manifest'): string {
  const block = { keygen: KEYGEN_USAGE, publish: PUBLISH_USAGE, rollout: ROLLOUT_USAGE, manifest: RELEASE_MANIFEST_USAGE }[command];
  return `Usage: upkeep release ${block.trimStart()}
Every publishing command: upkeep release --help
`;
}

type Options = NonNullable<ParseArgsConfig['options']>;

const COMMON: Options = {
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
};

const KEYGEN_OPTIONS: Options = { ...COMMON, out: { type: 'string' } };

const PUBLISH_OPTIONS: Options = {
  ...COMMON,
  feed: { type: 'string' },
  product: { type: 'string' },
  version: { type: 'string' },
  channel: { type: 'string' },
  key: { type: 'string', multiple: true },
  notes: { type: 'string' },
  critical: { type: 'boolean' },
  'min-upgrade-from': { type: 'string' },
  rollout: { type: 'string' },
  'expires-in': { type: 'string' },
  platform: { type: 'string' },
  arch: { type: 'string' },
  tag: { type: 'string' },
  commit: { type: 'string' },
  'migrations-required': { type: 'boolean' },
  breaking: { type: 'string', multiple: true },
  force: { type: 'boolean' },
};

const ROLLOUT_OPTIONS: Options = {
  ...COMMON,
  feed: { type: 'string' },
  channel: { type: 'string' },
  version: { type: 'string' },
  percent: { type: 'string' },
  key: { type: 'string', multiple: true },
  'expires-in': { type: 'string' },
};

type Values = Record<string, string | boolean | Array<string | boolean> | undefined>;

function parse(command: string, args: string[], options: Options): { values: Values; positionals: string[] } {
  const names = Object.keys(options);
  for (const a of args) {
    if (a === '--') break;
    if (a === '-h' || !a.startsWith('--')) continue;
    const name = a.slice(2).split('=')[0]!;
    if (!names.includes(name)) {
      const near = suggest(name, names);
      throw new UsageError('ERR_USAGE', `release ${command}: unknown option "--${name}".${near ? ` Did you mean "--${near}"?` : ''} Run "upkeep release --help".`);
    }
  }
  try {
    const { values, positionals } = parseArgs({ args, options, strict: true, allowPositionals: true });
    return { values: values as Values, positionals };
  } catch (err) {
    throw new UsageError('ERR_USAGE', `release ${command}: ${(err as Error).message.split(/\. |\n/)[0]!.replace(/\.$/, '')}. Run "upkeep release --help".`);
  }
}

function str(values: Values, name: string): string | undefined {
  const v = values[name];
  return typeof v === 'string' ? v : undefined;
}

function required(command: string, values: Values, name: string): string {
  const v = str(values, name);
  if (v === undefined || v === '') throw new UsageError('ERR_USAGE', `release ${command}: --${name} is required`);
  return v;
}

function list(values: Values, name: string): string[] {
  const v = values[name];
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

/** A decimal number argument (`25`, `12.5`); anything else is ERR_USAGE. */
function num(command: string, values: Values, name: string): number | undefined {
  const v = str(values, name);
  if (v === undefined) return undefined;
  if (!/^\d+(\.\d+)?$/.test(v)) throw new UsageError('ERR_USAGE', `release ${command}: --${name} must be a number, got "${v}"`);
  return Number(v);
}

function noPositionals(command: string, positionals: string[]): void {
  if (positionals.length > 0) throw new UsageError('ERR_USAGE', `release ${command}: unexpected argument "${positionals[0]}"`);
}

function emit(io: CliIO, doc: Record<string, unknown>, human: string[]): void {
  if (io.json) io.out(JSON.stringify(doc, null, 2));
  else io.out(human.join('\n'));
}

async function runKeygen(args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parse('keygen', args, KEYGEN_OPTIONS);
  if (values.help) return usage(io, 'keygen');
  noPositionals('keygen', positionals);
  const r = await keygen(required('keygen', values, 'out'));
  emit(io, { keyid: r.keyid, key_path: r.keyPath, pub_path: r.pubPath, public_key: r.publicLine }, [
    `Created signing key ${r.keyid}`,
    `  private key: ${r.keyPath} (mode 0600: keep it secret, back it up)`,
    `  public key:  ${r.pubPath}`,
    `  trust line for clients: ${r.publicLine}`,
  ]);
  return 0;
}

async function runPublish(args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parse('publish', args, PUBLISH_OPTIONS);
  if (values.help) return usage(io, 'publish');
  if (positionals.length !== 1) {
    throw new UsageError('ERR_USAGE', positionals.length === 0 ? 'release publish: BUILD_DIR is required' : `release publish: unexpected argument "${positionals[1]}"`);
  }
  const keyPaths = list(values, 'key');
  if (keyPaths.length === 0) throw new UsageError('ERR_USAGE', 'release publish: at least one --key is required');
  const notesFile = str(values, 'notes');
  let notes: string | undefined;
  if (notesFile !== undefined) {
    try {
      notes = await fsp.readFile(notesFile, 'utf8');
    } catch (err) {
      throw new UsageError('ERR_USAGE', `release publish: cannot read --notes ${notesFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
  const opts: PublishOptions = {
    buildDir: positionals[0]!,
    feedDir: required('publish', values, 'feed'),
    product: required('publish', values, 'product'),
    version: required('publish', values, 'version'),
    channel: str(values, 'channel') ?? 'stable',
    keyPaths,
    critical: values.critical === true,
    migrationsRequired: values['migrations-required'] === true,
    breakingChanges: list(values, 'breaking'),
    force: values.force === true,
  };
  if (notes !== undefined) opts.notes = notes;
  const minUpgradeFrom = str(values, 'min-upgrade-from');
  if (minUpgradeFrom !== undefined) opts.minUpgradeFrom = minUpgradeFrom;
  const rollout = num('publish', values, 'rollout');
  if (rollout !== undefined) opts.rolloutPercent = rollout;
  const expires = num('publish', values, 'expires-in');
  if (expires !== undefined) opts.expiresInDays = expires;
  for (const [flag, key] of [['platform', 'platform'], ['arch', 'arch'], ['tag', 'tagName'], ['commit', 'buildCommit']] as const) {
    const v = str(values, flag);
    if (v !== undefined) opts[key] = v;
  }

  const r = await publish(opts);
  for (const w of r.warnings) io.err(`warning: ${w}`);
  emit(
    io,
    {
      product: opts.product,
      version: opts.version,
      channel: opts.channel,
      sequence: r.sequence,
      manifest: r.manifestPath,
      manifest_sha256: r.manifestSha256,
      files: r.files,
      bytes: r.bytes,
      keyids: r.keyids,
      ...(r.platformAdded ? { platform_added: r.platformAdded } : {}),
    },
    [
      r.platformAdded
        ? `${r.platformAdded.replaced > 0 ? 'Replaced' : 'Added'} the ${r.platformAdded.platform}/${r.platformAdded.arch} files of ${opts.product} ${opts.version} in channel "${opts.channel}" (index sequence ${r.sequence}; ${r.platformAdded.kept} file(s) of other platforms kept)`
        : `Published ${opts.product} ${opts.version} to channel "${opts.channel}" (index sequence ${r.sequence})`,
      `  manifest: ${r.manifestPath}`,
      `  sha256:   ${r.manifestSha256}`,
      `  files:    ${r.files} (${r.bytes} bytes, ${r.blobsWritten} new blob(s))`,
      ...(r.platformAdded ? [] : [`  rollout:  ${opts.rolloutPercent ?? 100}%`]),
      `  signed by: ${r.keyids.join(', ')}`,
    ],
  );
  return 0;
}

async function runRollout(args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parse('rollout', args, ROLLOUT_OPTIONS);
  if (values.help) return usage(io, 'rollout');
  noPositionals('rollout', positionals);
  const keyPaths = list(values, 'key');
  if (keyPaths.length === 0) throw new UsageError('ERR_USAGE', 'release rollout: at least one --key is required');
  const percent = num('rollout', values, 'percent');
  if (percent === undefined) throw new UsageError('ERR_USAGE', 'release rollout: --percent is required');
  const channel = str(values, 'channel') ?? 'stable';
  const version = required('rollout', values, 'version');
  const expiresInDays = num('rollout', values, 'expires-in');
  const r = await setRollout({
    feedDir: required('rollout', values, 'feed'),
    channel,
    version,
    percent,
    keyPaths,
    ...(expiresInDays !== undefined ? { expiresInDays } : {}),
  });
  emit(io, { channel, version, percent, previous_percent: r.previousPercent, sequence: r.sequence }, [
    `Rollout of ${version} on channel "${channel}": ${r.previousPercent}% -> ${percent}% (index sequence ${r.sequence})`,
  ]);
  return 0;
}

/** Prints the usage of every release command, or of `command` alone. */
function usage(io: CliIO, command?: 'keygen' | 'publish' | 'rollout'): number {
  const text = command ? releaseCommandUsage(command) : RELEASE_USAGE;
  if (io.json) io.out(JSON.stringify({ usage: text }));
  else io.out(text);
  return 0;
}

/**
 * Runs `upkeep release ...` with the arguments after `release`. Returns 0 on success; throws an
 * UpkeepError (ERR_USAGE for bad arguments) on failure, for main() to map to an exit code.
 */
export async function runRelease(argv: string[], io: CliIO): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case undefined:
      // Like `upkeep token` and `upkeep config`: a command group alone is a usage error.
      throw unknownSubcommand(commandSpec('release')!, undefined);
    case 'help':
    case '--help':
    case '-h':
      return usage(io);
    case 'keygen':
      return runKeygen(rest, io);
    case 'publish':
      return runPublish(rest, io);
    case 'rollout':
      return runRollout(rest, io);
    case 'manifest':
      return runReleaseManifest(rest, io);
    default:
      throw unknownSubcommand(commandSpec('release')!, command);
  }
}
