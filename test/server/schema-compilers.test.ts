/**
 * The app loads fastify's JSON-schema compilers only when a route declares a JSON schema (the API
 * itself validates with zod): such a route still validates its body and serializes its response.
 */
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src-main/server/app';
import { FakeCore } from './fake-core';
import { ADMIN, apiWithTokens } from './helpers';

let app: FastifyInstance | null = null;
afterEach(async () => {
  await app?.close();
  app = null;
});

describe('JSON-schema routes', () => {
  it('validate the body (400 on a mismatch) and serialize only the declared response fields', async () => {
    app = await buildApp(new FakeCore(apiWithTokens()), { host: '127.0.0.1' });
    app.post(
      '/schema-probe',
      {
        schema: {
          body: { type: 'object', required: ['n'], properties: { n: { type: 'integer' } } },
          response: { 200: { type: 'object', properties: { twice: { type: 'integer' } } } },
        },
      },
      async (req) => ({ twice: (req.body as { n: number }).n * 2, secret: 'not declared' }),
    );
    await app.listen({ host: '127.0.0.1', port: 0 });
    const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/schema-probe`;
    const post = (body: unknown) => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN}` }, body: JSON.stringify(body) });
    const ok = await post({ n: 21 });
    const bad = await post({ n: 'x' });
    expect({ ok: ok.status, body: await ok.json(), bad: bad.status }).toEqual({ ok: 200, body: { twice: 42 }, bad: 400 });
  });
});
