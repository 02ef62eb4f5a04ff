/**
 * Serialised JSON bodies of the status reads, kept per value. The core hands out the same view
 * object for as long as nothing it shows has changed (runner/live-state.ts) and the same check
 * result for as long as it is fresh, so a status route serialises each value once instead of once
 * per request: under load, JSON serialisation was most of what a status read cost.
 */

/** UTF-8 JSON bytes of values by identity; an entry goes away with its value. */
export class JsonMemo<K extends object> {
  private readonly bytes = new WeakMap<K, Buffer>();
  private lastArray: { items: readonly K[]; body: Buffer } | null = null;

  /** The JSON of `make(key)` (called once per key; the result must depend on `key` only). */
  of(key: K, make: (key: K) => unknown): Buffer {
    let b = this.bytes.get(key);
    if (!b) {
      b = Buffer.from(JSON.stringify(make(key)), 'utf8');
      this.bytes.set(key, b);
    }
    return b;
  }

  /** The JSON array of `items`, each element serialised once per identity. */
  array(items: readonly K[]): Buffer {
    const last = this.lastArray;
    if (last && last.items.length === items.length && last.items.every((x, i) => x === items[i])) return last.body;
    const parts: Buffer[] = [Buffer.from('[')];
    items.forEach((item, i) => {
      if (i > 0) parts.push(COMMA);
      parts.push(this.of(item, (x) => x));
    });
    parts.push(Buffer.from(']'));
    const body = Buffer.concat(parts);
    this.lastArray = { items: [...items], body };
    return body;
  }
}

const COMMA = Buffer.from(',');

/** The content type of the bodies above. */
export const JSON_TYPE = 'application/json; charset=utf-8';
