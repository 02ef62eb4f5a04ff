import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { publish } from '../../../src-main/engine/publish/publish';
import { setRollout } from '../../../src-main/engine/publish/rollout';
import { PUBLISH_LOCK_WAIT_MS } from '../../../src-main/engine/publish/feed-writer';
import { acquireLock } from '../../../src-main/engine/lock';
import { keygen } from '../../../src-main/engine/publish/keygen';
import { verifyEnvelope } from '../../../src-main/engine/trust/dsse';
import { parsePublicKey, type PublicKey } from '../../../src-main/engine/trust/keys';
import { ChannelIndexSchema, INDEX_PAYLOAD_TYPE } from '../../../src-shared/feed-schema';

let tmp: string;
let feed: string;
let keyPath: string;
let otherKeyPath: string;
let pub: PublicKey;

async function index() {
  const bytes = await fsp.readFile(path.join(feed, 'channels/stable.json'));
  return ChannelIndexSchema.parse(JSON.parse(verifyEnvelope(bytes, INDEX_PAYLOAD_TYPE, [pub], 1).payload.toString('utf8')));
}

beforeEach(async () => {
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'upkeep-rollout-'));
  feed = path.join(tmp, 'feed');
  const k = await keygen(path.join(tmp, 'keys'));
  keyPath = k.keyPath;
  pub = parsePublicKey(await fsp.readFile(k.pubPath, 'utf8'));
  otherKeyPath = (await keygen(path.join(tmp, 'other'))).keyPath;
  await fsp.mkdir(path.join(tmp, 'build'));
  await fsp.writeFile(path.join(tmp, 'build/app'), 'app');
  const base = { buildDir: path.join(tmp, 'build'), feedDir: feed, product: 'demo', channel: 'stable', keyPaths: [keyPath] };
  await publish({ ...base, version: '1.0.0', now: new Date('2026-01-01T00:00:00Z') });
  await publish({ ...base, version: '1.1.0', rolloutPercent: 5, now: new Date('2026-01-02T00:00:00Z') });
});

afterEach(async () => {
  await fsp.rm(tmp, { recursive: true, force: true });
});

describe('setRollout', () => {
  it('changes one entry, keeps its start date, re-signs and raises the sequence', async () => {
    const before = await index();
    expect(before.sequence).toBe(2);
    const r = await setRollout({ feedDir: feed, channel: 'stable', version: '1.1.0', percent: 25, keyPaths: [keyPath], now: new Date('2026-01-05T00:00:00Z') });
    expect(r).toEqual({ sequence: 3, previousPercent: 5 });
    const after = await index();
    expect(after.sequence).toBe(3);
    expect(after.expires).toBe('2026-02-04T00:00:00Z');
    expect(after.releases[0]).toEqual({ ...before.releases[0], rollout: { percent: 25, started_at: '2026-01-02T00:00:00Z' } });
    expect(after.releases[1]).toEqual(before.releases[1]);

    const halted = await setRollout({ feedDir: feed, channel: 'stable', version: '1.1.0', percent: 0, keyPaths: [keyPath], expiresInDays: 1, now: new Date('2026-01-06T00:00:00Z') });
    expect(halted.sequence).toBe(4);
    const h = await index();
    expect(h.releases[0]!.rollout).toEqual({ percent: 0, started_at: '2026-01-02T00:00:00Z' });
    expect(h.expires).toBe('2026-01-07T00:00:00Z');
  });

  it('reports an unknown version or channel as ERR_NO_RELEASE', async () => {
    await expect(setRollout({ feedDir: feed, channel: 'stable', version: '9.9.9', percent: 50, keyPaths: [keyPath] })).rejects.toMatchObject({ code: 'ERR_NO_RELEASE' });
    await expect(setRollout({ feedDir: feed, channel: 'beta', version: '1.1.0', percent: 50, keyPaths: [keyPath] })).rejects.toMatchObject({ code: 'ERR_NO_RELEASE' });
    expect((await index()).sequence).toBe(2);
  });

  it('refuses bad percentages and foreign keys without touching the index', async () => {
    const bytes = await fsp.readFile(path.join(feed, 'channels/stable.json'));
    for (const percent of [-1, 101, Number.NaN]) {
      await expect(setRollout({ feedDir: feed, channel: 'stable', version: '1.1.0', percent, keyPaths: [keyPath] })).rejects.toMatchObject({ code: 'ERR_USAGE' });
    }
    await expect(setRollout({ feedDir: feed, channel: 'stable', version: '1.1.0', percent: 50, keyPaths: [otherKeyPath] })).rejects.toMatchObject({ code: 'ERR_SIGNATURE_INVALID' });
    expect(await fsp.readFile(path.join(feed, 'channels/stable.json'))).toEqual(bytes);
  });

  it('refuses while another publish holds the feed lock, and waits for a short one', async () => {
    const lockFile = path.join(feed, '.upkeep-publish.lock');
    const held = await acquireLock(lockFile, { actor: 'other publisher', opId: 'publish' });
    const started = Date.now();
    const err = await setRollout({ feedDir: feed, channel: 'stable', version: '1.1.0', percent: 50, keyPaths: [keyPath] }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_BUSY', details: { feed } });
    expect((err as Error).message).toContain('other publisher');
    expect(Date.now() - started).toBeGreaterThanOrEqual(PUBLISH_LOCK_WAIT_MS - 100);
    expect((await index()).sequence).toBe(2);

    setTimeout(() => void held.release(), 300);
    await expect(setRollout({ feedDir: feed, channel: 'stable', version: '1.1.0', percent: 50, keyPaths: [keyPath] })).resolves.toMatchObject({ sequence: 3 });
    await expect(fsp.lstat(lockFile)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
