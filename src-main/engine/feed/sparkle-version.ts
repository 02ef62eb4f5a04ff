/**
 * Sparkle's version ordering (its `SUStandardVersionComparator`), which appcasts are written for:
 * not SemVer. A version string is split into parts by character class — runs of digits, runs of
 * other characters, and each separator ('.' or whitespace) on its own — and compared part by part:
 * numbers numerically, strings as text, a number beats a string ("1.0.1" > "1.0b1"), a number
 * beats a separator; when one string runs out, the rest of the longer one decides: a string part
 * makes it older ("1.0b1" < "1.0"), remaining separators and zeros make them equal ("1.0" ==
 * "1.0.0"), anything else makes it newer.
 *
 * Own code: no npm package implements Sparkle's ordering, and it is a few lines.
 */

type PartKind = 'number' | 'string' | 'separator';

interface Part {
  kind: PartKind;
  text: string;
}

function kindOf(ch: string): PartKind {
  if (ch >= '0' && ch <= '9') return 'number';
  if (ch === '.' || /\s/.test(ch)) return 'separator';
  return 'string';
}

/** The parts of a version string, Sparkle's way (each separator is a part of its own). */
export function splitSparkleVersion(version: string): Part[] {
  const parts: Part[] = [];
  for (const ch of version.trim()) {
    const kind = kindOf(ch);
    const last = parts[parts.length - 1];
    if (last && last.kind === kind && kind !== 'separator') last.text += ch;
    else parts.push({ kind, text: ch });
  }
  return parts;
}

function compareNumbers(a: string, b: string): number {
  // Digit runs can be longer than a double's precision: compare without leading zeros, by length then text.
  const x = a.replace(/^0+(?=\d)/, '');
  const y = b.replace(/^0+(?=\d)/, '');
  if (x.length !== y.length) return x.length < y.length ? -1 : 1;
  return x < y ? -1 : x > y ? 1 : 0;
}

/** -1, 0 or 1 for the rest of a longer version after the common parts (see module doc). */
function tailOrder(rest: Part[]): number {
  for (const p of rest) {
    if (p.kind === 'separator') continue;
    if (p.kind === 'number' && /^0+$/.test(p.text)) continue;
    return p.kind === 'string' ? -1 : 1;
  }
  return 0;
}

/** Negative when a is older than b, 0 when Sparkle treats them as the same, positive when newer. */
export function compareSparkleVersions(a: string, b: string): number {
  const pa = splitSparkleVersion(a);
  const pb = splitSparkleVersion(b);
  const n = Math.min(pa.length, pb.length);
  for (let i = 0; i < n; i++) {
    const x = pa[i]!;
    const y = pb[i]!;
    if (x.kind === y.kind) {
      if (x.kind === 'number') {
        const c = compareNumbers(x.text, y.text);
        if (c !== 0) return c;
      } else if (x.kind === 'string') {
        if (x.text !== y.text) return x.text < y.text ? -1 : 1;
      }
      continue;
    }
    if (x.kind === 'string') return -1;
    if (y.kind === 'string') return 1;
    return x.kind === 'number' ? 1 : -1;
  }
  if (pa.length > n) return tailOrder(pa.slice(n));
  if (pb.length > n) return 0 - tailOrder(pb.slice(n)) || 0;
  return 0;
}
