/**
 * `upkeep token create --name NAME --scope SCOPE [--scope ...]`: a new random API token, printed
 * once, with the config line that stores only its SHA-256.
 */
import { randomBytes } from 'node:crypto';
import { sha256Hex } from '../../engine/trust/digest';
import { UsageError } from '../../../src-shared/errors';
import type { CliIO } from '../io';
import { commandSpec, parseCommandArgs, unknownSubcommand } from '../spec';

const SCOPES = ['admin', 'update:apply', 'read'];

/** A new token (`upk_` + 32 random bytes, base64url) and its SHA-256 hex. */
export function createToken(): { token: string; sha256: string } {
  const token = `upk_${randomBytes(32).toString('base64url')}`;
  return { token, sha256: sha256Hex(token) };
}

export async function runTokenCommand(argv: string[], io: CliIO): Promise<number> {
  const spec = commandSpec('token')!;
  if (argv[0] !== 'create') throw unknownSubcommand(spec, argv[0]);
  const parsed = parseCommandArgs(spec, argv);
  const values = parsed.values as { name?: string; scope?: string[] };
  const positionals = parsed.positionals;
  if (positionals[0] !== 'create' || positionals.length !== 1) throw new UsageError('ERR_USAGE', 'Usage: upkeep token create --name NAME --scope admin|update:apply|read');
  if (!values.name || !/^[A-Za-z0-9_.-]{1,64}$/.test(values.name)) throw new UsageError('ERR_USAGE', '--name is required (letters, digits, . _ -)');
  const scopes = values.scope ?? [];
  if (scopes.length === 0) throw new UsageError('ERR_USAGE', '--scope is required (admin, update:apply or read)');
  for (const s of scopes) if (!SCOPES.includes(s)) throw new UsageError('ERR_USAGE', `Unknown scope "${s}" (admin, update:apply, read)`);
  const { token, sha256 } = createToken();
  const yamlLine = `    - { name: ${values.name}, sha256: ${sha256}, scopes: [${scopes.join(', ')}] }`;
  if (io.json) {
    io.out(JSON.stringify({ name: values.name, scopes, token, sha256, config: yamlLine.trim() }));
  } else {
    io.out(`Token (shown once, store it now):\n  ${token}\n\nAdd to your config under api.tokens:\n${yamlLine}`);
  }
  return 0;
}
