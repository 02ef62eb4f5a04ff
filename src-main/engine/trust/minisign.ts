/**
 * minisign signatures (format of jedisct1/minisign, also written by rsign2, go-minisign and Tauri's
 * updater). A `.minisig` file has four lines:
 *
 *   untrusted comment: <text>                    (not covered by any signature)
 *   base64( alg(2) ‖ key number(8) ‖ Ed25519 signature(64) )
 *   trusted comment: <text>
 *   base64( Ed25519 global signature(64) over signature(64) ‖ trusted comment bytes )
 *
 * alg `Ed` (legacy) signs the message itself; `ED` (prehashed, the default since minisign 0.10)
 * signs BLAKE2b-512(message). A signature counts only when the key number matches a trusted
 * minisign key, the message signature verifies AND the global signature verifies (so the trusted
 * comment cannot be altered). Lines may end in CRLF; Tauri's form is the whole file base64-encoded
 * once more. No npm package verifies both algorithms and the global signature, so this is a small
 * verifier on node:crypto (Ed25519 and 'blake2b512' come from OpenSSL; nothing here is own crypto).
 */
import { createHash } from 'node:crypto';
import { VerificationError } from '../../../src-shared/errors';
import { verifyEd25519 } from './dsse';
import { minisignKeyIdHex, type MinisignTrustedKey, type TrustedKey } from './trusted-keys';
import { failedResult, type SignatureResult } from './threshold';

/** Largest signature file accepted (bytes, Tauri's base64 form included). */
export const MAX_MINISIG_BYTES = 64 * 1024;

export interface MinisignSignature {
  /** `Ed`: signature over the message; `ED`: over BLAKE2b-512 of the message. */
  algorithm: 'Ed' | 'ED';
  /** 8-byte key number as stored (little-endian). */
  keyNum: Buffer;
  /** The key id (16 uppercase hex digits; minisign itself omits leading zeros). */
  keyId: string;
  signature: Buffer;
  untrustedComment: string;
  /** The trusted comment text (after "trusted comment: "), as UTF-8. */
  trustedComment: string;
  /** The trusted comment's exact bytes, which the global signature covers. */
  trustedCommentBytes: Buffer;
  globalSignature: Buffer;
}

const UNTRUSTED = Buffer.from('untrusted comment:');
const TRUSTED = Buffer.from('trusted comment: ');

function malformed(message: string): VerificationError {
  return new VerificationError('ERR_SIGNATURE_INVALID', `Malformed minisign signature: ${message}`, { kind: 'minisign', reason: 'malformed' });
}

function decodeBase64Line(line: Buffer, bytes: number, what: string): Buffer {
  const text = line.toString('latin1').trim();
  const raw = /^[A-Za-z0-9+/]+={0,2}$/.test(text) ? Buffer.from(text, 'base64') : null;
  if (!raw || raw.toString('base64') !== text) throw malformed(`the ${what} line is not base64`);
  if (raw.length !== bytes) throw malformed(`the ${what} has ${raw.length} bytes, expected ${bytes}`);
  return raw;
}

/** Undoes Tauri's outer base64 layer when the bytes are not already a minisign text file. */
function unwrap(bytes: Buffer): Buffer {
  if (bytes.subarray(0, UNTRUSTED.length).equals(UNTRUSTED)) return bytes;
  const compact = bytes.toString('latin1').replace(/\s+/g, '');
  if (/^[A-Za-z0-9+/]+={0,2}$/.test(compact)) {
    const inner = Buffer.from(compact, 'base64');
    if (inner.subarray(0, UNTRUSTED.length).equals(UNTRUSTED)) return inner;
  }
  throw malformed('it does not start with "untrusted comment:" (nor is it Tauri\'s base64 of such a file)');
}

/** Splits on LF, dropping one CR before each LF, and a final empty line. */
function splitLines(bytes: Buffer): Buffer[] {
  const lines: Buffer[] = [];
  let start = 0;
  for (let i = 0; i <= bytes.length; i++) {
    if (i === bytes.length || bytes[i] === 0x0a) {
      let end = i;
      if (end > start && bytes[end - 1] === 0x0d) end--;
      lines.push(bytes.subarray(start, end));
      start = i + 1;
    }
  }
  while (lines.length > 0 && lines[lines.length - 1]!.length === 0) lines.pop();
  return lines;
}

/**
 * Parses a `.minisig` file (plain, CRLF or Tauri's base64-wrapped form). Pure. Throws
 * VerificationError ERR_SIGNATURE_INVALID (details.reason 'malformed') for anything that is not
 * exactly the four-line format, including a missing trusted comment.
 */
export function parseMinisignSignature(input: Uint8Array | string): MinisignSignature {
  const bytes = typeof input === 'string' ? Buffer.from(input, 'utf8') : Buffer.from(input);
  if (bytes.length > MAX_MINISIG_BYTES) throw malformed(`${bytes.length} bytes; at most ${MAX_MINISIG_BYTES} are accepted`);
  const lines = splitLines(unwrap(bytes));
  if (lines.length !== 4) throw malformed(`expected 4 lines (untrusted comment, signature, trusted comment, global signature), got ${lines.length}`);
  const [untrusted, sigLine, trusted, globalLine] = lines as [Buffer, Buffer, Buffer, Buffer];
  if (!untrusted.subarray(0, UNTRUSTED.length).equals(UNTRUSTED)) throw malformed('the first line is not an untrusted comment');
  if (!trusted.subarray(0, TRUSTED.length).equals(TRUSTED)) throw malformed('the third line is not "trusted comment: ..."');
  const blob = decodeBase64Line(sigLine, 74, 'signature');
  const algorithm = blob.subarray(0, 2).toString('latin1');
  if (algorithm !== 'Ed' && algorithm !== 'ED') throw malformed(`unknown signature algorithm "${algorithm}" (expected "Ed" or "ED")`);
  const keyNum = Buffer.from(blob.subarray(2, 10));
  const trustedCommentBytes = Buffer.from(trusted.subarray(TRUSTED.length));
  return {
    algorithm,
    keyNum,
    keyId: minisignKeyIdHex(keyNum),
    signature: Buffer.from(blob.subarray(10, 74)),
    untrustedComment: untrusted.subarray(UNTRUSTED.length).toString('utf8').trim(),
    trustedComment: trustedCommentBytes.toString('utf8'),
    trustedCommentBytes,
    globalSignature: decodeBase64Line(globalLine, 64, 'global signature'),
  };
}

/** The three independent checks of one signature against one key (exposed for diagnostics/tests). */
export interface MinisignChecks {
  keyIdMatches: boolean;
  /** The signature over the message (or its BLAKE2b-512 for `ED`) verifies. */
  messageSignatureOk: boolean;
  /** The global signature over signature ‖ trusted comment verifies. */
  globalSignatureOk: boolean;
}

/**
 * The signed data: the message bytes, or only their BLAKE2b-512 digest (64 bytes, computed while
 * streaming a large file), which suffices for prehashed `ED` signatures but not for legacy `Ed`.
 */
export type MinisignMessage = Uint8Array | { blake2b512: Uint8Array };

/** Runs every check of `sig` against `key` for `message`; never throws. */
export function minisignChecks(message: MinisignMessage, sig: MinisignSignature, key: Pick<MinisignTrustedKey, 'keyNum' | 'publicKey'>): MinisignChecks {
  const prehashed = message instanceof Uint8Array ? null : Buffer.from(message.blake2b512);
  const signed = sig.algorithm === 'ED'
    ? (prehashed ?? createHash('blake2b512').update(message as Uint8Array).digest())
    : prehashed === null ? (message as Uint8Array) : null;
  return {
    keyIdMatches: sig.keyNum.equals(key.keyNum),
    messageSignatureOk: signed !== null && verifyEd25519(key.publicKey, signed, sig.signature),
    globalSignatureOk: verifyEd25519(key.publicKey, Buffer.concat([sig.signature, sig.trustedCommentBytes]), sig.globalSignature),
  };
}

/**
 * Verifies a `.minisig` over `message` with the minisign keys among `keys` (others are ignored).
 * Never throws for bad input: a malformed file, a key id no trusted minisign key has, a bad
 * message signature or a bad global signature each give an empty `signers` and one `problems`
 * line. On success `signers` holds the key's `id` and `trustedComment` the verified comment.
 * Given only a digest, a legacy `Ed` signature does not verify (it signs the whole message).
 */
export function verifyMinisign(message: MinisignMessage, signature: Uint8Array | string, keys: readonly TrustedKey[]): SignatureResult {
  let sig: MinisignSignature;
  try {
    sig = parseMinisignSignature(signature);
  } catch (err) {
    return failedResult('minisign', (err as Error).message);
  }
  // Key numbers are random, not bound to the key: two configured keys could share one, so each is tried.
  const candidates = keys.filter((k): k is MinisignTrustedKey => k.kind === 'minisign' && k.keyNum.equals(sig.keyNum));
  if (candidates.length === 0) return failedResult('minisign', `minisign signature by key ${sig.keyId}, which is not a trusted minisign key`);
  let problem = '';
  for (const key of candidates) {
    const c = minisignChecks(message, sig, key);
    if (!c.messageSignatureOk) problem = `minisign signature by key ${sig.keyId} does not match the data (algorithm ${sig.algorithm})`;
    else if (!c.globalSignatureOk) problem = `minisign signature by key ${sig.keyId}: the trusted comment is not signed (global signature invalid)`;
    else return { kind: 'minisign', signers: [key.id], signerLabels: [key.label], problems: [], trustedComment: sig.trustedComment };
  }
  return failedResult('minisign', problem);
}
