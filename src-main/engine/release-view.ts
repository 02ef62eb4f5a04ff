/**
 * Turns verified releases into the views UIs and APIs show.
 */
import type { ReleaseView, ReleaseFileView } from '../../src-shared/api';
import type { Release, ReleaseItem } from './feed/release';

function fileView(i: ReleaseItem): ReleaseFileView {
  switch (i.kind) {
    case 'file':
      return { path: i.path, type: i.type, sha256: i.digests.sha256 ?? '', size: i.size, ...(i.mode !== undefined ? { mode: i.mode } : {}), platform: i.platform, arch: i.arch, url: i.url };
    case 'symlink':
      return { path: i.path, type: 'symlink', sha256: '', size: 0, platform: i.platform, arch: i.arch, url: '', target: i.target };
    case 'archive':
      return { path: i.name, type: 'archive', sha256: i.digests.sha256 ?? '', size: i.size, platform: i.platform, arch: i.arch, url: i.url };
  }
}

/** The UI view of a verified release; `breaking` is the feed's assessment from the installed version. */
export function releaseView(r: Release, breaking: boolean): ReleaseView {
  const files = r.items.map(fileView);
  return {
    version: r.version,
    tag_name: r.tag_name,
    channel: r.channel,
    released_at: r.released_at ?? '',
    release_notes: r.notes,
    is_critical: r.is_critical,
    is_breaking: breaking,
    breaking_changes: r.breaking_changes,
    migrations_required: r.migrations_required,
    min_upgrade_from: r.min_upgrade_from,
    build_commit: r.build_commit,
    manifest_sha256: r.source.sha256 ?? '',
    verification: r.verification,
    files,
    file_count: files.length,
    total_size: files.reduce((n, f) => n + f.size, 0),
  };
}
