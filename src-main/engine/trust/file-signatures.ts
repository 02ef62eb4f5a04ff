/**
 * Detached signatures over a file on disk (a downloaded artifact): the I/O edge of signatures.ts.
 * A prehashed minisign signature (`ED`, the default of minisign ≥ 0.10 and of Tauri) is checked
 * against a BLAKE2b-512 digest computed while streaming, so the file is never held in memory; the
 * other formats sign the bytes themselves (legacy minisign `Ed`, Ed25519) or need them whole for
 * their libraries (OpenPGP, CMS), so the file is read, up to MAX_WHOLE_FILE_BYTES.
 */
import { createHash } from 'node:crypto';
import { createReadStream, promises as fsp } from 'node:fs';
import { parseMinisignSignature, verifyMinisign } from './minisign';
import { detectSignatureKind, verifyDetachedSignature, type DetachedSignatureKind } from './signatures';
import { failedResult, type SignatureResult } from './threshold';
import type { TrustedKey } from './trusted-keys';

/** Largest file read whole for a signature check (bytes). */
export const MAX_WHOLE_FILE_BYTES = 2 * 1024 * 1024 * 1024;

/** BLAKE2b-512 of a file, streamed. */
export async function blake2b512File(file: string): Promise<Buffer> {
  const hash = createHash('blake2b512');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest();
}

/**
 * Verifies one detached signature over the file at `file` (format given or recognised, as
 * verifyDetachedSignature). Never throws for bad signatures; throws the file system's error when
 * the file cannot be read. A file larger than MAX_WHOLE_FILE_BYTES that would have to be read whole
 * gives a result with no signer and one problem.
 */
export async function verifyDetachedSignatureFile(
  file: string,
  signature: Uint8Array | string,
  keys: readonly TrustedKey[],
  o: { kind?: DetachedSignatureKind; now?: Date } = {},
): Promise<SignatureResult> {
  const kind = o.kind ?? detectSignatureKind(signature);
  if (kind === 'minisign') {
    let prehashed = false;
    try {
      prehashed = parseMinisignSignature(signature).algorithm === 'ED';
    } catch {
      // Malformed: verifyMinisign below reports why.
    }
    if (prehashed) return verifyMinisign({ blake2b512: await blake2b512File(file) }, signature, keys);
  }
  const { size } = await fsp.stat(file);
  if (size > MAX_WHOLE_FILE_BYTES) {
    return failedResult(kind ?? 'unknown', `${file} has ${size} bytes; ${kind ?? 'this'} signatures are checked over at most ${MAX_WHOLE_FILE_BYTES} bytes`);
  }
  return verifyDetachedSignature(await fsp.readFile(file), signature, keys, { ...o, ...(kind ? { kind } : {}) });
}
