/**
 * The native feed's (FEED-FORMAT.md, version 1) value lists and file rules that code uses without
 * parsing a feed document. They live apart from the zod schemas in feed-schema.ts (which
 * re-exports them) so that modules needing only these rules, such as the release selection on
 * every command's path, do not build the feed schemas at start.
 */
import type { ManifestFile, SymlinkManifestFile } from './feed-schema';

/** The `type` of a regular manifest file. */
export const FILE_TYPES = ['file', 'executable', 'library', 'config', 'data'] as const;
/** Platform names of manifest files and index entries (`any`: every platform). */
export const PLATFORMS = ['linux', 'darwin', 'win32', 'any'] as const;
/** CPU architecture names of manifest files and index entries (`any`: every architecture). */
export const ARCHES = ['x64', 'arm64', 'any'] as const;

/**
 * Why a manifest file mode is refused (ERR_UNSAFE_MODE), or null when it is plain permission
 * bits: no setuid (0o4000), setgid (0o2000) or sticky (0o1000) bit and not world-writable
 * (0o002). FEED-FORMAT.md, "mode"; checked by the publisher and by the client.
 */
export function unsafeModeReason(mode: number): string | null {
  if ((mode & 0o4000) !== 0) return 'setuid bit';
  if ((mode & 0o2000) !== 0) return 'setgid bit';
  if ((mode & 0o1000) !== 0) return 'sticky bit';
  if ((mode & 0o002) !== 0) return 'world-writable';
  if (mode < 0 || mode > 0o777) return 'not permission bits';
  return null;
}

/** True for a symbolic link entry. */
export function isSymlinkEntry(f: ManifestFile): f is SymlinkManifestFile {
  return f.type === 'symlink';
}
