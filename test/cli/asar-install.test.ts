/**
 * A managed install that is itself an Electron app ships `resources/app.asar`. The engine treats
 * it as the file it is: apply, update and rollback keep its bytes exactly (under Electron the main
 * build routes every fs call through original-fs for this; see test/packaging/main-bundle.test.ts).
 */
import { describe, it, expect, afterAll } from 'vitest';
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { runCli } from '../helpers/cli';
import { tempDir, writeTree } from '../helpers/tree';

/** Bytes in the asar layout: a Chromium Pickle with the JSON header, then the file data. */
function asar(files: Record<string, string>): Buffer {
  let offset = 0;
  const entries: Record<string, { size: number; offset: string }> = {};
  for (const [name, data] of Object.entries(files)) {
    entries[name] = { size: Buffer.byteLength(data), offset: String(offset) };
    offset += Buffer.byteLength(data);
  }
  const json = Buffer.from(JSON.stringify({ files: entries }));
  const padded = Math.ceil(json.length / 4) * 4;
  const header = Buffer.alloc(16 + padded);
  header.writeUInt32LE(4, 0);
  header.writeUInt32LE(8 + padded, 4);
  header.writeUInt32LE(4 + padded, 8);
  header.writeUInt32LE(json.length, 12);
  json.copy(header, 16);
  return Buffer.concat([header, ...Object.values(files).map((d) => Buffer.from(d))]);
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
let dir = '';
afterAll(async () => {
  if (dir) await fsp.rm(dir, { recursive: true, force: true });
});

describe('an install containing app.asar', () => {
  it('applies, updates and rolls back the archive byte for byte', async () => {
    dir = await tempDir('upkeep-asar-');
    const keys = path.join(dir, 'keys');
    expect((await runCli(['release', 'keygen', '--out', keys])).code).toBe(0);
    const v1 = asar({ 'package.json': '{"name":"app","version":"1.0.0"}', 'main.js': 'console.log(1)' });
    const v2 = asar({ 'package.json': '{"name":"app","version":"2.0.0"}', 'main.js': 'console.log(2)', 'extra.js': 'x' });
    for (const [v, bytes] of [['1.0.0', v1], ['2.0.0', v2]] as const) {
      await writeTree(path.join(dir, `b${v}`), { 'resources/app.asar': { data: bytes }, 'app-bin': { data: `bin ${v}`, mode: 0o755 } });
      const r = await runCli(['release', 'publish', path.join(dir, `b${v}`), '--feed', path.join(dir, 'feed'), '--product', 'app', '--version', v, '--key', path.join(keys, 'upkeep.key')]);
      expect(r.code, r.stderr).toBe(0);
    }
    const pub = (await fsp.readFile(path.join(keys, 'upkeep.pub'), 'utf8')).trim();
    const config = path.join(dir, 'upkeep.yaml');
    await fsp.writeFile(config, ['state_dir: ./state', 'targets:', '  - id: app', '    kind: files', '    install_dir: ./install', '    product: app', '    feed: { url: ./feed }', `    trust: { keys: [${JSON.stringify(pub)}] }`].join('\n'));
    const archive = path.join(dir, 'install', 'resources', 'app.asar');

    expect((await runCli(['--config', config, 'apply', '--version', '1.0.0'])).code).toBe(0);
    expect(sha(await fsp.readFile(archive))).toBe(sha(v1));
    const up = await runCli(['--config', config, 'apply']);
    expect(up.code, up.stderr).toBe(0);
    expect(sha(await fsp.readFile(archive))).toBe(sha(v2));
    expect((await fsp.lstat(archive)).isFile()).toBe(true);
    const back = await runCli(['--config', config, 'rollback']);
    expect(back.code, back.stderr).toBe(0);
    expect(sha(await fsp.readFile(archive))).toBe(sha(v1));
  });
});
