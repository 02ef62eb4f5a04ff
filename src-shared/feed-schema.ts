/**
 * Schemas of Upkeep's native feed (docs: FEED-FORMAT.md, version 1). Pure: parsing only.
 * Trust decisions (signatures, expiry, sequence, paths) live in src-main/engine/trust.
 */
import { z } from 'zod';
import { ARCHES, FILE_TYPES, PLATFORMS } from './feed-rules';

export const INDEX_PAYLOAD_TYPE = 'application/vnd.upkeep.index+json';
export const MANIFEST_PAYLOAD_TYPE = 'application/vnd.upkeep.manifest+json';
export const INDEX_SCHEMA = 'upkeep.index/1';
export const MANIFEST_SCHEMA = 'upkeep.manifest/1';

const hex64 = z.string().regex(/^[0-9a-f]{64}$/, 'expected 64 lowercase hex digits');
const isoDate = z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'expected an ISO 8601 date');

export const DsseSignatureSchema = z.object({
  keyid: z.string(),
  sig: z.string(),
});

export const DsseEnvelopeSchema = z.object({
  payloadType: z.string(),
  payload: z.string(),
  signatures: z.array(DsseSignatureSchema),
});
export type DsseEnvelope = z.infer<typeof DsseEnvelopeSchema>;

export const RolloutSchema = z.object({
  percent: z.number().min(0).max(100),
  started_at: isoDate.optional(),
});

export const IndexEntrySchema = z.object({
  version: z.string(),
  manifest: z.string().min(1),
  sha256: hex64,
  size: z.number().int().nonnegative(),
  is_critical: z.boolean().default(false),
  rollout: RolloutSchema.optional(),
});
export type IndexEntry = z.infer<typeof IndexEntrySchema>;

export const ChannelIndexSchema = z.object({
  schema: z.literal(INDEX_SCHEMA),
  product: z.string().min(1),
  channel: z.string().min(1),
  sequence: z.number().int().nonnegative(),
  expires: isoDate,
  releases: z.array(IndexEntrySchema),
});
export type ChannelIndex = z.infer<typeof ChannelIndexSchema>;

export { ARCHES, FILE_TYPES, PLATFORMS, isSymlinkEntry, unsafeModeReason } from './feed-rules';

/** A regular file of the managed tree, downloaded from `url` and checked against `sha256`/`size`. */
export const RegularFileSchema = z.object({
  path: z.string(),
  type: z.enum(FILE_TYPES).default('file'),
  sha256: hex64,
  size: z.number().int().nonnegative(),
  mode: z.number().int().min(0).max(0o7777).optional(),
  platform: z.enum(PLATFORMS).default('any'),
  arch: z.enum(ARCHES).default('any'),
  url: z.string().min(1),
});
export type RegularManifestFile = z.infer<typeof RegularFileSchema>;

/**
 * A symbolic link of the managed tree: `target` is relative and `/`-separated; resolved from the
 * link's directory it must stay inside the install dir (checked by the client and publisher).
 */
export const SymlinkFileSchema = z.object({
  path: z.string(),
  type: z.literal('symlink'),
  target: z.string().min(1).max(4096),
  platform: z.enum(PLATFORMS).default('any'),
  arch: z.enum(ARCHES).default('any'),
}).strict();
export type SymlinkManifestFile = z.infer<typeof SymlinkFileSchema>;

export const ManifestFileSchema = z.union([SymlinkFileSchema, RegularFileSchema]);
export type ManifestFile = z.infer<typeof ManifestFileSchema>;

export const ReleaseManifestSchema = z.object({
  schema: z.literal(MANIFEST_SCHEMA),
  product: z.string().min(1),
  version: z.string(),
  tag_name: z.string().optional(),
  channel: z.string().min(1),
  released_at: isoDate,
  expires: isoDate.optional(),
  release_notes: z.string().default(''),
  is_critical: z.boolean().default(false),
  min_upgrade_from: z.string().optional(),
  migrations_required: z.boolean().default(false),
  breaking_changes: z.array(z.string()).default([]),
  build_commit: z.string().optional(),
  files: z.array(ManifestFileSchema),
});
export type ReleaseManifest = z.infer<typeof ReleaseManifestSchema>;
