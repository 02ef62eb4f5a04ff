/**
 * Sparkle appcasts (RSS 2.0 with the Sparkle namespace
 * `http://www.andymatuschak.org/xml-namespaces/sparkle`, any prefix), as pure functions: parse
 * with fast-xml-parser, keep the valid items, pick the best one for an installation the way
 * Sparkle's appcast driver does. The `sparkle:edSignature` of an enclosure (Ed25519 over the whole
 * archive, key = the app's `SUPublicEDKey`) is checked by sparkle-feed.ts with trust/signatures.ts.
 */
import { VerificationError } from '../../../src-shared/errors';
import { compareSparkleVersions } from './sparkle-version';

export const SPARKLE_NS = 'http://www.andymatuschak.org/xml-namespaces/sparkle';
/** Longest `sparkle:version` accepted (characters); longer items are skipped. */
export const MAX_SPARKLE_VERSION_LENGTH = 128;
/** Sparkle's phased rollout uses seven groups; group g may install `g × interval` after pubDate. */
export const PHASED_ROLLOUT_GROUPS = 7;

export interface SparkleEnclosure {
  /** Absolute URL (relative references resolved against the appcast URL). */
  url: string;
  /** Bytes, or null when the appcast does not say. */
  length: number | null;
  /** Base64 Ed25519 signature of the archive, or null. */
  edSignature: string | null;
  /** `macos` (Sparkle's default) or `windows`; null when the enclosure does not say. */
  os: string | null;
}

export interface SparkleDelta extends SparkleEnclosure {
  deltaFrom: string;
}

export interface SparkleItem {
  title: string;
  /** The bundle version Sparkle orders by (`sparkle:version`). */
  version: string;
  /** The human-readable version (`sparkle:shortVersionString`), else `version`. */
  displayVersion: string;
  pubDate: Date | null;
  /** Channel name, or null for the default channel. */
  channel: string | null;
  /** Inline notes (`description`), '' when none. */
  description: string;
  releaseNotesLink: string | null;
  fullReleaseNotesLink: string | null;
  minimumSystemVersion: string | null;
  maximumSystemVersion: string | null;
  minimumAutoupdateVersion: string | null;
  /** Seconds between rollout groups, or null. */
  phasedRolloutInterval: number | null;
  /** Critical: always (`true`), never (`false`), or only for installations below this version. */
  critical: boolean | { belowVersion: string };
  /** Informational (show, never install): always, never, or for these versions / below this one. */
  informational: boolean | { versions: string[]; belowVersion: string | null };
  enclosure: SparkleEnclosure | null;
  deltas: SparkleDelta[];
}

export interface ParsedAppcast {
  items: SparkleItem[];
  /** Items left out and why (shown in logs; an appcast may carry items for other clients). */
  skipped: Array<{ title: string; reason: string }>;
}

function invalid(message: string): VerificationError {
  return new VerificationError('ERR_METADATA_INVALID', `Sparkle appcast: ${message}`);
}

type Node = Record<string, unknown>;

const asArray = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** Text content of an element parsed by fast-xml-parser (with attributes it is under '#text'). */
function textOf(v: unknown): string | null {
  if (v === undefined || v === null) return null;
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return String(v).trim();
  if (typeof v === 'object' && '#text' in (v as Node)) return String((v as Node)['#text']).trim();
  if (typeof v === 'object') return '';
  return null;
}

/**
 * Resolves `ref` against the appcast URL with the WHATWG URL parser. `file:` and any scheme other
 * than http(s) is refused with ERR_INSECURE_URL when `refuse` (enclosures), or dropped (links).
 */
function resolveLink(ref: string | null, base: string, what: string, refuse: boolean): string | null {
  if (ref === null || ref === '') return null;
  let u: URL;
  try {
    u = new URL(ref, base);
  } catch {
    if (refuse) throw invalid(`${what} ${JSON.stringify(ref)} is not a URL`);
    return null;
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') {
    if (refuse) {
      throw new VerificationError('ERR_INSECURE_URL', `Sparkle appcast: ${what} uses ${u.protocol} (only http(s) downloads are allowed): ${ref}`, { url: ref });
    }
    return null;
  }
  return u.href;
}

/**
 * Parses an appcast. `appcastUrl` resolves relative links. Items without a version, with an empty
 * `sparkle:channel`, or with a delta enclosure at the top level are skipped (as Sparkle does).
 * Throws VerificationError ERR_METADATA_INVALID when the bytes are not an RSS appcast, and
 * ERR_INSECURE_URL when any enclosure (full or delta) points at `file:` or another non-http(s)
 * scheme: such an appcast is refused as a whole. Links to release notes with such schemes are dropped.
 */
export function parseAppcast(bytes: Uint8Array | string, appcastUrl: string): ParsedAppcast {
  const xml = typeof bytes === 'string' ? bytes : Buffer.from(bytes).toString('utf8');
  let doc: Node;
  try {
    // Loaded here, not at start-up: only Sparkle feeds parse XML.
    const { XMLParser } = require('fast-xml-parser') as typeof import('fast-xml-parser');
    const parser = new XMLParser({
      ignoreAttributes: false,
      attributeNamePrefix: '@',
      parseTagValue: false,
      parseAttributeValue: false,
      processEntities: true,
      htmlEntities: false,
      trimValues: true,
    });
    doc = parser.parse(xml, true) as Node;
  } catch (err) {
    throw invalid(`not well-formed XML (${(err as Error).message.split('\n')[0]})`);
  }
  const rss = doc.rss as Node | undefined;
  if (!rss || typeof rss !== 'object') throw invalid('no <rss> root element');
  // The namespace prefix is whatever the document binds Sparkle's URI to (usually "sparkle").
  let prefix = 'sparkle';
  for (const [k, v] of Object.entries(rss)) {
    if (k.startsWith('@xmlns:') && v === SPARKLE_NS) prefix = k.slice('@xmlns:'.length);
  }
  const s = (name: string): string => `${prefix}:${name}`;
  const sa = (name: string): string => `@${prefix}:${name}`;
  const channel = asArray(rss.channel as Node | Node[])[0];
  if (!channel) throw invalid('no <channel>');

  const items: SparkleItem[] = [];
  const skipped: ParsedAppcast['skipped'] = [];
  for (const raw of asArray(channel.item as Node | Node[])) {
    if (typeof raw !== 'object' || raw === null) continue;
    const title = textOf(raw.title) ?? '';
    const encNode = asArray(raw.enclosure as Node | Node[])[0] as Node | undefined;
    const enclosure = encNode ? readEnclosure(encNode, appcastUrl, sa, 'enclosure') : null;
    const deltas: SparkleDelta[] = [];
    const deltasNode = raw[s('deltas')] as Node | undefined;
    if (deltasNode && typeof deltasNode === 'object') {
      for (const d of asArray(deltasNode.enclosure as Node | Node[])) {
        const e = readEnclosure(d, appcastUrl, sa, 'delta enclosure');
        const from = d[sa('deltaFrom')];
        if (typeof from === 'string' && from !== '') deltas.push({ ...e, deltaFrom: from });
      }
    }
    const version = textOf(raw[s('version')]) || (encNode ? textOf(encNode[sa('version')]) : null) || '';
    if (version === '') {
      skipped.push({ title, reason: 'no sparkle:version' });
      continue;
    }
    // A version names history entries, log lines and (versioned layout) a directory: a line break,
    // a control or invisible character, or an unbounded length there is never a real bundle version.
    if (version.length > MAX_SPARKLE_VERSION_LENGTH || /[\p{Cc}\p{Cf}\p{Cs}]/u.test(version)) {
      skipped.push({ title, reason: `sparkle:version ${JSON.stringify(version.slice(0, 40))} is longer than ${MAX_SPARKLE_VERSION_LENGTH} characters or holds control characters` });
      continue;
    }
    if (encNode && encNode[sa('deltaFrom')] !== undefined) {
      skipped.push({ title, reason: 'a delta enclosure at the top level' });
      continue;
    }
    let channelName: string | null = null;
    if (raw[s('channel')] !== undefined) {
      channelName = textOf(raw[s('channel')]) ?? '';
      if (!/^[A-Za-z0-9_.-]+$/.test(channelName)) {
        skipped.push({ title, reason: `invalid sparkle:channel ${JSON.stringify(channelName)}` });
        continue;
      }
    }
    const shortVersion = textOf(raw[s('shortVersionString')]) || (encNode ? textOf(encNode[sa('shortVersionString')]) : null) || version;
    const pub = textOf(raw.pubDate);
    const pubDate = pub ? new Date(pub) : null;
    const interval = textOf(raw[s('phasedRolloutInterval')]);
    items.push({
      title,
      version,
      displayVersion: shortVersion,
      pubDate: pubDate && !Number.isNaN(pubDate.getTime()) ? pubDate : null,
      channel: channelName,
      description: textOf(raw.description) ?? '',
      releaseNotesLink: resolveLink(textOf(raw[s('releaseNotesLink')]), appcastUrl, 'releaseNotesLink', false),
      fullReleaseNotesLink: resolveLink(textOf(raw[s('fullReleaseNotesLink')]), appcastUrl, 'fullReleaseNotesLink', false),
      minimumSystemVersion: textOf(raw[s('minimumSystemVersion')]) || null,
      maximumSystemVersion: textOf(raw[s('maximumSystemVersion')]) || null,
      minimumAutoupdateVersion: textOf(raw[s('minimumAutoupdateVersion')]) || null,
      phasedRolloutInterval: interval && /^\d+$/.test(interval) ? Number(interval) : null,
      critical: readCritical(raw, s, sa),
      informational: readInformational(raw, s, enclosure),
      enclosure,
      deltas,
    });
  }
  return { items, skipped };
}

function readEnclosure(node: Node, base: string, sa: (n: string) => string, what: string): SparkleEnclosure {
  const url = resolveLink(typeof node['@url'] === 'string' ? node['@url'] : null, base, what, true);
  if (url === null) throw invalid(`${what} without url`);
  const len = node['@length'];
  const length = typeof len === 'string' && /^\d+$/.test(len) ? Number(len) : null;
  const sig = node[sa('edSignature')];
  const os = node[sa('os')];
  return { url, length, edSignature: typeof sig === 'string' && sig !== '' ? sig : null, os: typeof os === 'string' ? os : null };
}

function readCritical(raw: Node, s: (n: string) => string, sa: (n: string) => string): SparkleItem['critical'] {
  const direct = raw[s('criticalUpdate')];
  const tags = raw[s('tags')] as Node | undefined;
  const legacy = tags && typeof tags === 'object' && s('criticalUpdate') in tags;
  if (direct === undefined) return Boolean(legacy);
  const below = typeof direct === 'object' && direct !== null ? (direct as Node)[sa('version')] : undefined;
  return typeof below === 'string' && below !== '' ? { belowVersion: below } : true;
}

function readInformational(raw: Node, s: (n: string) => string, enclosure: SparkleEnclosure | null): SparkleItem['informational'] {
  if (enclosure === null) return true; // nothing to install
  const node = raw[s('informationalUpdate')];
  if (node === undefined) return false;
  if (typeof node !== 'object' || node === null) return true;
  const versions = asArray((node as Node)[s('version')] as unknown).map((v) => textOf(v) ?? '').filter((v) => v !== '');
  const below = textOf((node as Node)[s('belowVersion')]);
  if (versions.length === 0 && !below) return true;
  return { versions, belowVersion: below || null };
}

/** True when `item` is critical for an installation of `installed` (null: fresh install). */
export function isCriticalFor(item: SparkleItem, installed: string | null): boolean {
  if (typeof item.critical === 'boolean') return item.critical;
  return installed !== null && compareSparkleVersions(installed, item.critical.belowVersion) < 0;
}

/** True when `item` may only be shown to an installation of `installed`, never installed. */
export function isInformationalFor(item: SparkleItem, installed: string | null): boolean {
  const info = item.informational;
  if (typeof info === 'boolean') return info;
  if (installed === null) return false;
  if (info.versions.some((v) => compareSparkleVersions(v, installed) === 0)) return true;
  return info.belowVersion !== null && compareSparkleVersions(installed, info.belowVersion) < 0;
}

export interface SparkleSelectOptions {
  /** Installed bundle version; null for a fresh install. */
  installed: string | null;
  /** Channels this installation follows besides the default channel. */
  channels: readonly string[];
  /** Operating system of the installation: `macos`, `windows`, or another name for other systems. */
  os: string;
  /** System version compared with minimum/maximumSystemVersion (Sparkle ordering); null skips the check. */
  systemVersion: string | null;
  /** Phased-rollout group 0–6 of this installation. */
  rolloutGroup: number;
  now: Date;
}

/** Why an item is not offered, or null when it is. Pure. */
export function ineligibility(item: SparkleItem, o: SparkleSelectOptions): string | null {
  if (item.channel !== null && !o.channels.includes(item.channel)) return `channel ${item.channel}`;
  const os = item.enclosure?.os ?? null;
  if (os !== null && os !== o.os && !(os === 'macos' && o.os === 'darwin')) return `for ${os}`;
  if (o.systemVersion !== null) {
    if (item.minimumSystemVersion && compareSparkleVersions(o.systemVersion, item.minimumSystemVersion) < 0) return `needs system ${item.minimumSystemVersion}`;
    if (item.maximumSystemVersion && compareSparkleVersions(o.systemVersion, item.maximumSystemVersion) > 0) return `needs system at most ${item.maximumSystemVersion}`;
  }
  if (o.installed !== null && compareSparkleVersions(item.version, o.installed) <= 0) return 'not newer';
  if (!isCriticalFor(item, o.installed) && item.phasedRolloutInterval !== null && item.pubDate !== null && o.installed !== null) {
    const opensAt = item.pubDate.getTime() + o.rolloutGroup * item.phasedRolloutInterval * 1000;
    if (o.now.getTime() < opensAt) return `phased rollout reaches this installation at ${new Date(opensAt).toISOString()}`;
  }
  return null;
}

/** Eligible items, best (highest Sparkle version) first. */
export function eligibleItems(appcast: ParsedAppcast, o: SparkleSelectOptions): SparkleItem[] {
  return appcast.items.filter((i) => ineligibility(i, o) === null).sort((a, b) => compareSparkleVersions(b.version, a.version));
}

/** The best item for an installation (Sparkle's choice), or null. Informational items count: they are shown, never installed. */
export function bestItem(appcast: ParsedAppcast, o: SparkleSelectOptions): SparkleItem | null {
  return eligibleItems(appcast, o)[0] ?? null;
}

/** Sparkle's rollout group of an installation from its random machine id (hex): 0–6. */
export function rolloutGroupOf(machineIdHex: string): number {
  return Number.parseInt(machineIdHex.slice(0, 8), 16) % PHASED_ROLLOUT_GROUPS;
}

/** The delta enclosure that patches `installed`, or null. */
export function deltaFor(item: SparkleItem, installed: string | null): SparkleDelta | null {
  if (installed === null) return null;
  return item.deltas.find((d) => compareSparkleVersions(d.deltaFrom, installed) === 0) ?? null;
}

/**
 * True when moving from `installed` to `item` is what Sparkle calls a major upgrade: the
 * installation is below the item's `minimumAutoupdateVersion`, so the update is never applied
 * automatically (shown, installed only on request).
 */
export function isMajorUpgradeFor(item: SparkleItem, installed: string | null): boolean {
  return installed !== null && item.minimumAutoupdateVersion !== null && compareSparkleVersions(installed, item.minimumAutoupdateVersion) < 0;
}
