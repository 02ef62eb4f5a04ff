/**
 * Ctrl-C during `upkeep apply` while the download runs: the real CLI process cancels (message on
 * its own line, exit 1, ERR_CANCELLED), records a `cancelled` history row and leaves the
 * installed tree as it was.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawn } from 'node:child_process';
import { createReadStream, promises as fsp } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { BIN, runCli } from '../helpers/cli';
import { Fixture } from '../daemon/helpers';

describe('SIGINT during a CLI apply', () => {
  let fx: Fixture;
  let server: http.Server;
  const stalled = new Set<http.ServerResponse>();
  let downloading!: () => void;
  const downloadStarted = new Promise<void>((r) => (downloading = r));
  const big = 'y'.repeat(200 * 1024);

  beforeAll(async () => {
    fx = await Fixture.create('upkeep-cli-cancel-');
    server = http.createServer((req, res) => {
      const file = path.join(fx.feedDir, decodeURIComponent(new URL(req.url ?? '/', 'http://h').pathname));
      void fsp.readFile(file).then((bytes) => {
        res.writeHead(200, { 'content-length': String(bytes.length) });
        if (bytes.length === big.length) {
          res.write(bytes.subarray(0, 1024));
          stalled.add(res);
          downloading();
          return;
        }
        createReadStream(file).pipe(res);
      }, () => res.writeHead(404).end());
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    await fx.publish('1.0.0', { 'bin/demo': 'v1' });
    await fx.writeConfig(fx.configText().replace(`feed: { url: ${JSON.stringify(fx.feedDir)} }`, `feed: { url: ${JSON.stringify(url)} }`));
    const first = await runCli(['--config', fx.configPath, 'apply', 'demo'], { timeoutMs: 120_000 });
    expect(first.code, first.stderr).toBe(0);
    await fx.publish('1.1.0', { 'bin/demo': 'v2', 'share/big.bin': big });
  });

  afterAll(async () => {
    for (const r of stalled) r.destroy();
    await new Promise((r) => server?.close(r));
    await fx?.cleanup();
  });

  it('cancels: exit 1, ERR_CANCELLED on its own line, history row cancelled, tree unchanged', async () => {
    const child = spawn(process.execPath, [BIN, '--config', fx.configPath, 'apply', 'demo'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    await downloadStarted;
    child.kill('SIGINT');
    const code = await exited;
    expect(code, stderr).toBe(1);
    expect(stderr).toMatch(/SIGINT: cancelling apply of demo\n/);
    expect(stderr).toMatch(/(^|\n)error: .*\(ERR_CANCELLED\)/);
    expect(await fsp.readFile(path.join(fx.installDir, 'bin', 'demo'), 'utf8')).toBe('v1');
    const hist = await runCli(['--config', fx.configPath, '--json', 'history', 'demo']);
    const rows = JSON.parse(hist.stdout) as Array<{ operation: string; result: string; error_code: string | null }>;
    expect(rows[0]).toMatchObject({ operation: 'apply', result: 'cancelled', error_code: 'ERR_CANCELLED' });
  });
});
