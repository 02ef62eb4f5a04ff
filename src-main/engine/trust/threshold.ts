/**
 * One rule for every signature kind: a release is trusted when valid signatures come from at least
 * `threshold` DISTINCT trusted keys (by `TrustedKey.id`), whatever their kinds. Each verifier
 * (minisign, OpenPGP, CMS, Ed25519) returns a `SignatureResult`; `requireThreshold` decides.
 */
import { VerificationError } from '../../../src-shared/errors';

/** `unknown`: a signature document whose format was not recognised. */
export type SignatureKind = 'minisign' | 'openpgp' | 'cms' | 'ed25519' | 'unknown';

/** What one signature document (a `.minisig`, `.asc`/`.sig`, `.p7s`, an `edSignature`) proved. */
export interface SignatureResult {
  kind: SignatureKind;
  /** Distinct `TrustedKey.id`s whose signature over the message verified. */
  signers: string[];
  /** Labels of those keys, same order (for messages and logs). */
  signerLabels: string[];
  /** One line per signature that did not count (malformed, unknown key, bad signature, expired). */
  problems: string[];
  /** minisign only: the verified trusted comment. */
  trustedComment?: string;
}

/** A result with no valid signer, carrying one problem. */
export function failedResult(kind: SignatureKind, problem: string): SignatureResult {
  return { kind, signers: [], signerLabels: [], problems: [problem] };
}

/** The distinct trusted key ids that signed, over all results (first-seen order). */
export function distinctSigners(results: readonly SignatureResult[]): string[] {
  return [...new Set(results.flatMap((r) => r.signers))];
}

/** True when at least `threshold` (minimum 1) distinct trusted keys signed. */
export function meetsThreshold(results: readonly SignatureResult[], threshold: number): boolean {
  return distinctSigners(results).length >= Math.max(1, threshold);
}

/**
 * Checks the threshold and returns the distinct signer ids. `what` names the signed thing in
 * messages ("myapp-1.2.0.tar.gz"). Throws VerificationError:
 * - ERR_SIGNATURE_MISSING when `results` is empty (trust is configured but nothing was signed),
 * - ERR_SIGNATURE_INVALID when no trusted key signed validly (details.problems lists why),
 * - ERR_SIGNATURE_THRESHOLD when fewer than `threshold` distinct trusted keys signed.
 */
export function requireThreshold(results: readonly SignatureResult[], threshold: number, what: string): string[] {
  const need = Math.max(1, threshold);
  if (results.length === 0) {
    throw new VerificationError('ERR_SIGNATURE_MISSING', `${what} has no signature, but trusted keys are configured`, { threshold: need });
  }
  const signers = distinctSigners(results);
  const problems = results.flatMap((r) => r.problems);
  if (signers.length === 0) {
    const why = problems.length > 0 ? `: ${problems.slice(0, 3).join('; ')}` : '';
    throw new VerificationError('ERR_SIGNATURE_INVALID', `${what} has no valid signature from a trusted key${why}`, { threshold: need, problems });
  }
  if (signers.length < need) {
    throw new VerificationError(
      'ERR_SIGNATURE_THRESHOLD',
      `${what} has valid signatures from ${signers.length} distinct trusted key(s); ${need} required`,
      { valid: signers.length, threshold: need, signers, problems },
    );
  }
  return signers;
}
