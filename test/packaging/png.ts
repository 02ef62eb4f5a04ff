// Minimal PNG reader for the packaging tests: IHDR fields and RGBA pixels of 8-bit RGBA,
// non-interlaced images (what scripts/make-icons.mjs writes), with all five row filters.
import fs from 'node:fs';
import zlib from 'node:zlib';

export interface Png {
  width: number;
  height: number;
  colorType: number;
  bitDepth: number;
  rgba: Uint8Array;
}

export function readPng(file: string): Png {
  const b = fs.readFileSync(file);
  if (!b.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) throw new Error(`${file}: not a PNG`);
  let o = 8;
  let width = 0, height = 0, bitDepth = 0, colorType = 0;
  const idat: Buffer[] = [];
  while (o < b.length) {
    const len = b.readUInt32BE(o);
    const type = b.toString('ascii', o + 4, o + 8);
    const data = b.subarray(o + 8, o + 8 + len);
    const crc = b.readUInt32BE(o + 8 + len);
    if ((zlib.crc32(b.subarray(o + 4, o + 8 + len)) >>> 0) !== crc) throw new Error(`${file}: bad CRC in ${type}`);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      bitDepth = data[8];
      colorType = data[9];
    } else if (type === 'IDAT') idat.push(data);
    else if (type === 'IEND') break;
    o += 12 + len;
  }
  const raw = zlib.inflateSync(Buffer.concat(idat));
  const rgba = new Uint8Array(width * height * 4);
  if (colorType === 6 && bitDepth === 8) {
    const stride = width * 4;
    for (let y = 0; y < height; y++) {
      const f = raw[y * (stride + 1)];
      for (let x = 0; x < stride; x++) {
        const v = raw[y * (stride + 1) + 1 + x];
        const a = x >= 4 ? rgba[y * stride + x - 4] : 0;
        const up = y > 0 ? rgba[(y - 1) * stride + x] : 0;
        const c = x >= 4 && y > 0 ? rgba[(y - 1) * stride + x - 4] : 0;
        const p = a + up - c;
        const pa = Math.abs(p - a), pb = Math.abs(p - up), pc = Math.abs(p - c);
        const paeth = pa <= pb && pa <= pc ? a : pb <= pc ? up : c;
        const pred = [0, a, up, (a + up) >> 1, paeth][f];
        rgba[y * stride + x] = (v + pred) & 0xff;
      }
    }
  }
  return { width, height, colorType, bitDepth, rgba };
}
