/**
 * Webhook deliveries of notifications: POST JSON, retried with backoff, signed with
 * HMAC-SHA256 (header X-Upkeep-Signature: sha256=<hex of the body>) when a secret is set.
 */
import { createHmac } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { createDispatcher } from './net/proxy';
import type { Notification } from '../../src-shared/api';
import type { Config } from './config/schema';

/** undici, loaded on the first request (it costs tens of ms and ~20 MB at every start otherwise). */
const undici = (): typeof import('undici') => require('undici') as typeof import('undici');

type Webhook = Config['webhooks'][number];

/** The signature header value of `body` under `secret`. */
export function signBody(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}


/** Delivers one notification to one webhook; resolves true when a 2xx was received. */
export async function deliver(hook: Webhook, n: Notification, o: { backoffMs?: number; log?: (msg: string) => void } = {}): Promise<boolean> {
  if (hook.events && !hook.events.includes(n.type)) return true;
  const body = JSON.stringify({ event: n.type, ...n });
  const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'upkeep', 'x-upkeep-event': n.type };
  if (hook.secret) headers['x-upkeep-signature'] = signBody(hook.secret, body);
  // Through the configured forward proxy, like every outgoing request (net/proxy.ts).
  const dispatcher = createDispatcher({ headersTimeout: hook.timeout_s * 1000, bodyTimeout: hook.timeout_s * 1000 });
  try {
    for (let attempt = 0; attempt <= hook.retries; attempt++) {
      if (attempt > 0) await sleep((o.backoffMs ?? 500) * 2 ** (attempt - 1));
      try {
        const res = await undici().request(hook.url, { method: 'POST', headers, body, dispatcher });
        await res.body.dump();
        if (res.statusCode >= 200 && res.statusCode < 300) return true;
        o.log?.(`webhook ${hook.url} answered ${res.statusCode} (attempt ${attempt + 1})`);
      } catch (err) {
        o.log?.(`webhook ${hook.url} failed: ${(err as Error).message} (attempt ${attempt + 1})`);
      }
    }
    return false;
  } finally {
    void dispatcher.close().catch(() => undefined);
  }
}
