/**
 * The `trust.keys` lines of a target, one key per line, each `<kind>:<value>`:
 *
 * - `ed25519:<base64 of 32 raw bytes>` — Upkeep's own key form (native feed, Sparkle `edSignature`).
 * - `minisign:RW…` — the key line of a minisign `.pub` file (base64 of "Ed" ‖ 8-byte key number ‖
 *   32-byte Ed25519 key, format of jedisct1/minisign), or Tauri's form: the whole `.pub` file
 *   base64-encoded once more (the `pubkey` of tauri.conf.json).
 * - `openpgp:FILE` — an OpenPGP public key (armored or binary, RFC 9580 / RFC 4880), one key per file.
 * - `x509:FILE` — an X.509 certificate (PEM or DER) trusted for CMS signatures, either as the
 *   signer's own certificate (pinned) or as the CA that issued it.
 *
 * FILE is resolved against the config file's directory. Parsing the line text is synchronous and
 * pure (`parseKeyLine`, used by config validation); turning a line into a usable key reads the file
 * for the last two kinds (`loadTrustedKeys`, the only I/O here) and parses it (`trustedKeyFromFile`).
 *
 * Every key has a stable `id` naming its key material, used to count distinct signers for a
 * threshold: `ed25519:<hex SHA-256 of the raw key>` (the same for an `ed25519:` and a `minisign:`
 * line holding one Ed25519 key, which therefore count once), `openpgp:<primary key fingerprint>`,
 * `x509:<hex SHA-256 of the certificate's SubjectPublicKeyInfo DER>` (a re-issued certificate for
 * the same key counts once).
 */
import { createHash, X509Certificate } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type * as openpgp from 'openpgp';
import { UsageError } from '../../../src-shared/errors';
import { keyIdOf, publicKeyFromRaw, type PublicKey } from './keys';

export const TRUSTED_KEY_KINDS = ['ed25519', 'minisign', 'openpgp', 'x509'] as const;
export type TrustedKeyKind = (typeof TRUSTED_KEY_KINDS)[number];

/** Largest key or certificate file read (bytes); real ones are a few KiB. */
export const MAX_KEY_FILE_BYTES = 1024 * 1024;

interface TrustedKeyBase {
  /** Stable identity of the key material (see the module comment). */
  id: string;
  /** Short human label, e.g. `minisign key E7620F1842B4E81F`. */
  label: string;
  /** The config line, trimmed. */
  line: string;
}

export interface Ed25519TrustedKey extends TrustedKeyBase {
  kind: 'ed25519';
  publicKey: PublicKey;
}

export interface MinisignTrustedKey extends TrustedKeyBase {
  kind: 'minisign';
  /** The 8-byte key number as stored (little-endian). */
  keyNum: Buffer;
  /** The key id: the key number as 16 uppercase hex digits (big-endian; minisign omits leading zeros). */
  minisignKeyId: string;
  publicKey: PublicKey;
}

export interface OpenPgpTrustedKey extends TrustedKeyBase {
  kind: 'openpgp';
  /** Absolute path of the key file. */
  file: string;
  /** Primary key fingerprint, lowercase hex. */
  fingerprint: string;
  key: openpgp.PublicKey;
}

export interface X509TrustedKey extends TrustedKeyBase {
  kind: 'x509';
  /** Absolute path of the certificate file. */
  file: string;
  /** The certificate's DER bytes. */
  der: Buffer;
  certificate: X509Certificate;
}

export type TrustedKey = Ed25519TrustedKey | MinisignTrustedKey | OpenPgpTrustedKey | X509TrustedKey;

/** The syntax of one line, before any file is read. */
export type KeyLine =
  | { kind: 'ed25519'; line: string; publicKey: PublicKey }
  | { kind: 'minisign'; line: string; keyNum: Buffer; publicKey: PublicKey }
  | { kind: 'openpgp' | 'x509'; line: string; file: string };

function invalid(message: string, details: Record<string, unknown>): UsageError {
  return new UsageError('ERR_KEY_INVALID', message, details);
}

/** Decodes strict, canonical base64 (padding required); null when it is not. */
function strictBase64(text: string): Buffer | null {
  if (text.length === 0 || text.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(text)) return null;
  const bytes = Buffer.from(text, 'base64');
  return bytes.toString('base64') === text ? bytes : null;
}

const MINISIGN_PUBLIC_KEY_BYTES = 42;

/**
 * Parses a minisign public key: the bare `RW…` key line, a whole `.pub` file (untrusted comment +
 * key line, LF or CRLF), or Tauri's base64 of that file. Returns the key number and Ed25519 key.
 * Throws ERR_KEY_INVALID with details `{ kind: 'minisign', length? }`.
 */
export function parseMinisignPublicKey(text: string): { keyNum: Buffer; publicKey: PublicKey; line: string } {
  let body = text.trim();
  if (!body.startsWith('RW') && !body.startsWith('untrusted comment:')) {
    // Tauri: the .pub file wrapped in one more layer of base64.
    const outer = strictBase64(body.replace(/\s+/g, ''));
    const inner = outer?.toString('utf8');
    if (inner !== undefined && inner.startsWith('untrusted comment:')) body = inner.trim();
  }
  if (body.startsWith('untrusted comment:')) {
    const lines = body.split(/\r?\n/);
    if (lines.length !== 2) throw invalid('A minisign public key file has two lines: an untrusted comment and the key', { kind: 'minisign' });
    body = lines[1]!.trim();
  }
  const raw = strictBase64(body);
  if (!raw) throw invalid(`A minisign public key is one base64 line starting with "RW", got "${body.slice(0, 24)}"`, { kind: 'minisign' });
  if (raw.length !== MINISIGN_PUBLIC_KEY_BYTES) {
    throw invalid(`A minisign public key has ${MINISIGN_PUBLIC_KEY_BYTES} bytes, got ${raw.length}`, { kind: 'minisign', length: raw.length });
  }
  if (raw.subarray(0, 2).toString('latin1') !== 'Ed') {
    throw invalid(`Unsupported minisign key algorithm "${raw.subarray(0, 2).toString('latin1')}" (expected "Ed")`, { kind: 'minisign' });
  }
  return { keyNum: Buffer.from(raw.subarray(2, 10)), publicKey: publicKeyFromRaw(raw.subarray(10, 42)), line: body };
}

/** The key id of an 8-byte key number (little-endian → 16 uppercase hex digits, leading zeros kept). */
export function minisignKeyIdHex(keyNum: Uint8Array): string {
  return Buffer.from(keyNum).reverse().toString('hex').toUpperCase();
}

function parseEd25519Line(value: string): PublicKey {
  const raw = strictBase64(value);
  if (!raw) throw invalid('An ed25519 key is "ed25519:" followed by the canonical base64 of 32 bytes', { kind: 'ed25519' });
  if (raw.length !== 32) throw invalid(`An ed25519 key has 32 bytes, got ${raw.length}`, { kind: 'ed25519', length: raw.length });
  return publicKeyFromRaw(raw);
}

/**
 * Parses the text of one `trust.keys` line (surrounding whitespace ignored). ed25519 and minisign
 * keys are fully checked here; for openpgp and x509 only the path is (FILE is resolved against
 * `baseDir` when relative). Pure: reads no file. Throws UsageError ERR_KEY_INVALID whose message
 * names the problem (unknown kind, wrong length, bad base64) and whose details carry `kind` and,
 * for a wrong length, `length` in bytes.
 */
export function parseKeyLine(text: string, baseDir?: string): KeyLine {
  const line = text.trim();
  const colon = line.indexOf(':');
  const kind = colon > 0 ? line.slice(0, colon) : '';
  const value = colon > 0 ? line.slice(colon + 1) : '';
  if (!(TRUSTED_KEY_KINDS as readonly string[]).includes(kind)) {
    throw invalid(
      kind === ''
        ? `A trusted key is "<kind>:<value>" with kind ed25519, minisign, openpgp or x509, got "${line.slice(0, 24)}"`
        : `Unknown key kind "${kind.slice(0, 24)}" (expected ed25519, minisign, openpgp or x509)`,
      { kind: kind === '' ? null : kind.slice(0, 24) },
    );
  }
  if (value.trim() === '') throw invalid(`The ${kind} key line has no value after "${kind}:"`, { kind });
  switch (kind as TrustedKeyKind) {
    case 'ed25519':
      return { kind: 'ed25519', line, publicKey: parseEd25519Line(value) };
    case 'minisign': {
      const k = parseMinisignPublicKey(value);
      return { kind: 'minisign', line, keyNum: k.keyNum, publicKey: k.publicKey };
    }
    default: {
      const file = value.trim();
      if (file.includes('\0')) throw invalid(`The ${kind} key file path contains a NUL byte`, { kind });
      return { kind: kind as 'openpgp' | 'x509', line, file: path.isAbsolute(file) || baseDir === undefined ? file : path.resolve(baseDir, file) };
    }
  }
}

function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The trusted key of an ed25519 or minisign line (no file involved). */
function inlineKey(parsed: Extract<KeyLine, { kind: 'ed25519' | 'minisign' }>): TrustedKey {
  const id = `ed25519:${keyIdOf(parsed.publicKey.raw)}`;
  if (parsed.kind === 'ed25519') {
    return { kind: 'ed25519', id, label: `ed25519 key ${parsed.publicKey.keyid.slice(0, 16)}`, line: parsed.line, publicKey: parsed.publicKey };
  }
  const minisignKeyId = minisignKeyIdHex(parsed.keyNum);
  return { kind: 'minisign', id, label: `minisign key ${minisignKeyId}`, line: parsed.line, keyNum: parsed.keyNum, minisignKeyId, publicKey: parsed.publicKey };
}

async function openPgpKeyFromBytes(line: string, file: string, bytes: Buffer): Promise<OpenPgpTrustedKey> {
  const text = bytes.toString('utf8');
  const armored = text.includes('-----BEGIN PGP');
  if (armored && text.includes('-----BEGIN PGP PRIVATE KEY BLOCK-----')) {
    throw invalid(`${file} holds an OpenPGP private key; configure the public key (gpg --armor --export)`, { kind: 'openpgp', file });
  }
  let keys: openpgp.Key[];
  try {
    // Loaded here, not at start-up: openpgp costs tens of ms and most configs hold no OpenPGP key.
    const pgp = require('openpgp') as typeof openpgp;
    keys = armored ? await pgp.readKeys({ armoredKeys: text }) : await pgp.readKeys({ binaryKeys: new Uint8Array(bytes) });
  } catch (err) {
    throw invalid(`${file} is not an OpenPGP public key: ${(err as Error).message}`, { kind: 'openpgp', file });
  }
  if (keys.length !== 1) throw invalid(`${file} holds ${keys.length} OpenPGP keys; give each key its own openpgp: line`, { kind: 'openpgp', file, keys: keys.length });
  const key = keys[0]!;
  if (key.isPrivate()) throw invalid(`${file} holds an OpenPGP private key; configure the public key (gpg --armor --export)`, { kind: 'openpgp', file });
  const fingerprint = key.getFingerprint().toLowerCase();
  return { kind: 'openpgp', id: `openpgp:${fingerprint}`, label: `OpenPGP key ${fingerprint.toUpperCase()}`, line, file, fingerprint, key: key as openpgp.PublicKey };
}

function x509FromBytes(line: string, file: string, bytes: Buffer): X509TrustedKey {
  const text = bytes.toString('latin1');
  const pemBlocks = text.match(/-----BEGIN CERTIFICATE-----/g)?.length ?? 0;
  if (pemBlocks > 1) throw invalid(`${file} holds ${pemBlocks} certificates; give each certificate its own x509: line`, { kind: 'x509', file });
  if (pemBlocks === 0 && text.includes('-----BEGIN')) throw invalid(`${file} is not a PEM certificate (expected "-----BEGIN CERTIFICATE-----")`, { kind: 'x509', file });
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(bytes);
  } catch (err) {
    throw invalid(`${file} is not an X.509 certificate: ${(err as Error).message}`, { kind: 'x509', file });
  }
  const der = Buffer.from(certificate.raw);
  const spki = certificate.publicKey.export({ type: 'spki', format: 'der' });
  const cn = /(?:^|\n)CN=([^\n]*)/.exec(certificate.subject)?.[1] ?? certificate.subject.split('\n')[0] ?? '';
  return { kind: 'x509', id: `x509:${sha256Hex(spki)}`, label: `X.509 certificate "${cn}"`, line, file, der, certificate };
}

/**
 * Builds the trusted key of a parsed openpgp or x509 line from the file's bytes (pure; async only
 * because the OpenPGP parser is). Throws ERR_KEY_INVALID (details: kind, file) for a file that is
 * not one public key or one certificate.
 */
export async function trustedKeyFromFile(parsed: Extract<KeyLine, { kind: 'openpgp' | 'x509' }>, bytes: Buffer): Promise<TrustedKey> {
  return parsed.kind === 'openpgp' ? openPgpKeyFromBytes(parsed.line, parsed.file, bytes) : x509FromBytes(parsed.line, parsed.file, bytes);
}

async function readKeyFile(kind: string, file: string): Promise<Buffer> {
  try {
    const st = await fsp.stat(file);
    if (!st.isFile()) throw invalid(`The ${kind} key file ${file} is not a regular file`, { kind, file });
    if (st.size > MAX_KEY_FILE_BYTES) throw invalid(`The ${kind} key file ${file} has ${st.size} bytes; at most ${MAX_KEY_FILE_BYTES} are read`, { kind, file, length: st.size });
    return await fsp.readFile(file);
  } catch (err) {
    if (err instanceof UsageError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw invalid(`Cannot read the ${kind} key file ${file}: ${code === 'ENOENT' ? 'no such file' : (code ?? (err as Error).message)}`, { kind, file });
  }
}

/** Reads and parses one `trust.keys` line (reading FILE for openpgp/x509). Throws ERR_KEY_INVALID. */
export async function loadTrustedKey(text: string, o: { baseDir?: string } = {}): Promise<TrustedKey> {
  const parsed = parseKeyLine(text, o.baseDir);
  if (parsed.kind === 'ed25519' || parsed.kind === 'minisign') return inlineKey(parsed);
  return trustedKeyFromFile(parsed, await readKeyFile(parsed.kind, parsed.file));
}

/**
 * Turns a target's `trust.keys` lines into trusted keys, in order. Throws UsageError ERR_KEY_INVALID
 * for the first bad line, with `details.index` (0-based line index) added to the parser's details,
 * or when two lines hold the same key material (same `id`).
 */
export async function loadTrustedKeys(lines: readonly string[], o: { baseDir?: string } = {}): Promise<TrustedKey[]> {
  const out: TrustedKey[] = [];
  const seen = new Map<string, number>();
  for (const [index, text] of lines.entries()) {
    let key: TrustedKey;
    try {
      key = await loadTrustedKey(text, o);
    } catch (err) {
      if (err instanceof UsageError) throw new UsageError('ERR_KEY_INVALID', `trust.keys[${index}]: ${err.message}`, { ...err.details, index });
      throw err;
    }
    const prev = seen.get(key.id);
    if (prev !== undefined) {
      throw invalid(`trust.keys[${index}]: the same key as trust.keys[${prev}] (${key.label}); each key counts once`, { kind: key.kind, index, duplicate_of: prev });
    }
    seen.set(key.id, index);
    out.push(key);
  }
  return out;
}
