/**
 * `upkeep release manifest`: writes an HMAC-SHA256 signed release manifest in the shape of the
 * "Updates & Rollout" control plane (seed 003's `release:manifest` generator: the same flags and
 * fields), signed with the secret in $RELEASE_SIGNING_SECRET. Format: engine/trust/hmac-manifest.ts.
 */
import { parseArgs } from 'node:util';
import { UsageError } from '../../../src-shared/errors';
import type { CliIO } from '../io';
import { writeFileDurable } from '../../engine/fs/atomic';
import { HMAC_SHARED_SECRET_SIGN_WARNING, signHmacManifest } from '../../engine/trust/hmac-manifest';

export const RELEASE_MANIFEST_USAGE = `  manifest --version V --sha COMMIT --channel C --migrations-required true|false
      [--breaking-changes TEXT] [--released-at ISO-8601] --out FILE
      Write an HMAC-SHA256 signed release manifest (version, sha, channel, migrations_required,
      breaking_changes, released_at, signature) signed with $RELEASE_SIGNING_SECRET, for
      hmac-manifest feeds. breaking_changes is null when not given; released_at defaults to now.
`;

/** The environment variable holding the shared signing secret. */
export const RELEASE_SIGNING_SECRET_ENV = 'RELEASE_SIGNING_SECRET';

function bool(v: string): boolean {
  if (v === 'true') return true;
  if (v === 'false') return false;
  throw new UsageError('ERR_USAGE', `release manifest: --migrations-required must be true or false, got "${v}"`);
}

/**
 * Runs `upkeep release manifest ...`. Throws UsageError ERR_USAGE for a missing or invalid option,
 * ERR_KEY_INVALID when $RELEASE_SIGNING_SECRET is unset or empty; nothing is written then.
 */
export async function runReleaseManifest(args: string[], io: CliIO, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args,
      strict: true,
      allowPositionals: true,
      options: {
        version: { type: 'string' },
        sha: { type: 'string' },
        channel: { type: 'string' },
        'migrations-required': { type: 'string' },
        'breaking-changes': { type: 'string' },
        'released-at': { type: 'string' },
        out: { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    throw new UsageError('ERR_USAGE', `release manifest: ${(err as Error).message}`);
  }
  if (values.help) {
    io.out(`Usage: upkeep release ${RELEASE_MANIFEST_USAGE.trimStart()}\nEvery publishing command: upkeep release --help\n`);
    return 0;
  }
  if (positionals.length > 0) throw new UsageError('ERR_USAGE', `release manifest: unexpected argument "${positionals[0]}"`);
  const need = (name: string): string => {
    const v = values[name];
    if (typeof v !== 'string' || v === '') throw new UsageError('ERR_USAGE', `release manifest: --${name} is required`);
    return v;
  };
  const fields = {
    version: need('version'),
    sha: need('sha'),
    channel: need('channel'),
    migrations_required: bool(need('migrations-required')),
    breaking_changes: typeof values['breaking-changes'] === 'string' ? values['breaking-changes'] : null,
    released_at: typeof values['released-at'] === 'string' ? values['released-at'] : new Date().toISOString(),
  };
  const out = need('out');
  const secret = env[RELEASE_SIGNING_SECRET_ENV];
  if (secret === undefined || secret === '') {
    throw new UsageError('ERR_KEY_INVALID', `release manifest: set ${RELEASE_SIGNING_SECRET_ENV} to the shared signing secret`, { kind: 'hmac' });
  }
  const { manifest, bytes } = signHmacManifest(fields, secret);
  await writeFileDurable(out, bytes, undefined, { followLink: true });
  io.err(`warning: ${HMAC_SHARED_SECRET_SIGN_WARNING}`);
  if (io.json || values.json) io.out(JSON.stringify({ out, manifest }, null, 2));
  else io.out(`Wrote release manifest ${manifest.version} (${manifest.channel}, ${manifest.sha}) to ${out}\n  signature: ${manifest.signature}`);
  return 0;
}
