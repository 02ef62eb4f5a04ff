/**
 * Small pieces shared by the feeds whose versions are SemVer (github, electron-builder, tuf,
 * hmac-manifest): version policy, skip lists, the trusted keys of a target, downloaded-file checks.
 */
import { promises as fsp } from 'node:fs';
import { UsageError, VerificationError } from '../../../src-shared/errors';
import type { TrustConfig } from '../config/feed-schema';
import { verifyDetachedSignature } from '../trust/signatures';
import { requireThreshold, type SignatureResult } from '../trust/threshold';
import { loadTrustedKeys, type TrustedKey } from '../trust/trusted-keys';
import { checkUpgradePolicy, isBreaking } from '../trust/select';
import { compareVersions, isValidVersion } from '../trust/versions';
import type { Assessment } from './feed';
import type { ArtifactVerifier, Release } from './release';

/** True when `version` is in the user's skip list (same SemVer precedence counts). */
/**
 * `url`, a download URL a feed document at `documentUrl` names (already resolved against it),
 * when it is http(s), or `file:` under a `file:` feed. Throws VerificationError ERR_INSECURE_URL
 * otherwise: a document fetched over the network never points the engine at local files
 * (`file:///etc/...`) or at other schemes, whatever the downloader would allow for a local feed.
 */
export function checkDerivedUrl(documentUrl: string, url: string, what: string): string {
  let scheme: string;
  try {
    scheme = new URL(url).protocol;
  } catch {
    throw new VerificationError('ERR_METADATA_INVALID', `${what}: ${JSON.stringify(url.slice(0, 200))} is not a URL`);
  }
  const local = scheme === 'file:' && new URL(documentUrl).protocol === 'file:';
  if (scheme !== 'https:' && scheme !== 'http:' && !local) {
    throw new VerificationError('ERR_INSECURE_URL', `${what} uses ${scheme} (a feed served over the network may only name http(s) downloads): ${url.slice(0, 200)}`, { url: url.slice(0, 200) });
  }
  return url;
}

export function isSkippedVersion(version: string, skip: readonly string[]): boolean {
  return skip.some((s) => s === version || (isValidVersion(s) && isValidVersion(version) && compareVersions(s, version) === 0));
}

/** True when `version` is newer than `installed` (any version is, for a fresh install). */
export function isNewer(version: string, installed: string | null): boolean {
  return installed === null || compareVersions(version, installed) > 0;
}

/** The SemVer version policy of a release (see checkUpgradePolicy) and whether the move is breaking. */
export function assessSemver(installed: string | null, release: Release, o: { allowDowngrade: boolean; explicit: boolean }): Assessment {
  checkUpgradePolicy({
    current: installed,
    target: { version: release.version, ...(release.min_upgrade_from !== null ? { min_upgrade_from: release.min_upgrade_from } : {}) },
    allowDowngrade: o.allowDowngrade,
    explicitRollback: false,
  });
  return { breaking: isBreaking(installed, release) };
}

/** The target's trusted keys, loaded once per feed instance. ERR_KEY_INVALID for a bad line. */
export class KeyRing {
  private keys: Promise<TrustedKey[]> | null = null;
  constructor(private readonly trust: TrustConfig | undefined) {}

  get configured(): boolean {
    return (this.trust?.keys.length ?? 0) > 0;
  }

  get threshold(): number {
    return this.trust?.threshold ?? 1;
  }

  load(): Promise<TrustedKey[]> {
    this.keys ??= loadTrustedKeys(this.trust?.keys ?? []);
    return this.keys;
  }

  /**
   * Verifies detached signatures over `message` and applies the threshold (distinct trusted keys
   * of any kind). ERR_SIGNATURE_MISSING when `signatures` is empty, ERR_SIGNATURE_INVALID,
   * ERR_SIGNATURE_THRESHOLD.
   */
  async require(message: Uint8Array, signatures: readonly Uint8Array[], what: string, now: Date): Promise<string[]> {
    return requireThreshold(await this.check(message, signatures, now), this.threshold, what);
  }

  /** One result per detached signature over `message` (no threshold applied yet). */
  async check(message: Uint8Array, signatures: readonly Uint8Array[], now: Date): Promise<SignatureResult[]> {
    const keys = await this.load();
    const results: SignatureResult[] = [];
    for (const s of signatures) results.push(await verifyDetachedSignature(message, s, keys, { now }));
    return results;
  }
}

/** Largest artifact a whole-file signature check reads into memory (bytes). */
export const MAX_SIGNED_ARTIFACT_BYTES = 2 * 1024 * 1024 * 1024;

/**
 * An ArtifactVerifier checking detached signatures made over a downloaded file itself (a
 * `.minisig`/`.asc`/`.p7s` next to the asset). The file is read whole: the verifiers take bytes.
 */
export function signatureOverFile(keys: KeyRing, signatures: readonly Uint8Array[], what: string, now: () => Date): ArtifactVerifier {
  return async (file) => {
    const st = await fsp.stat(file);
    if (st.size > MAX_SIGNED_ARTIFACT_BYTES) {
      throw new VerificationError('ERR_SIZE_MISMATCH', `${what} is ${st.size} bytes; signatures over files larger than ${MAX_SIGNED_ARTIFACT_BYTES} bytes are not checked`);
    }
    await keys.require(await fsp.readFile(file), signatures, what, now());
  };
}

/** Throws ERR_CONFIG_INVALID when the target's feed block is not of `type`. */
export function expectFeedType(feed: { type?: string }, type: string, target: string): void {
  if (feed.type !== type) throw new UsageError('ERR_CONFIG_INVALID', `Target ${target}: expected a ${type} feed, got ${feed.type ?? 'native'}`);
}
