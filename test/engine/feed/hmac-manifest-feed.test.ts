/**
 * The hmac-manifest feed (seed 003) against a manifest on 127.0.0.1: verified with the secret named
 * by trust.hmac_secret_env, with the shared-secret warning; wrong secret, altered field, other
 * channel and a missing variable refused or not offered.
 */
import { describe, it, expect, afterEach } from 'vitest';
import { HmacManifestFeed } from '../../../src-main/engine/feed/hmac-manifest-feed';
import { signHmacManifest } from '../../../src-main/engine/trust/hmac-manifest';
import { UpkeepError } from '../../../src-shared/errors';
import { startStaticServer, type StaticServer } from '../../helpers/static-server';
import { feedEnv, feedSpec } from '../../helpers/feed-env';
import { tempDir } from '../../helpers/tree';

let server: StaticServer | null = null;
afterEach(async () => {
  await server?.close();
  server = null;
});

const fields = { version: '1.4.0', sha: '0f00ba5', channel: 'stable', migrations_required: true, breaking_changes: 'Drops legacy orders API', released_at: '2026-11-29T10:00:00Z' };
const policy = { skip_versions: [] as string[], machine_id: '0'.repeat(32) };

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    return err instanceof UpkeepError ? err.code : String(err);
  }
  return 'no error';
}

async function feedWith(body: Buffer | string, vars: NodeJS.ProcessEnv, channel = 'stable') {
  server = await startStaticServer({ '/release-manifest.json': body });
  const env = feedEnv(await tempDir());
  const spec = feedSpec({ type: 'hmac-manifest', url: `${server.url}/release-manifest.json` }, { hmac_secret_env: 'RELEASE_SIGNING_SECRET' }, { channel });
  return { feed: new HmacManifestFeed(spec, env, vars), env };
}

describe('hmac-manifest feed', () => {
  it('a manifest signed with the secret becomes a release for command targets, with the shared-secret warning', async () => {
    const { bytes } = signHmacManifest(fields, 's3cret');
    const { feed, env } = await feedWith(bytes, { RELEASE_SIGNING_SECRET: 's3cret' });
    expect(await feed.candidates('1.3.2', policy)).toEqual([{ version: '1.4.0', is_critical: false }]);
    const r = await feed.release('1.4.0');
    expect(r).toMatchObject({ version: '1.4.0', build_commit: '0f00ba5', migrations_required: true, breaking_changes: ['Drops legacy orders API'], released_at: '2026-11-29T10:00:00Z', verification: 'signed', items: [] });
    expect(feed.assess('1.3.2', r, { allowDowngrade: false, explicit: false })).toEqual({ breaking: true });
    expect(env.logs.some((l) => l.startsWith('warn:') && l.includes('shared HMAC secret'))).toBe(true);
    expect(await feed.candidates('1.4.0', policy)).toEqual([]);
  });

  it('refuses a wrong secret, an altered field, and a missing variable; another channel is not offered', async () => {
    const { manifest } = signHmacManifest(fields, 's3cret');
    const wrong = await feedWith(JSON.stringify(manifest), { RELEASE_SIGNING_SECRET: 'other' });
    expect(await codeOf(wrong.feed.candidates(null, policy))).toBe('ERR_SIGNATURE_INVALID');
    await server!.close();
    const altered = await feedWith(JSON.stringify({ ...manifest, migrations_required: false }), { RELEASE_SIGNING_SECRET: 's3cret' });
    expect(await codeOf(altered.feed.candidates(null, policy))).toBe('ERR_SIGNATURE_INVALID');
    await server!.close();
    const unset = await feedWith(JSON.stringify(manifest), {});
    expect(await codeOf(unset.feed.candidates(null, policy))).toBe('ERR_CONFIG_INVALID');
    await server!.close();
    const beta = await feedWith(JSON.stringify(manifest), { RELEASE_SIGNING_SECRET: 's3cret' }, 'beta');
    expect(await beta.feed.candidates(null, policy)).toEqual([]);
    expect(await codeOf(beta.feed.release('1.4.0'))).toBe('ERR_PRODUCT_MISMATCH');
  });
});
