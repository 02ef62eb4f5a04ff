/**
 * How every UI (dashboard, tray, command line) names a release's verification level, so a release
 * accepted with `trust: { none: true }` reads "unverified" and one accepted with
 * `trust: { checksums_only: true }` reads "checksums only" wherever it is offered.
 */
import type { ReleaseView, TargetView, VerificationLevel } from './api';

/** Short label of a level: "signed", "checksums only", "unverified". */
export function verificationLabel(level: VerificationLevel): string {
  switch (level) {
    case 'signed':
      return 'signed';
    case 'checksums':
      return 'checksums only';
    case 'none':
      return 'unverified';
  }
}

/** One sentence saying what the level vouches for (details panes, command line). */
export function verificationSentence(level: VerificationLevel): string {
  switch (level) {
    case 'signed':
      return 'Trusted signatures cover the release metadata and the file hashes.';
    case 'checksums':
      // Also git commits and compose image digests without a signature: the same weak guarantee.
      return 'Checksums only: the hashes come from the same unsigned source as the files, so they catch corruption but not a hostile source.';
    case 'none':
      return 'Unverified: no signature or checksum is checked for this release (trust.none).';
  }
}

/**
 * The text to put after a version where releases are listed: '' for a signed release (and when the
 * level is unknown), " (checksums only)" or " (unverified)" otherwise.
 */
export function verificationSuffix(level: VerificationLevel | null | undefined): string {
  return level === 'checksums' || level === 'none' ? ` (${verificationLabel(level)})` : '';
}

/**
 * The verification level of the release a target offers: its `available` release, when it is the
 * version the state names (or the state names none); null when no release is offered.
 */
export function offeredVerification(t: Pick<TargetView, 'state' | 'available'>): VerificationLevel | null {
  const release: ReleaseView | null = t.available;
  if (!release) return null;
  if (t.state.kind === 'available' && t.state.version !== release.version) return null;
  return release.verification;
}
