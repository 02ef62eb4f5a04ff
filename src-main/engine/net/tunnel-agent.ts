/**
 * A node `http.Agent` that reaches every origin through an HTTP CONNECT tunnel of a forward proxy
 * (RFC 9110 §9.3.6), then speaks plain HTTP or TLS to the origin inside it. axios (node's
 * http/https modules) uses it for the adapters' JSON API calls; undici requests use undici's own
 * ProxyAgent. Written here because undici's ProxyAgent is not an `http.Agent`, axios' built-in
 * `proxy` option cannot tunnel https, and no proxy-agent package is a declared dependency.
 *
 * Credentials in the proxy URL (`http://user:pass@proxy:3128`) are sent as `Proxy-Authorization:
 * Basic` on the CONNECT request only. A non-2xx answer to CONNECT fails the request with an error
 * naming the proxy (redacted) and its status.
 */
import type http from 'node:http';
import type { Duplex } from 'node:stream';
import type tls from 'node:tls';
import { redactUrl } from './url-policy';

/** How long the proxy may take to answer CONNECT, in ms. */
const CONNECT_TIMEOUT_MS = 30_000;

/** An agent made by `createTunnelAgent`; `protocol` is `https:` when it serves https requests. */
export type TunnelAgent = http.Agent & { readonly protocol: string };

let tunnelAgentClass: (new (proxyUrl: string, secure: boolean) => TunnelAgent) | undefined;

/**
 * An agent reaching origins through the CONNECT tunnel of the proxy at `proxyUrl`, for https
 * requests when `secure`. Node's http, https and tls modules are loaded on the first call only:
 * most commands never use a proxy, and loading them costs every start.
 */
export function createTunnelAgent(proxyUrl: string, secure: boolean): TunnelAgent {
  tunnelAgentClass ??= defineTunnelAgent();
  return new tunnelAgentClass(proxyUrl, secure);
}

function defineTunnelAgent(): new (proxyUrl: string, secure: boolean) => TunnelAgent {
  const httpModule = require('node:http') as typeof import('node:http');
  const httpsModule = require('node:https') as typeof import('node:https');
  const tlsModule = require('node:tls') as typeof import('node:tls');
  const { isIP } = require('node:net') as typeof import('node:net');
  return class extends httpModule.Agent {
    /** `https:` when this agent serves https requests (node checks it against the request's protocol). */
    readonly protocol: string;
    private readonly proxy: URL;

    constructor(proxyUrl: string, secure: boolean) {
      super({ keepAlive: false });
      this.proxy = new URL(proxyUrl);
      this.protocol = secure ? 'https:' : 'http:';
    }

    override createConnection(options: http.ClientRequestArgs, callback?: (err: Error | null, stream: Duplex) => void): Duplex | null | undefined {
      const done = callback ?? (() => undefined);
      const host = (options.hostname ?? options.host ?? 'localhost').replace(/^\[|\]$/g, '');
      const port = Number(options.port) || (this.protocol === 'https:' ? 443 : 80);
      const authority = `${isIP(host) === 6 ? `[${host}]` : host}:${port}`;
      const headers: Record<string, string> = { host: authority };
      if (this.proxy.username !== '' || this.proxy.password !== '') {
        const creds = `${decodeURIComponent(this.proxy.username)}:${decodeURIComponent(this.proxy.password)}`;
        headers['proxy-authorization'] = `Basic ${Buffer.from(creds).toString('base64')}`;
      }
      const secureProxy = this.proxy.protocol === 'https:';
      const req = (secureProxy ? httpsModule : httpModule).request({
        host: this.proxy.hostname.replace(/^\[|\]$/g, ''),
        port: Number(this.proxy.port) || (secureProxy ? 443 : 80),
        method: 'CONNECT',
        path: authority,
        headers,
        agent: false,
        timeout: CONNECT_TIMEOUT_MS,
      });
      const where = redactUrl(this.proxy.href);
      req.once('connect', (res, socket, head) => {
        if (res.statusCode !== 200) {
          socket.destroy();
          done(new Error(`proxy ${where} answered ${res.statusCode} to CONNECT ${authority}`), socket);
          return;
        }
        if (head.length > 0) socket.unshift(head);
        if (this.protocol !== 'https:') {
          done(null, socket);
          return;
        }
        const servername = (options as tls.ConnectionOptions).servername ?? (isIP(host) === 0 ? host : undefined);
        const secure = tlsModule.connect({ ...(options as tls.ConnectionOptions), socket, ...(servername ? { servername } : {}) });
        done(null, secure);
      });
      req.once('timeout', () => req.destroy(new Error(`proxy ${where} did not answer CONNECT ${authority} within ${CONNECT_TIMEOUT_MS} ms`)));
      req.once('error', (err) => done(err, undefined as unknown as Duplex));
      req.end();
      return undefined;
    }
  };
}
