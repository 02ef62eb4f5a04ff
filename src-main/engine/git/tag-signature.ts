/**
 * Verifying signed git tags for `git` targets whose trust asks for it:
 * - SSH signatures (`-----BEGIN SSH SIGNATURE-----`, git's `gpg.format=ssh`) through
 *   `git verify-tag` with the configured allowed-signers file (OpenSSH `ssh-keygen -Y verify`);
 * - OpenPGP signatures through the `openpgp` package: the tag object's bytes before the
 *   signature block are the signed payload (how git signs tags), checked against the configured
 *   armored public keys, so no GnuPG keyring is needed.
 * A tag passes when either configured kind verifies it.
 */
import path from 'node:path';
import { UpkeepError } from '../../../src-shared/errors';
import type { GitTargetConfig } from '../config/schema';
import { verifyOpenPgp } from '../trust/openpgp-signature';
import { loadTrustedKeys, type TrustedKey } from '../trust/trusted-keys';
import type { GitCli } from './git-cli';
import { systemClock } from '../clock';

const PGP_BEGIN = '-----BEGIN PGP SIGNATURE-----';

/** The signed payload and the signature block of a tag object's text (null when unsigned). */
export function splitTagObject(text: string): { payload: string; signature: string; kind: 'openpgp' | 'ssh' | 'x509' } | null {
  for (const [marker, kind] of [[PGP_BEGIN, 'openpgp'], ['-----BEGIN SSH SIGNATURE-----', 'ssh'], ['-----BEGIN SIGNED MESSAGE-----', 'x509']] as const) {
    const i = text.lastIndexOf(`\n${marker}`);
    if (i >= 0) return { payload: text.slice(0, i + 1), signature: text.slice(i + 1), kind };
  }
  return null;
}

/**
 * A verifier for the target's `trust.signed_tags`, or null when trust asks for none. The verifier
 * throws UpkeepError ERR_SIGNATURE_MISSING for an unsigned tag and ERR_SIGNATURE_INVALID for a
 * signature no trusted key made. Key files are read relative to `baseDir`. OpenPGP signatures are
 * judged at `now()` (the engine's clock: an expired signature is refused).
 */
export function tagVerifier(t: GitTargetConfig, git: GitCli, baseDir?: string, now: () => Date = () => systemClock.now()): ((tag: string) => Promise<void>) | null {
  const trust = t.trust?.signed_tags;
  if (!trust) return null;
  let keys: Promise<TrustedKey[]> | null = null;
  return async (tag: string) => {
    const text = (await git.run(['cat-file', 'tag', `refs/tags/${tag}`])).stdout;
    const split = splitTagObject(text);
    if (!split) throw new UpkeepError('ERR_SIGNATURE_MISSING', `Tag ${tag} is not signed, and trust.signed_tags asks for a signature`, { tag });
    if (split.kind === 'openpgp' && trust.openpgp_keys) {
      keys ??= loadTrustedKeys(trust.openpgp_keys.map((f) => `openpgp:${path.resolve(baseDir ?? t.install_dir, f)}`));
      const result = await verifyOpenPgp(Buffer.from(split.payload, 'utf8'), split.signature, await keys, { now: now() });
      if (result.signers.length > 0) return;
      throw new UpkeepError('ERR_SIGNATURE_INVALID', `Tag ${tag} has no valid signature from a trusted OpenPGP key${result.problems[0] ? `: ${result.problems[0]}` : ''}`, { tag });
    }
    if (split.kind === 'ssh' && trust.ssh_allowed_signers) {
      await git.verifyTag(tag, { sshAllowedSigners: path.resolve(baseDir ?? t.install_dir, trust.ssh_allowed_signers) });
      return;
    }
    throw new UpkeepError('ERR_SIGNATURE_INVALID', `Tag ${tag} carries a ${split.kind} signature, and trust.signed_tags has no ${split.kind} keys`, { tag });
  };
}
