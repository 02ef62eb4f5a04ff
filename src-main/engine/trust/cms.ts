/**
 * CMS / PKCS#7 detached signatures (RFC 5652 SignedData, as made by `openssl cms -sign -binary`
 * or a seed-000 manifest's `signature`), verified with `pkijs` + `asn1js` against the `x509:`
 * certificates of trust. A SignerInfo counts when its signature (and the messageDigest signed
 * attribute, when present) verifies over the message AND its certificate either is a trusted
 * certificate or chains to one (pkijs' certificate chain validation, validity dates checked at
 * `now`). It counts as the trusted certificate it was pinned to or chained to, so two signers
 * under one trusted CA count once toward a threshold.
 *
 * The signer certificate itself must also be fit for signing releases (`signerUnfitReason`):
 * - valid at `now` (notBefore <= now <= notAfter), `now` being the engine's injected clock;
 * - when it has an Extended Key Usage extension (RFC 5280 §4.2.1.12), that lists id-kp-codeSigning
 *   (1.3.6.1.5.5.7.3.3) or anyExtendedKeyUsage (2.5.29.37.0). A certificate restricted to other
 *   purposes (a TLS server certificate: serverAuth only) was not issued to sign software, so its
 *   signature is refused even when it chains to a trusted CA. Without the extension the certificate
 *   is unrestricted (RFC 5280), which is how self-made release certificates usually look;
 * - when it has a Key Usage extension (RFC 5280 §4.2.1.3), that asserts digitalSignature or
 *   nonRepudiation (contentCommitment), the bits RFC 5280 names for verifying signatures on data.
 */
import { createHash, X509Certificate } from 'node:crypto';
import type * as pkijs from 'pkijs';
import type { TrustedKey, X509TrustedKey } from './trusted-keys';
import { failedResult, type SignatureResult } from './threshold';
import { systemClock } from '../clock';

/** Largest CMS signature accepted (bytes, in any of its encodings). */
export const MAX_CMS_SIGNATURE_BYTES = 1024 * 1024;
/** Most SignerInfos looked at in one SignedData. */
export const MAX_CMS_SIGNERS = 16;

const ID_SIGNED_DATA = '1.2.840.113549.1.7.2';
const ID_CE_KEY_USAGE = '2.5.29.15';
const ID_CE_EXT_KEY_USAGE = '2.5.29.37';
/** id-kp-codeSigning (RFC 5280 §4.2.1.12). */
export const OID_CODE_SIGNING = '1.3.6.1.5.5.7.3.3';
/** anyExtendedKeyUsage: no restriction of purpose (RFC 5280 §4.2.1.12). */
const OID_ANY_EKU = '2.5.29.37.0';
/** Key Usage bits (RFC 5280 §4.2.1.3), numbered from the first bit of the BIT STRING. */
const KU_DIGITAL_SIGNATURE = 0;
const KU_NON_REPUDIATION = 1;

/** pkijs and asn1js, loaded on first use (they cost tens of ms of start-up; most feeds sign otherwise). */
const pki = (): typeof pkijs => require('pkijs') as typeof pkijs;
const asn1Lib = (): typeof import('asn1js') => require('asn1js') as typeof import('asn1js');

function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

/**
 * The DER bytes of a CMS signature given as DER, as PEM (`-----BEGIN CMS-----`, `PKCS7` or
 * `PKCS #7 SIGNED DATA`), or as bare base64 text (a JSON `signature` field). Null when none fits.
 */
export function cmsDer(input: Uint8Array | string): Buffer | null {
  const bytes = typeof input === 'string' ? Buffer.from(input, 'utf8') : Buffer.from(input);
  if (bytes.length > 0 && bytes[0] === 0x30) return bytes;
  const text = bytes.toString('latin1');
  const pem = /-----BEGIN ([A-Z0-9 #]+)-----([\s\S]*?)-----END \1-----/.exec(text);
  const body = (pem ? pem[2]! : text).replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(body)) return null;
  const der = Buffer.from(body, 'base64');
  return der.length > 0 && der[0] === 0x30 ? der : null;
}

function subjectOf(cert: pkijs.Certificate): string {
  const cn = cert.subject.typesAndValues.find((tv) => tv.type === '2.5.4.3');
  return cn ? `"${String(cn.value.valueBlock.value)}"` : 'an unnamed subject';
}

function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (err && typeof err === 'object' && 'message' in err) return String((err as { message: unknown }).message);
  return String(err);
}

function derOf(cert: pkijs.Certificate): Buffer {
  return Buffer.from(cert.toSchema().toBER(false));
}

function validAt(cert: X509Certificate, now: Date): boolean {
  return Date.parse(cert.validFrom) <= now.getTime() && now.getTime() <= Date.parse(cert.validTo);
}

/** True when bit `n` (0 = most significant bit of the first content byte) of a DER BIT STRING is set. */
function bitSet(bits: import('asn1js').BitString, n: number): boolean {
  const bytes = new Uint8Array(bits.valueBlock.valueHexView);
  const byte = bytes[n >> 3];
  return byte !== undefined && (byte & (0x80 >> (n & 7))) !== 0;
}

/**
 * Why `cert` may not sign releases at `now`, or null when it may (the rules in this module's
 * header: validity period, Extended Key Usage allowing code signing, Key Usage allowing
 * signatures). An extension that cannot be parsed counts as unfit.
 */
export function signerUnfitReason(cert: pkijs.Certificate, now: Date): string | null {
  const x = new X509Certificate(derOf(cert));
  if (!validAt(x, now)) {
    return `its certificate is not valid at ${now.toISOString()} (valid from ${new Date(x.validFrom).toISOString()} to ${new Date(x.validTo).toISOString()})`;
  }
  for (const ext of cert.extensions ?? []) {
    if (ext.extnID === ID_CE_EXT_KEY_USAGE) {
      const purposes = ext.parsedValue instanceof pki().ExtKeyUsage ? ext.parsedValue.keyPurposes : null;
      if (purposes === null) return 'its Extended Key Usage extension cannot be read';
      if (!purposes.includes(OID_CODE_SIGNING) && !purposes.includes(OID_ANY_EKU)) {
        return `its Extended Key Usage (${purposes.join(', ') || 'empty'}) does not include code signing (${OID_CODE_SIGNING})`;
      }
    } else if (ext.extnID === ID_CE_KEY_USAGE) {
      const bits = ext.parsedValue instanceof asn1Lib().BitString ? ext.parsedValue : null;
      if (bits === null) return 'its Key Usage extension cannot be read';
      if (!bitSet(bits, KU_DIGITAL_SIGNATURE) && !bitSet(bits, KU_NON_REPUDIATION)) return 'its Key Usage allows neither digitalSignature nor nonRepudiation';
    }
  }
  return null;
}

/**
 * The trusted certificate that vouches for `signerCert` at `now`: one holding the same public key
 * (pinned; the configured certificate must be valid at `now`), else one the signer chains to
 * through the embedded intermediates (pkijs chain validation, dates checked at `now`). A string
 * says why none does.
 */
async function trustAnchorOf(
  signerCert: pkijs.Certificate,
  embedded: pkijs.Certificate[],
  anchors: Array<{ key: X509TrustedKey; cert: pkijs.Certificate }>,
  now: Date,
): Promise<X509TrustedKey | string> {
  if (anchors.length === 0) return 'no x509 certificate is trusted';
  const signerDer = derOf(signerCert);
  const spki = new X509Certificate(signerDer).publicKey.export({ type: 'spki', format: 'der' });
  const keyId = `x509:${createHash('sha256').update(spki).digest('hex')}`;
  const pinned = anchors.find((a) => a.key.id === keyId);
  if (pinned) {
    return validAt(pinned.key.certificate, now) ? pinned.key : `the trusted certificate ${pinned.key.label} is not valid at ${now.toISOString()}`;
  }
  // Intermediates only: self-signed certificates inside the signature are never anchors, and
  // pkijs' path building can fail when unrelated roots are offered alongside the trusted one.
  const intermediates = embedded.filter((c) => !derOf(c).equals(signerDer) && !c.issuer.isEqual(c.subject));
  let why = 'its certificate is not a trusted certificate nor issued by one';
  for (const a of anchors) {
    const engine = new (pki().CertificateChainValidationEngine)({ trustedCerts: [a.cert], certs: [...intermediates, signerCert], checkDate: now });
    try {
      const r = await engine.verify();
      if (r.result) return a.key;
      if (!/No valid certificate paths found/i.test(r.resultMessage)) why = `${why} (${r.resultMessage})`;
    } catch (err) {
      why = `${why} (${errorMessage(err)})`;
    }
  }
  return why;
}

function parseSignedData(der: Buffer): pkijs.SignedData {
  const asn1 = asn1Lib().fromBER(toArrayBuffer(der));
  if (asn1.offset === -1) throw new Error(`not DER: ${asn1.result.error}`);
  if (asn1.offset !== der.length) throw new Error('trailing bytes after the DER structure');
  const info = new (pki().ContentInfo)({ schema: asn1.result });
  if (info.contentType !== ID_SIGNED_DATA) throw new Error(`content type ${info.contentType} is not SignedData`);
  return new (pki().SignedData)({ schema: info.content });
}

/**
 * Verifies a detached CMS signature over `message` with the x509 keys among `keys` (others are
 * ignored). Never throws for bad input: malformed DER, a message mismatch, an untrusted or expired
 * signer certificate, or one not fit for code signing (`signerUnfitReason`) each add a `problems` line. `signers` holds the distinct ids of the trusted
 * certificates the valid SignerInfos were pinned or chained to. `now` is when certificates must be
 * valid (default: the current time).
 */
export async function verifyCms(message: Uint8Array, signature: Uint8Array | string, keys: readonly TrustedKey[], o: { now?: Date } = {}): Promise<SignatureResult> {
  const size = typeof signature === 'string' ? Buffer.byteLength(signature) : signature.length;
  if (size > MAX_CMS_SIGNATURE_BYTES) return failedResult('cms', `CMS signature of ${size} bytes; at most ${MAX_CMS_SIGNATURE_BYTES} are accepted`);
  const der = cmsDer(signature);
  if (!der) return failedResult('cms', 'Malformed CMS signature: not DER, PEM or base64 of DER');
  let signed: pkijs.SignedData;
  try {
    signed = parseSignedData(der);
  } catch (err) {
    return failedResult('cms', `Malformed CMS signature: ${errorMessage(err)}`);
  }
  const count = signed.signerInfos.length;
  if (count === 0) return failedResult('cms', 'The CMS signature has no signer');
  if (count > MAX_CMS_SIGNERS) return failedResult('cms', `The CMS signature has ${count} signers; at most ${MAX_CMS_SIGNERS} are accepted`);
  const eContent = signed.encapContentInfo.eContent;
  if (eContent) {
    const embedded = Buffer.from(eContent.getValue());
    if (!embedded.equals(Buffer.from(message))) return failedResult('cms', 'The CMS signature embeds content that differs from the data');
  }
  if (message.length === 0) return failedResult('cms', 'A CMS signature cannot be checked over empty data');
  const trusted = keys.filter((k): k is X509TrustedKey => k.kind === 'x509');
  const anchors = trusted.map((k) => ({ key: k, cert: pki().Certificate.fromBER(toArrayBuffer(k.der)) }));
  const embedded = (signed.certificates ?? []).filter((c): c is pkijs.Certificate => c instanceof pki().Certificate);
  // A signer certificate may be left out of the SignedData (openssl -nocerts) when the trusted
  // certificate is the signer's own: offer the trusted ones for the signer lookup too.
  const embeddedDer = embedded.map(derOf);
  signed.certificates = [...(signed.certificates ?? []), ...anchors.filter((a) => !embeddedDer.some((d) => d.equals(a.key.der))).map((a) => a.cert)];
  const data = toArrayBuffer(message);
  const now = o.now ?? systemClock.now();

  const signers: string[] = [];
  const signerLabels: string[] = [];
  const problems: string[] = [];
  for (let i = 0; i < count; i++) {
    let signerCert: pkijs.Certificate;
    try {
      const r = await signed.verify({ signer: i, data, checkChain: false, extendedMode: true, checkDate: now });
      if (!r.signatureVerified || !r.signerCertificate) throw new Error(r.message || 'signature does not verify');
      signerCert = r.signerCertificate;
    } catch (err) {
      problems.push(`CMS signer ${i + 1}: ${errorMessage(err).replace(/^Error during verification: /, '')}`);
      continue;
    }
    const found = await trustAnchorOf(signerCert, embedded, anchors, now);
    if (typeof found === 'string') {
      problems.push(`CMS signature by ${subjectOf(signerCert)}: ${found}`);
      continue;
    }
    const unfit = signerUnfitReason(signerCert, now);
    if (unfit !== null) {
      problems.push(`CMS signature by ${subjectOf(signerCert)}: ${unfit}`);
      continue;
    }
    if (!signers.includes(found.id)) {
      signers.push(found.id);
      signerLabels.push(found.label);
    }
  }
  return { kind: 'cms', signers, signerLabels, problems };
}
