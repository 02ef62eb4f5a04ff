import { describe, it, expect, afterEach } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { readPng } from './png';

const ROOT = process.cwd();
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function listPngs(dir: string, base = dir): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? listPngs(path.join(dir, e.name), base) : e.name.endsWith('.png') ? [path.relative(base, path.join(dir, e.name))] : [])).sort();
}

describe('scripts/make-icons.mjs', () => {
  it('regenerates exactly the committed icons (deterministic output)', () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'upkeep-icons-'));
    dirs.push(out);
    const r = spawnSync(process.execPath, [path.join(ROOT, 'scripts/make-icons.mjs'), out], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const generated = listPngs(out);
    expect(generated).toHaveLength(28);
    for (const rel of generated) {
      expect(fs.readFileSync(path.join(out, rel)).equals(fs.readFileSync(path.join(ROOT, 'resources', rel))), rel).toBe(true);
    }
    for (const rel of ['icon.ico', ...['up-to-date', 'available', 'critical', 'working', 'error'].map((st) => `tray/tray-${st}.ico`)]) {
      const ico = fs.readFileSync(path.join(out, rel));
      expect(ico.equals(fs.readFileSync(path.join(ROOT, 'resources', rel))), rel).toBe(true);
      // ICONDIR: reserved 0, type 1 (icon), then entries whose PNG payloads start with the PNG signature.
      expect([ico.readUInt16LE(0), ico.readUInt16LE(2)]).toEqual([0, 1]);
      const count = ico.readUInt16LE(4);
      expect(count).toBeGreaterThanOrEqual(4);
      for (let i = 0; i < count; i++) {
        const size = ico.readUInt32LE(6 + 16 * i + 8);
        const offset = ico.readUInt32LE(6 + 16 * i + 12);
        expect(ico.subarray(offset, offset + 8).toString('hex')).toBe('89504e470d0a1a0a');
        expect(offset + size).toBeLessThanOrEqual(ico.length);
      }
    }
    const icon = readPng(path.join(out, 'icon.png'));
    // Transparent corners (rounded square), opaque centre.
    expect(icon.rgba[3]).toBe(0);
    expect(icon.rgba[(256 * 512 + 256) * 4 + 3]).toBe(255);
  });
});
