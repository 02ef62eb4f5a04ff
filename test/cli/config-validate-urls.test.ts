/**
 * `upkeep config validate` prints the URLs each feed will fetch first — built with WHATWG URL, the
 * feed path as root with or without '/', the query kept (values elided) — and whether each goes
 * through the proxy (config `proxy:` or HTTPS_PROXY, NO_PROXY honoured) or direct.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { generateKeyPairSync } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCli } from '../helpers/cli';

let dir: string;
const key = () => `ed25519:${generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' }).subarray(12).toString('base64')}`;

beforeEach(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'upkeep-validate-urls-'));
});
afterEach(async () => fsp.rm(dir, { recursive: true, force: true }));

async function config(lines: string[]): Promise<string> {
  const file = path.join(dir, 'upkeep.yaml');
  await fsp.writeFile(file, ['state_dir: ./state', ...lines].join('\n') + '\n');
  return file;
}

const target = (id: string, url: string) => [
  `  - id: ${id}`,
  '    kind: files',
  `    install_dir: ./${id}`,
  '    product: demo',
  `    feed: { url: "${url}" }`,
  `    trust: { keys: ["${key()}"], threshold: 1 }`,
];

describe('config validate prints the URLs it will fetch', () => {
  it('native feeds with and without a trailing slash and a token query; proxy from the environment; NO_PROXY direct', async () => {
    const file = await config(['targets:', ...target('a', 'https://updates.example.com/feed?token=abc'), ...target('b', 'https://mirror.internal/feed/'), '    channel: beta']);
    const r = await runCli(['config', 'validate', file], { env: { HTTPS_PROXY: 'http://proxy.corp:3128', NO_PROXY: '.internal', https_proxy: undefined, no_proxy: undefined } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('a (native feed) fetches:\n  GET https://updates.example.com/feed/channels/stable.json?token=…  via proxy http://proxy.corp:3128/');
    expect(r.stdout).toContain('b (native feed) fetches:\n  GET https://mirror.internal/feed/channels/beta.json  (direct)');
    expect(r.stdout).not.toContain('abc');
  });

  it('the config proxy wins over the environment and never prints its credentials (--json)', async () => {
    const file = await config(['proxy: { url: "http://user:secret@proxy.corp:8080" }', 'targets:', ...target('a', 'https://updates.example.com/feed')]);
    const r = await runCli(['--json', 'config', 'validate', file], { env: { HTTPS_PROXY: 'http://other:1', https_proxy: undefined } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.json.requests).toEqual([
      expect.objectContaining({ target: 'a', feed_type: 'native', requests: [{ url: 'https://updates.example.com/feed/channels/stable.json', proxy: 'http://proxy.corp:8080/' }] }),
    ]);
    expect(r.stdout).not.toContain('secret');
  });

  it('a proxy that is not an http(s) URL is a config error naming the key', async () => {
    const file = await config(['proxy: "socks5://proxy:1080"', 'targets:', ...target('a', 'https://updates.example.com/feed')]);
    const r = await runCli(['config', 'validate', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/upkeep\.yaml:2:\d+: proxy: .*http/);
  });
});
