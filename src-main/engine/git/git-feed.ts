/**
 * The feed of a `git` target is its own remote: a check is a bounded `git fetch`, releases are
 * SemVer tags matching `track.tags` (or the head of `track.branch`). Channel `stable` takes
 * release tags only; another channel also takes prereleases named after it (`1.3.0-beta.2` on
 * `beta`). A tag's annotation is its release notes; the critical marker in it makes it critical.
 * Signed tags are verified when the target's trust asks for it.
 */
// The functions used, not `import 'semver'` (all of the package's modules).
import gt from 'semver/functions/gt';
import lte from 'semver/functions/lte';
import major from 'semver/functions/major';
import prerelease from 'semver/functions/prerelease';
import rcompare from 'semver/functions/rcompare';
import valid from 'semver/functions/valid';
import { NotFoundError, PolicyError } from '../../../src-shared/errors';
import type { GitTargetConfig } from '../config/schema';
import type { Assessment, Candidate, Feed, FeedPolicy } from '../feed/feed';
import type { Release } from '../feed/release';
import { GitCli, type GitTag } from './git-cli';

/** Length of the abbreviated commit ids used as versions of branch-tracking targets. */
export const SHORT_COMMIT = 12;

/** What a git feed needs besides the target config. */
export interface GitFeedEnv {
  git: GitCli;
  /** Effective channel. */
  channel: string;
  /** Verifies a tag's signature (throws ERR_SIGNATURE_INVALID); null when trust asks for none. */
  verifyTag: ((tag: string) => Promise<void>) | null;
}

/** The SemVer version a tag names (leading `v` dropped), null when it is not SemVer. */
export function tagVersion(tag: string): string | null {
  const v = tag.replace(/^v/, '');
  return valid(v) === v ? v : null;
}

function channelAdmits(version: string, channel: string): boolean {
  const pre = prerelease(version);
  if (!pre || pre.length === 0) return true;
  return channel !== 'stable' && String(pre[0]) === channel;
}

/** The feed of one git target (built per operation). */
export class GitFeed implements Feed {
  readonly type = 'git';
  private fetched = false;
  constructor(private readonly t: GitTargetConfig, private readonly env: GitFeedEnv) {}

  private async refresh(): Promise<void> {
    if (this.fetched) return;
    await this.env.git.fetch(this.t.remote, this.t.fetch_timeout * 1000);
    this.fetched = true;
  }

  private async releaseTags(): Promise<Array<GitTag & { version: string }>> {
    if (!('tags' in this.t.track)) return [];
    const tags = await this.env.git.tags(this.t.track.tags);
    const out: Array<GitTag & { version: string }> = [];
    for (const tag of tags) {
      const version = tagVersion(tag.name);
      if (version && channelAdmits(version, this.env.channel)) out.push({ ...tag, version });
    }
    return out.sort((a, b) => rcompare(a.version, b.version));
  }

  async candidates(installed: string | null, policy: FeedPolicy): Promise<Candidate[]> {
    await this.refresh();
    if ('branch' in this.t.track) {
      const head = await this.env.git.commitOf(`refs/remotes/${this.t.remote}/${this.t.track.branch}`);
      const version = head.slice(0, SHORT_COMMIT);
      if (version === installed || policy.skip_versions.includes(version)) return [];
      return [{ version, is_critical: false }];
    }
    return (await this.releaseTags())
      .filter((t) => !policy.skip_versions.includes(t.version))
      .filter((t) => !installed || !valid(installed) || gt(t.version, installed))
      .map((t) => ({ version: t.version, is_critical: t.message.includes(this.t.critical_marker) }));
  }

  async release(version: string): Promise<Release> {
    await this.refresh();
    const product = this.t.product ?? this.t.id;
    const base = {
      product, channel: this.env.channel, released_at: null, informational: false, min_upgrade_from: null,
      migrations_required: Boolean(this.t.hooks.migrate), breaking_changes: [], rollout: null, items: [],
    };
    if ('branch' in this.t.track) {
      const ref = `refs/remotes/${this.t.remote}/${this.t.track.branch}`;
      const head = await this.env.git.commitOf(ref);
      if (head.slice(0, SHORT_COMMIT) !== version) throw new NotFoundError('ERR_MANIFEST_NOT_FOUND', `${this.t.remote}/${this.t.track.branch} is at ${head.slice(0, SHORT_COMMIT)}, not ${version}`, { version });
      const subject = (await this.env.git.run(['log', '-1', '--format=%s', head])).stdout.trim();
      return {
        ...base, version, tag_name: `${this.t.track.branch}@${version}`, notes: subject, is_critical: subject.includes(this.t.critical_marker),
        build_commit: head, verification: 'checksums',
        source: { feed_type: 'git', url: `${this.t.remote}/${this.t.track.branch}`, sha256: null, bytes: null },
      };
    }
    const tag = (await this.releaseTags()).find((t) => t.version === version)
      // An explicit version may name a prerelease outside the channel.
      ?? (await this.env.git.tags(this.t.track.tags)).map((t) => ({ ...t, version: tagVersion(t.name) ?? '' })).find((t) => t.version === version);
    if (!tag) throw new NotFoundError('ERR_MANIFEST_NOT_FOUND', `No tag for version ${version} matches ${this.t.track.tags}`, { version });
    let verification: Release['verification'] = 'checksums';
    if (this.env.verifyTag) {
      await this.env.verifyTag(tag.name);
      verification = 'signed';
    }
    return {
      ...base, version, tag_name: tag.name, notes: tag.message, is_critical: tag.message.includes(this.t.critical_marker),
      build_commit: tag.commit, verification,
      source: { feed_type: 'git', url: `${this.t.remote} ${tag.name}`, sha256: null, bytes: null },
    };
  }

  assess(installed: string | null, release: Release, o: { allowDowngrade: boolean; explicit: boolean }): Assessment {
    if ('branch' in this.t.track || !installed || !valid(installed)) return { breaking: false };
    if (lte(release.version, installed) && !o.allowDowngrade) {
      throw new PolicyError('ERR_DOWNGRADE', `${release.version} is not newer than the installed ${installed} (allow_downgrade is off)`, { version: release.version, installed });
    }
    return { breaking: major(release.version) > major(installed) };
  }
}
