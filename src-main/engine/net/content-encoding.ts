/**
 * Responses that arrive with a `Content-Encoding` although Upkeep asked for `identity` (some CDNs
 * and misconfigured servers compress anyway): the body is decoded while streaming, so sizes and
 * hashes are checked on the decoded bytes, and every error caused by the encoding names it.
 *
 * Codings (RFC 9110 §8.4.1, applied in the order listed, so decoded in reverse): `gzip` and
 * `x-gzip` (RFC 1952), `deflate` (the zlib format of RFC 1950), `br` (RFC 7932); `identity` is
 * ignored. Any other coding fails with ERR_DOWNLOAD_FAILED naming it. Decoding is streaming
 * (node's zlib), so the callers' byte bounds also bound a decompression bomb.
 */
import { pipeline, type Readable, type Transform } from 'node:stream';
import { NetworkError } from '../../../src-shared/errors';
import { RetryableFailure } from './fetcher';
import { redactUrl } from './url-policy';

/** Node's zlib, loaded when a server compresses a body (few do): it costs every start otherwise. */
const zlib = (): typeof import('node:zlib') => require('node:zlib') as typeof import('node:zlib');

/** The codings of a `Content-Encoding` header value, lower-cased, `identity` dropped. */
export function parseContentEncoding(value: string | string[] | undefined): string[] {
  const v = Array.isArray(value) ? value.join(',') : value ?? '';
  return v
    .split(',')
    .map((c) => c.trim().toLowerCase())
    .filter((c) => c !== '' && c !== 'identity');
}

function decoderFor(coding: string, url: string): Transform {
  switch (coding) {
    case 'gzip':
    case 'x-gzip':
      return zlib().createGunzip();
    case 'deflate':
      return zlib().createInflate();
    case 'br':
      return zlib().createBrotliDecompress();
    default:
      throw new NetworkError('ERR_DOWNLOAD_FAILED', `${redactUrl(url)} was sent with Content-Encoding: ${coding}, which Upkeep cannot decode`, {
        url: redactUrl(url),
        content_encoding: coding,
      });
  }
}

/**
 * The body's bytes after undoing `codings` (as parsed by `parseContentEncoding`); the body as it
 * is when there are none. A decoding failure is a retryable ERR_DOWNLOAD_FAILED whose message
 * names the encoding; transport errors pass through unchanged.
 */
export function decodedBody(body: Readable, codings: string[], url: string): AsyncIterable<Buffer> {
  if (codings.length === 0) return body as AsyncIterable<Buffer>;
  const decoders = [...codings].reverse().map((c) => decoderFor(c, url));
  let transportFailed = false;
  body.once('error', () => (transportFailed = true));
  const out = pipeline([body, ...decoders], () => undefined) as unknown as Readable;
  const label = codings.join(', ');
  return (async function* () {
    try {
      for await (const chunk of out as AsyncIterable<Buffer>) yield chunk;
    } catch (err) {
      if (transportFailed) throw err;
      throw new RetryableFailure(
        new NetworkError('ERR_DOWNLOAD_FAILED', `Could not decode the response from ${redactUrl(url)} (Content-Encoding: ${label}): ${(err as Error).message}`, {
          url: redactUrl(url),
          content_encoding: label,
        }),
      );
    }
  })();
}
