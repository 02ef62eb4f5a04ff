/**
 * Webhook deliveries to a real local HTTP receiver: JSON bodies signed with
 * x-upkeep-signature = sha256=HMAC-SHA256(secret, body), retried after a 5xx, filtered by event;
 * and end to end from the real daemon core (update_available on check, update_completed on apply).
 */
import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { createHmac } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { deliver, signBody } from '../../src-main/engine/webhooks';
import { createDaemon } from '../../src-main/engine/daemon';
import type { Notification } from '../../src-shared/api';
import { Fixture, waitFor } from '../daemon/helpers';

interface Received {
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A receiver answering each request with the next status of `statuses` (then 200). */
async function receiver(statuses: number[] = []) {
  const got: Received[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      got.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.statusCode = statuses.shift() ?? 200;
      res.end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  return { got, url, close: () => new Promise<void>((r) => server.close(() => r())) };
}

const hmac = (secret: string, body: string) => `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;

const NOTE: Notification = { type: 'update_available', target: 'demo', at: '2026-01-05T10:00:00.000Z', version: '1.1.0', from_version: '1.0.0', is_critical: true, message: 'demo 1.1.0 is available (critical)' };

describe('deliver', () => {
  let rx: Awaited<ReturnType<typeof receiver>>;
  afterEach(async () => rx?.close());

  it('POSTs the notification as JSON with a verifiable HMAC signature', async () => {
    rx = await receiver();
    const ok = await deliver({ url: rx.url, secret: 's3cret', retries: 0, timeout_s: 5 }, NOTE);
    expect(ok).toBe(true);
    expect(rx.got).toHaveLength(1);
    const [r] = rx.got;
    expect(r!.headers['content-type']).toBe('application/json');
    expect(r!.headers['x-upkeep-event']).toBe('update_available');
    expect(r!.headers['x-upkeep-signature']).toBe(hmac('s3cret', r!.body));
    expect(signBody('s3cret', r!.body)).toBe(hmac('s3cret', r!.body));
    expect(JSON.parse(r!.body)).toEqual({ event: 'update_available', ...NOTE });
  });

  it('sends no signature without a secret', async () => {
    rx = await receiver();
    expect(await deliver({ url: rx.url, retries: 0, timeout_s: 5 }, NOTE)).toBe(true);
    expect(rx.got[0]!.headers['x-upkeep-signature']).toBeUndefined();
  });

  it('retries after a 500 and succeeds with the same signed body', async () => {
    rx = await receiver([500]);
    const logs: string[] = [];
    const ok = await deliver({ url: rx.url, secret: 'k', retries: 2, timeout_s: 5 }, NOTE, { backoffMs: 10, log: (m) => logs.push(m) });
    expect(ok).toBe(true);
    expect(rx.got).toHaveLength(2);
    expect(rx.got[1]!.body).toBe(rx.got[0]!.body);
    expect(rx.got[1]!.headers['x-upkeep-signature']).toBe(hmac('k', rx.got[1]!.body));
    expect(logs.join('\n')).toContain('answered 500');
  });

  it('gives up after retries + 1 attempts and reports false', async () => {
    rx = await receiver([500, 502, 503, 504]);
    expect(await deliver({ url: rx.url, retries: 2, timeout_s: 5 }, NOTE, { backoffMs: 5 })).toBe(false);
    expect(rx.got).toHaveLength(3);
  });

  it('skips events the hook did not ask for', async () => {
    rx = await receiver();
    expect(await deliver({ url: rx.url, events: ['update_completed'], retries: 0, timeout_s: 5 }, NOTE)).toBe(true);
    expect(rx.got).toHaveLength(0);
  });
});

describe('webhooks from the daemon', () => {
  let fx: Fixture;
  let rx: Awaited<ReturnType<typeof receiver>>;

  beforeEach(async () => {
    fx = await Fixture.create('upkeep-hooks-');
  });
  afterEach(async () => {
    await rx?.close();
    await fx?.cleanup();
  });

  it('delivers update_available and update_completed, signed, retrying after a 500', async () => {
    rx = await receiver([500]);
    await fx.publish('1.0.0', { 'bin/demo': 'one' });
    await fx.writeConfig(fx.configText({ top: ['webhooks:', `  - { url: ${JSON.stringify(rx.url)}, secret: hook-secret, events: [update_available, update_completed], retries: 2, timeout_s: 5 }`] }));
    const core = await createDaemon({ configPath: fx.configPath, env: {} });
    try {
      await core.apply('demo');
      await fx.publish('1.1.0', { 'bin/demo': 'two' }, { critical: true });
      await core.check('demo');
      await core.apply('demo');
      const events = () => rx.got.map((r) => JSON.parse(r.body) as Notification & { event: string });
      // 1.0.0 completed, 1.1.0 available, 1.1.0 completed: one of them (the first to arrive) was
      // answered 500 and delivered again.
      await waitFor('three deliveries plus one retry', () => new Set(rx.got.map((r) => r.body)).size >= 3 && rx.got.length >= 4, { timeoutMs: 10_000 });
      expect(rx.got).toHaveLength(4);
      expect(rx.got.filter((r) => r.body === rx.got[0]!.body)).toHaveLength(2);
      for (const r of rx.got) expect(r.headers['x-upkeep-signature']).toBe(hmac('hook-secret', r.body));
      const kinds = events().map((e) => `${e.event}:${e.version}`);
      expect(kinds).toContain('update_completed:1.0.0');
      expect(kinds).toContain('update_available:1.1.0');
      expect(kinds).toContain('update_completed:1.1.0');
      expect(kinds.every((k) => k.startsWith('update_available') || k.startsWith('update_completed'))).toBe(true);
      const avail = events().find((e) => e.event === 'update_available')!;
      expect(avail).toMatchObject({ type: 'update_available', target: 'demo', version: '1.1.0', from_version: '1.0.0', is_critical: true });
    } finally {
      await core.close();
    }
  });

  it('sends update_progress only to webhooks that ask for it, a few per operation', async () => {
    rx = await receiver();
    await fx.publish('1.0.0', { 'bin/demo': 'one', 'lib/a': 'a', 'lib/b': 'b' });
    await fx.writeConfig(fx.configText({ top: ['webhooks:', `  - { url: ${JSON.stringify(rx.url)}, events: [update_progress], retries: 0, timeout_s: 5 }`] }));
    const core = await createDaemon({ configPath: fx.configPath, env: {} });
    try {
      await core.apply('demo');
      await waitFor('progress deliveries', () => rx.got.length >= 2, { timeoutMs: 10_000 });
      const events = rx.got.map((r) => JSON.parse(r.body) as Notification & { event: string });
      expect(events.every((e) => e.event === 'update_progress' && e.target === 'demo')).toBe(true);
      expect(events.some((e) => e.message.startsWith('download:'))).toBe(true);
      // Throttled to phase changes and 10 % steps: never more than phases x 11.
      expect(events.length).toBeLessThanOrEqual(12 * 11);
    } finally {
      await core.close();
    }
  });
});
