/** The one SHA-256 helper of the engine, the CLI and the server. */
import { createHash } from 'node:crypto';

/** Lowercase hex SHA-256 of some bytes (a string is hashed as its UTF-8 bytes). */
export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}
