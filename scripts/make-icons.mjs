#!/usr/bin/env node
// Generates Upkeep's icons as PNG files, deterministically (same bytes on every run), with
// node:zlib only: the app icon (resources/icon.png, 512x512), the Linux icon set
// (resources/icons/<size>x<size>.png) and the tray icons (resources/tray/tray-<state>[Template][@2x].png).
// Written by hand because no installed package renders vector shapes to PNG without native code.
//
// Shapes are signed-distance tests evaluated on a 4x4 subpixel grid per pixel (anti-aliasing).
// Colour icons: a rounded square in the state colour with a white glyph. macOS template icons:
// the same square in black with the glyph cut out (alpha only), which the menu bar tints itself.
//
// Usage: node scripts/make-icons.mjs [outDir=resources]
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import zlib from 'node:zlib';

const OUT = path.resolve(process.argv[2] ?? 'resources');

// ---- PNG encoding -------------------------------------------------------------------------
function chunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(zlib.crc32(td) >>> 0);
  return Buffer.concat([len, td, crc]);
}

/** RGBA8 pixels (Uint8Array, row-major) to PNG bytes. */
export function encodePng(width, height, rgba) {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 6; // colour type RGBA
  ihdr[10] = 0;
  ihdr[11] = 0;
  ihdr[12] = 0;
  const raw = Buffer.alloc((width * 4 + 1) * height);
  for (let y = 0; y < height; y++) {
    raw[y * (width * 4 + 1)] = 0; // filter: none
    Buffer.from(rgba.buffer, rgba.byteOffset + y * width * 4, width * 4).copy(raw, y * (width * 4 + 1) + 1);
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', zlib.deflateSync(raw, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

// ---- Shapes in unit coordinates (0..1, y down) -----------------------------------------------
const roundedSquare = (inset, radius) => (x, y) => {
  const c = 0.5, h = 0.5 - inset - radius;
  const qx = Math.abs(x - c) - h, qy = Math.abs(y - c) - h;
  const outside = Math.hypot(Math.max(qx, 0), Math.max(qy, 0));
  return outside + Math.min(Math.max(qx, qy), 0) - radius <= 0;
};

function segDist(px, py, ax, ay, bx, by) {
  const vx = bx - ax, vy = by - ay;
  const t = Math.max(0, Math.min(1, ((px - ax) * vx + (py - ay) * vy) / (vx * vx + vy * vy)));
  return Math.hypot(px - (ax + t * vx), py - (ay + t * vy));
}

const polyline = (points, width) => (x, y) => {
  for (let i = 0; i + 1 < points.length; i++) {
    if (segDist(x, y, ...points[i], ...points[i + 1]) <= width / 2) return true;
  }
  return false;
};

const disc = (cx, cy, r) => (x, y) => Math.hypot(x - cx, y - cy) <= r;

const triangle = (a, b, c) => (x, y) => {
  const s = (p, q) => (x - q[0]) * (p[1] - q[1]) - (p[0] - q[0]) * (y - q[1]);
  const d1 = s(a, b), d2 = s(b, c), d3 = s(c, a);
  const neg = d1 < 0 || d2 < 0 || d3 < 0, pos = d1 > 0 || d2 > 0 || d3 > 0;
  return !(neg && pos);
};

/** Arc of radius r around (cx, cy) from angle a0 to a1 (degrees, clockwise on screen), round caps. */
const arc = (cx, cy, r, a0, a1, width) => {
  const rad = (d) => (d * Math.PI) / 180;
  const end = (a) => [cx + r * Math.cos(rad(a)), cy + r * Math.sin(rad(a))];
  const [e0, e1] = [end(a0), end(a1)];
  return (x, y) => {
    let a = (Math.atan2(y - cy, x - cx) * 180) / Math.PI;
    while (a < a0) a += 360;
    if (a <= a1 && Math.abs(Math.hypot(x - cx, y - cy) - r) <= width / 2) return true;
    return Math.hypot(x - e0[0], y - e0[1]) <= width / 2 || Math.hypot(x - e1[0], y - e1[1]) <= width / 2;
  };
};

/** Arrowhead at the end of an arc (pointing along the clockwise direction). */
const arcHead = (cx, cy, r, a, size) => {
  const t = (a * Math.PI) / 180;
  const p = [cx + r * Math.cos(t), cy + r * Math.sin(t)];
  const n = [Math.cos(t), Math.sin(t)]; // radial
  const d = [-Math.sin(t), Math.cos(t)]; // tangent, clockwise on screen
  return triangle(
    [p[0] + n[0] * size, p[1] + n[1] * size],
    [p[0] - n[0] * size, p[1] - n[1] * size],
    [p[0] + d[0] * size * 1.2, p[1] + d[1] * size * 1.2],
  );
};

const union = (...fs) => (x, y) => fs.some((f) => f(x, y));

// ---- Glyphs --------------------------------------------------------------------------------
const W = 0.12; // stroke width of tray glyphs
const GLYPHS = {
  'up-to-date': polyline([[0.27, 0.52], [0.44, 0.69], [0.74, 0.36]], W),
  available: union(polyline([[0.5, 0.24], [0.5, 0.56]], W), triangle([0.27, 0.5], [0.73, 0.5], [0.5, 0.77])),
  critical: union(polyline([[0.5, 0.24], [0.5, 0.55]], W * 1.1), disc(0.5, 0.73, 0.075)),
  working: union(arc(0.5, 0.5, 0.23, -50, 215, W), arcHead(0.5, 0.5, 0.23, 215, 0.16)),
  error: union(polyline([[0.32, 0.32], [0.68, 0.68]], W), polyline([[0.68, 0.32], [0.32, 0.68]], W)),
};

const COLOURS = {
  'up-to-date': [0x1f, 0x9d, 0x55], // green
  available: [0x25, 0x63, 0xeb], // blue
  critical: [0xdc, 0x26, 0x26], // red
  working: [0xf5, 0x9e, 0x0b], // amber
  error: [0xb9, 0x1c, 0x1c], // dark red
};

const APP_GLYPH = union(
  arc(0.5, 0.5, 0.27, -40, 250, 0.07),
  arcHead(0.5, 0.5, 0.27, 250, 0.085),
  polyline([[0.37, 0.51], [0.46, 0.6], [0.64, 0.41]], 0.07),
);

/** Rasterises: `bg` (shape) in `colour` with `glyph` in white, or a template (black shape, glyph cut out). */
function render(size, { bg, glyph, colour, template }) {
  const px = new Uint8Array(size * size * 4);
  const N = 4;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      let cover = 0, glyphCover = 0;
      for (let sy = 0; sy < N; sy++) {
        for (let sx = 0; sx < N; sx++) {
          const u = (x + (sx + 0.5) / N) / size, v = (y + (sy + 0.5) / N) / size;
          if (bg(u, v)) {
            cover++;
            if (glyph(u, v)) glyphCover++;
          }
        }
      }
      const i = (y * size + x) * 4;
      const total = N * N;
      if (template) {
        px[i] = px[i + 1] = px[i + 2] = 0;
        px[i + 3] = Math.round(((cover - glyphCover) / total) * 255);
      } else if (cover > 0) {
        const g = glyphCover / cover; // share of white inside the covered area
        px[i] = Math.round(colour[0] * (1 - g) + 255 * g);
        px[i + 1] = Math.round(colour[1] * (1 - g) + 255 * g);
        px[i + 2] = Math.round(colour[2] * (1 - g) + 255 * g);
        px[i + 3] = Math.round((cover / total) * 255);
      }
    }
  }
  return encodePng(size, size, px);
}

/**
 * An ICO file holding PNG images (the Windows Vista+ ICO format: ICONDIR, one ICONDIRENTRY per
 * image, then the PNG bytes). Windows picks the size it needs; Electron's Tray on Windows wants
 * .ico for a crisp icon at every DPI. Own code: the format is three small little-endian headers.
 */
export function pngsToIco(images) {
  const header = Buffer.alloc(6 + 16 * images.length);
  header.writeUInt16LE(0, 0);
  header.writeUInt16LE(1, 2);
  header.writeUInt16LE(images.length, 4);
  let offset = header.length;
  images.forEach(({ size, png }, i) => {
    const e = 6 + 16 * i;
    header.writeUInt8(size >= 256 ? 0 : size, e);
    header.writeUInt8(size >= 256 ? 0 : size, e + 1);
    header.writeUInt16LE(1, e + 4);
    header.writeUInt16LE(32, e + 6);
    header.writeUInt32LE(png.length, e + 8);
    header.writeUInt32LE(offset, e + 12);
    offset += png.length;
  });
  return Buffer.concat([header, ...images.map((im) => im.png)]);
}

function write(rel, bytes) {
  const file = path.join(OUT, rel);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, bytes);
  return rel;
}

export const TRAY_STATES = ['up-to-date', 'available', 'critical', 'working', 'error'];
export const LINUX_SIZES = [16, 32, 48, 64, 128, 256, 512];

function main() {
  const written = [];
  const trayBg = roundedSquare(0.06, 0.2);
  for (const state of TRAY_STATES) {
    const spec = { bg: trayBg, glyph: GLYPHS[state], colour: COLOURS[state] };
    written.push(write(`tray/tray-${state}.png`, render(16, spec)));
    written.push(write(`tray/tray-${state}@2x.png`, render(32, spec)));
    written.push(write(`tray/tray-${state}Template.png`, render(16, { ...spec, template: true })));
    written.push(write(`tray/tray-${state}Template@2x.png`, render(32, { ...spec, template: true })));
    written.push(write(`tray/tray-${state}.ico`, pngsToIco([16, 24, 32, 48].map((size) => ({ size, png: render(size, spec) })))));
  }
  const appSpec = { bg: roundedSquare(0.06, 0.2), glyph: APP_GLYPH, colour: [0x0f, 0x76, 0x6e] };
  written.push(write('icon.png', render(512, appSpec)));
  for (const s of LINUX_SIZES) written.push(write(`icons/${s}x${s}.png`, render(s, appSpec)));
  written.push(write('icon.ico', pngsToIco([16, 24, 32, 48, 64, 128, 256].map((size) => ({ size, png: render(size, appSpec) })))));
  console.log(`wrote ${written.length} icons under ${path.relative(process.cwd(), OUT) || '.'}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) main();
