/**
 * Turns verified feed documents into the views UIs and APIs show.
 */
import { isSymlinkEntry, type ReleaseManifest, type ManifestFile } from '../../src-shared/feed-schema';
import type { ReleaseView, ReleaseFileView } from '../../src-shared/api';
import { isBreaking } from './trust/select';

/** The UI view of a verified manifest, as seen from `current` (for the breaking flag). */
export function releaseView(m: ReleaseManifest, manifestSha256: string, current: string | null, files: ManifestFile[] = m.files): ReleaseView {
  const fileViews: ReleaseFileView[] = files.map((f) => isSymlinkEntry(f)
    ? { path: f.path, type: f.type, sha256: '', size: 0, platform: f.platform, arch: f.arch, url: '', target: f.target }
    : {
      path: f.path,
      type: f.type,
      sha256: f.sha256,
      size: f.size,
      ...(f.mode !== undefined ? { mode: f.mode } : {}),
      platform: f.platform,
      arch: f.arch,
      url: f.url,
    });
  return {
    version: m.version,
    tag_name: m.tag_name ?? `v${m.version}`,
    channel: m.channel,
    released_at: m.released_at,
    release_notes: m.release_notes,
    is_critical: m.is_critical,
    is_breaking: isBreaking(current, m),
    breaking_changes: m.breaking_changes,
    migrations_required: m.migrations_required,
    min_upgrade_from: m.min_upgrade_from ?? null,
    build_commit: m.build_commit ?? null,
    manifest_sha256: manifestSha256,
    files: fileViews,
    total_size: fileViews.reduce((n, f) => n + f.size, 0),
  };
}
