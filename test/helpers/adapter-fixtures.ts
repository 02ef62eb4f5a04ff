/**
 * Publishing fixtures for the feed adapters, shared by the engine-level and command-line
 * end-to-end tests: two versions of a small product tree and their archives (`.tar.gz` through
 * the `tar` package, `.tar.xz` through the system `tar -cJf`), a minisign key made by the real
 * `minisign` tool, GitHub releases with `SHA256SUMS` + `SHA256SUMS.minisig`, electron-builder
 * `latest-linux.yml` documents, Sparkle appcasts signed with Ed25519, and a TUF repository whose
 * keys and metadata the test makes itself (Ed25519, canonical JSON).
 */
import { canonicalize } from '@tufjs/canonical-json';
import { execFileSync } from 'node:child_process';
import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import * as tar from 'tar';
import { sha256sums, type FakeRelease } from './github-server';
import { writeTree } from './tree';

export type TreeSpec = Record<string, string | { data: string; mode: number }>;

/** The trees of the published versions, as files → contents (modes included). */
export const TREES: Record<string, TreeSpec> = {
  '1.0.0': { 'bin/app': { data: '#!/bin/sh\necho 1.0.0\n', mode: 0o755 }, 'lib/core.txt': 'core one\n', 'README.md': 'old readme\n' },
  '1.1.0': { 'bin/app': { data: '#!/bin/sh\necho 1.1.0\n', mode: 0o755 }, 'lib/core.txt': 'core one point one\n', 'share/new.txt': 'new file\n' },
  '1.2.0': { 'bin/app': { data: '#!/bin/sh\necho 1.2.0\n', mode: 0o755 }, 'lib/core.txt': 'core one point two\n' },
};

export type ArchiveKind = 'tar.gz' | 'tar.xz';

/**
 * An archive of a version's tree under a top directory `app-<v>/` (so `strip_components: 1`),
 * written in `work`: `.tar.gz` with the `tar` package, `.tar.xz` with the system `tar -cJf`.
 */
export async function versionArchive(version: string, work: string, kind: ArchiveKind = 'tar.gz'): Promise<Buffer> {
  const root = await fsp.mkdtemp(path.join(work, 'archive-'));
  await writeTree(path.join(root, `app-${version}`), TREES[version]!);
  const out = path.join(root, `out.${kind}`);
  if (kind === 'tar.xz') execFileSync('tar', ['-cJf', out, '-C', root, `app-${version}`]);
  else await tar.c({ gzip: true, file: out, cwd: root, portable: true }, [`app-${version}`]);
  return fsp.readFile(out);
}

/** The same bytes with one byte changed in the middle (same length: a digest mismatch, not a size one). */
export function flipByte(bytes: Buffer): Buffer {
  const out = Buffer.from(bytes);
  const i = Math.floor(out.length / 2);
  out[i] = out[i]! ^ 0xff;
  return out;
}

export interface Minisigner {
  /** The trust line: `minisign:` + the key line of the .pub file. */
  key: string;
  /** The `.minisig` file the real minisign tool writes for these bytes. */
  sign(bytes: Buffer): Promise<Buffer>;
}

/** A passwordless minisign key pair made by `minisign -G -W` in `dir`. */
export async function minisigner(dir: string): Promise<Minisigner> {
  await fsp.mkdir(dir, { recursive: true });
  const pub = path.join(dir, 'k.pub');
  const sec = path.join(dir, 'k.sec');
  execFileSync('minisign', ['-G', '-W', '-p', pub, '-s', sec], { stdio: 'ignore' });
  let n = 0;
  return {
    key: 'minisign:' + (await fsp.readFile(pub, 'utf8')).trim().split('\n').pop()!,
    async sign(bytes) {
      const f = path.join(dir, `m${++n}`);
      await fsp.writeFile(f, bytes);
      execFileSync('minisign', ['-S', '-s', sec, '-m', f], { stdio: 'ignore' });
      return fsp.readFile(f + '.minisig');
    },
  };
}

/** A GitHub release `v<version>` with `asset`, `SHA256SUMS` and `SHA256SUMS.minisig` signed by `signer`. */
export async function githubRelease(version: string, asset: { name: string; bytes: Buffer }, signer: Minisigner): Promise<FakeRelease> {
  const sums = sha256sums([asset]);
  return { tag_name: `v${version}`, body: `## ${version}\n\nRelease notes of ${version}.`, assets: [asset, { name: 'SHA256SUMS', bytes: sums }, { name: 'SHA256SUMS.minisig', bytes: await signer.sign(sums) }] };
}

/** An electron-builder `latest-linux.yml` naming one file by relative URL, with its base64 sha512 and size. */
export function electronBuilderYml(version: string, file: { name: string; bytes: Buffer }, notes = `Release notes of ${version}.`): string {
  return [
    `version: ${version}`,
    'files:',
    `  - url: ${file.name}`,
    `    sha512: ${createHash('sha512').update(file.bytes).digest('base64')}`,
    `    size: ${file.bytes.length}`,
    `path: ${file.name}`,
    `sha512: ${createHash('sha512').update(file.bytes).digest('base64')}`,
    `releaseNotes: ${JSON.stringify(notes)}`,
    "releaseDate: '2026-11-20T10:00:00.000Z'",
    '',
  ].join('\n');
}

export interface Ed25519Signer {
  /** The trust line `ed25519:<base64 of the 32 raw public key bytes>`. */
  key: string;
  /** Base64 Ed25519 signature over `bytes` (a Sparkle `sparkle:edSignature`). */
  sign(bytes: Buffer): string;
}

export function ed25519Signer(): Ed25519Signer {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  return {
    key: `ed25519:${publicKey.export({ format: 'der', type: 'spki' }).subarray(12).toString('base64')}`,
    sign: (bytes) => sign(null, bytes, privateKey).toString('base64'),
  };
}

export interface AppcastItem {
  version: string;
  /** Enclosure URL (relative to the appcast, or absolute). */
  url: string;
  length: number;
  edSignature: string;
}

/** A Sparkle appcast (RSS 2.0 with the sparkle namespace) listing `items`. */
export function appcast(items: AppcastItem[]): string {
  const item = (i: AppcastItem): string => [
    `<item><title>App ${i.version}</title><sparkle:version>${i.version}</sparkle:version>`,
    `<description><![CDATA[<p>Release notes of ${i.version}.</p>]]></description>`,
    `<pubDate>Fri, 20 Nov 2026 10:00:00 +0000</pubDate>`,
    `<enclosure url="${i.url}" length="${i.length}" type="application/octet-stream" sparkle:edSignature="${i.edSignature}"/></item>`,
  ].join('');
  return `<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0" xmlns:sparkle="http://www.andymatuschak.org/xml-namespaces/sparkle"><channel><title>App</title>${items.map(item).join('')}</channel></rss>\n`;
}

interface TufKey {
  id: string;
  pub: Record<string, unknown>;
  priv: KeyObject;
}

function tufKey(): TufKey {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const pub = { keytype: 'ed25519', scheme: 'ed25519', keyval: { public: publicKey.export({ format: 'der', type: 'spki' }).subarray(12).toString('hex') } };
  return { id: createHash('sha256').update(canonicalize(pub)).digest('hex'), pub, priv: privateKey };
}

const ROLES = ['root', 'targets', 'snapshot', 'timestamp'] as const;

/**
 * A TUF 1.0 repository made by the test: one Ed25519 key per top-level role, a version-1 root
 * (not consistent_snapshot), and `publish()` to write new targets/snapshot/timestamp metadata
 * listing target files. `files` holds what a static server serves: `/metadata/<role>.json`
 * (and `/metadata/1.root.json`) and `/targets/<name>`.
 */
export class TufRepo {
  readonly files: Map<string, Buffer>;
  private readonly keys = Object.fromEntries(ROLES.map((r) => [r, tufKey()])) as Record<(typeof ROLES)[number], TufKey>;
  private version = 0;
  private readonly expires: string;
  /** The trusted root.json (version 1) to put in the client's config. */
  readonly root: Buffer;
  private readonly listed: Record<string, { length: number; hashes: { sha256: string }; custom?: { notes: string } }> = {};

  constructor(files: Map<string, Buffer>) {
    this.files = files;
    const expires = (this.expires = new Date(Date.now() + 365 * 86_400_000).toISOString().replace(/\.\d+Z$/, 'Z'));
    this.root = this.signed('root', {
      _type: 'root', spec_version: '1.0.31', version: 1, expires, consistent_snapshot: false,
      keys: Object.fromEntries(ROLES.map((r) => [this.keys[r].id, this.keys[r].pub])),
      roles: Object.fromEntries(ROLES.map((r) => [r, { keyids: [this.keys[r].id], threshold: 1 }])),
    });
    files.set('/metadata/1.root.json', this.root);
    files.set('/metadata/root.json', this.root);
  }

  private signed(role: (typeof ROLES)[number], signed: Record<string, unknown>): Buffer {
    const sig = sign(null, Buffer.from(canonicalize(signed)), this.keys[role].priv).toString('hex');
    return Buffer.from(JSON.stringify({ signatures: [{ keyid: this.keys[role].id, sig }], signed }));
  }

  /**
   * Adds target files (name → bytes) and publishes the next targets, snapshot and timestamp
   * versions over everything listed so far. `serve` overrides the bytes served for a target
   * (a tampered download) while the metadata lists the real ones; `notes` become the target's
   * `custom.notes`.
   */
  publish(add: Record<string, Buffer>, o: { serve?: Record<string, Buffer>; notes?: Record<string, string> } = {}): void {
    this.version += 1;
    const v = this.version;
    for (const [name, bytes] of Object.entries(add)) {
      const notes = o.notes?.[name];
      this.listed[name] = { length: bytes.length, hashes: { sha256: createHash('sha256').update(bytes).digest('hex') }, ...(notes ? { custom: { notes } } : {}) };
      this.files.set(`/targets/${name}`, o.serve?.[name] ?? bytes);
    }
    const common = { spec_version: '1.0.31', version: v, expires: this.expires };
    this.files.set('/metadata/targets.json', this.signed('targets', { _type: 'targets', ...common, targets: { ...this.listed } }));
    this.files.set('/metadata/snapshot.json', this.signed('snapshot', { _type: 'snapshot', ...common, meta: { 'targets.json': { version: v } } }));
    this.files.set('/metadata/timestamp.json', this.signed('timestamp', { _type: 'timestamp', ...common, meta: { 'snapshot.json': { version: v } } }));
  }
}
