/**
 * Forward proxies: HTTPS_PROXY/HTTP_PROXY/NO_PROXY (and lower-case) and the config's `proxy:`
 * key, through Debian's tinyproxy on loopback — feed documents, downloads, the axios client of
 * the JSON API adapters and a whole engine apply; NO_PROXY bypasses it; a dead proxy fails the
 * request instead of silently going direct.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import axios from 'axios';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { fetchBytes } from '../../../src-main/engine/net/fetcher';
import { downloadFile } from '../../../src-main/engine/net/download';
import { applyProxyConfig, axiosProxyOptions, proxyFor, proxySettings } from '../../../src-main/engine/net/proxy';
import { FeedBuilder, engineFor, indexPayload, makeKey } from '../../helpers/feed-builder';
import { startTinyproxy, type Tinyproxy } from '../../helpers/tinyproxy';
import { errorOf, fastLimits, serveBytes, sha256Hex, startFaultServer, tempDir, testBytes, type FaultServer } from './fault-server';
import { startStaticServer } from './static-dir';

const PROXY_VARS = ['HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY', 'http_proxy', 'https_proxy', 'no_proxy'];
let saved: Record<string, string | undefined>;
let tmp: { dir: string; cleanup: () => Promise<void> };
let proxy: Tinyproxy;
let server: FaultServer;

beforeEach(async () => {
  saved = Object.fromEntries(PROXY_VARS.map((k) => [k, process.env[k]]));
  for (const k of PROXY_VARS) delete process.env[k];
  applyProxyConfig(undefined);
  tmp = await tempDir();
  proxy = await startTinyproxy(path.join(tmp.dir, 'proxy'));
  server = await startFaultServer();
});
afterEach(async () => {
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  applyProxyConfig(undefined);
  await server.close();
  await proxy.stop();
  await tmp.cleanup();
});

const hostPort = () => new URL(server.origin).host;

describe('proxy settings', () => {
  it('reads the environment like curl (lower-case wins, https falls back to http) and the config wins over it', () => {
    const env = { HTTP_PROXY: 'http://upper:1', http_proxy: 'http://lower:2', NO_PROXY: 'a.example' };
    expect(proxySettings(env, undefined)).toEqual({ http: 'http://lower:2', https: 'http://lower:2', noProxy: 'a.example', source: 'env' });
    expect(proxySettings({ HTTPS_PROXY: 'http://s:3' }, undefined)).toMatchObject({ http: '', https: 'http://s:3' });
    expect(proxySettings(env, 'http://cfg:4')).toEqual({ http: 'http://cfg:4', https: 'http://cfg:4', noProxy: 'a.example', source: 'config' });
    expect(proxySettings(env, false)).toEqual({ http: '', https: '', noProxy: '', source: 'config' });
    expect(proxySettings(env, { https: 'http://s:5', no_proxy: ['b.example', '.c.example'] })).toEqual({
      http: '', https: 'http://s:5', noProxy: 'b.example,.c.example', source: 'config',
    });
    expect(() => proxySettings({}, 'socks5://x:1')).toThrow(/socks5: proxies are not supported/);
  });

  it('NO_PROXY: *, host and subdomains, .host, *.host, host:port', () => {
    const s = (noProxy: string) => ({ http: 'http://p:1', https: 'http://p:1', noProxy, source: 'env' as const });
    expect(proxyFor('https://api.github.com/x', s(''))).toBe('http://p:1');
    expect(proxyFor('https://api.github.com/x', s('*'))).toBeNull();
    expect(proxyFor('https://api.github.com/x', s('github.com'))).toBeNull();
    expect(proxyFor('https://github.com/x', s('.github.com'))).toBeNull();
    expect(proxyFor('https://objects.github.com/x', s('*.github.com'))).toBeNull();
    expect(proxyFor('https://notgithub.com/x', s('github.com'))).toBe('http://p:1');
    expect(proxyFor('http://127.0.0.1:8080/x', s('127.0.0.1:9090'))).toBe('http://p:1');
    expect(proxyFor('http://127.0.0.1:8080/x', s('127.0.0.1:8080'))).toBeNull();
    expect(proxyFor('https://h/x', s('h:443'))).toBeNull();
    expect(proxyFor('file:///x', s(''))).toBeNull();
  });
});

describe('through tinyproxy', () => {
  it('HTTP_PROXY: a feed document goes through the proxy; NO_PROXY sends the next one direct', async () => {
    const data = testBytes(3000, 3);
    server.route('/feed/channels/stable.json', serveBytes(data));
    process.env.HTTP_PROXY = proxy.url;
    const r = await fetchBytes(server.url('/feed/channels/stable.json'), { maxBytes: 10_000, allowInsecureHttp: false, limits: fastLimits() });
    expect(r.notModified === false && Buffer.compare(r.bytes, data)).toBe(0);
    expect(await proxy.requests()).toEqual([`CONNECT ${hostPort()} HTTP/1.1`]);

    process.env.no_proxy = '127.0.0.1';
    await fetchBytes(server.url('/feed/channels/stable.json'), { maxBytes: 10_000, allowInsecureHttp: false, limits: fastLimits() });
    expect(await proxy.requests()).toHaveLength(1);
    expect(server.requestsTo('/feed/channels/stable.json')).toHaveLength(2);
  });

  it('config proxy: a download goes through it even with HTTP_PROXY pointing elsewhere', async () => {
    const data = testBytes(200_000, 9);
    server.route('/blob', serveBytes(data));
    process.env.HTTP_PROXY = 'http://127.0.0.1:9'; // discard port: would fail if used
    applyProxyConfig({ url: proxy.url });
    const dest = path.join(tmp.dir, 'out', 'blob');
    await downloadFile({ url: server.url('/blob'), dest, partial: `${dest}.part`, size: data.length, sha256: sha256Hex(data), allowInsecureHttp: false, limits: fastLimits() });
    expect(Buffer.compare(await fsp.readFile(dest), data)).toBe(0);
    expect(await proxy.requests()).toEqual([`CONNECT ${hostPort()} HTTP/1.1`]);
  });

  it('a proxy that does not answer fails the request (never a silent direct connection)', async () => {
    server.route('/x', serveBytes(Buffer.from('x')));
    applyProxyConfig('http://127.0.0.1:9');
    const err = await errorOf(fetchBytes(server.url('/x'), { maxBytes: 10, allowInsecureHttp: false, limits: fastLimits() }));
    expect(err.code).toBe('ERR_DOWNLOAD_FAILED');
    expect(server.requestsTo('/x')).toHaveLength(0);
  });

  it('axios (the JSON API client) goes through the proxy with axiosProxyOptions, and around it for NO_PROXY hosts', async () => {
    server.route('/api/releases', (_req, res) => void res.writeHead(200, { 'content-type': 'application/json' }).end('[{"tag_name":"v1.0.0"}]'));
    process.env.https_proxy = 'http://127.0.0.1:9';
    process.env.http_proxy = proxy.url;
    const url = server.url('/api/releases');
    const res = await axios.get(url, { ...axiosProxyOptions(url), timeout: 10_000 });
    expect(res.data).toEqual([{ tag_name: 'v1.0.0' }]);
    expect(await proxy.requests()).toEqual([`CONNECT ${hostPort()} HTTP/1.1`]);

    process.env.NO_PROXY = `localhost, 127.0.0.1:${new URL(server.origin).port}`;
    expect(axiosProxyOptions(url)).toEqual({ proxy: false });
    await axios.get(url, { ...axiosProxyOptions(url), timeout: 10_000 });
    expect(await proxy.requests()).toHaveLength(1);
    expect(server.requestsTo('/api/releases')).toHaveLength(2);
  });

  it('an engine check + apply sends the index, the manifest and every blob through the proxy from config', async () => {
    const key = makeKey();
    const feedDir = path.join(tmp.dir, 'feed');
    const fb = new FeedBuilder(feedDir);
    const rel = await fb.release('1.0.0', { 'bin/app': 'app 1.0.0\n', 'README': 'read me\n' }, [key]);
    await fb.index('stable', indexPayload(1, [rel]), [key]);
    const feedServer = await startStaticServer(feedDir, { prefix: '/feed/' });
    try {
      const work = path.join(tmp.dir, 'work');
      await fsp.mkdir(work);
      const engine = engineFor(work, `${feedServer.origin}/feed`, { keys: [key.line], threshold: 1 });
      engine.setConfig({ ...engine.config(), config: { ...engine.config().config, proxy: proxy.url } });
      const result = await engine.apply('demo');
      expect(result.version).toBe('1.0.0');
      expect(await fsp.readFile(path.join(work, 'install', 'bin', 'app'), 'utf8')).toBe('app 1.0.0\n');
      expect(feedServer.requests).toEqual(expect.arrayContaining(['/feed/channels/stable.json', '/feed/manifests/1.0.0.json']));
      expect(feedServer.requests.filter((p) => p.startsWith('/feed/blobs/'))).toHaveLength(2);
      expect(await proxy.requests()).toContain(`CONNECT ${new URL(feedServer.origin).host} HTTP/1.1`);
    } finally {
      await feedServer.close();
    }
    // Each connection to the origin was a tunnel through tinyproxy; none went direct.
    const tunnels = await proxy.requests();
    expect(tunnels.length).toBeGreaterThan(0);
    expect(tunnels.every((t) => /^CONNECT 127\.0\.0\.1:\d+ HTTP\/1\.1$/.test(t))).toBe(true);
  });
});
