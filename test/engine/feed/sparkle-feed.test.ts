/**
 * The Sparkle feed against an appcast on 127.0.0.1: the best item by Sparkle ordering, channels,
 * critical and informational items, edSignature checked with the ed25519 trust keys over the
 * downloaded archive, missing signatures and file:// enclosures refused.
 */
import { describe, it, expect, afterEach } from 'vitest';
import { generateKeyPairSync, sign } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { createFeed } from '../../../src-main/engine/feed/registry';
import type { ReleaseArchive } from '../../../src-main/engine/feed/release';
import { UpkeepError } from '../../../src-shared/errors';
import { startStaticServer, type StaticServer } from '../../helpers/static-server';
import { feedEnv, feedSpec } from '../../helpers/feed-env';
import { tempDir } from '../../helpers/tree';

let server: StaticServer | null = null;
afterEach(async () => {
  await server?.close();
  server = null;
});

const { publicKey, privateKey } = generateKeyPairSync('ed25519');
const keyLine = `ed25519:${publicKey.export({ format: 'der', type: 'spki' }).subarray(12).toString('base64')}`;
const zip = (v: string) => Buffer.from(`pretend zip of ${v} `.repeat(40));
const edSig = (b: Buffer) => sign(null, b, privateKey).toString('base64');

function appcast(items: string): string {
  return `<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0" xmlns:sparkle="http://www.andymatuschak.org/xml-namespaces/sparkle">\n<channel><title>App</title>\n${items}\n</channel></rss>\n`;
}
function item(v: string, extra = '', sig: string | null = edSig(zip(v))): string {
  return `<item><title>Version ${v}</title><pubDate>Sat, 01 Nov 2025 10:00:00 +0000</pubDate><sparkle:version>${v}</sparkle:version><description>Notes ${v}</description>${extra}
<enclosure url="App-${v}.zip" length="${zip(v).length}" type="application/octet-stream"${sig ? ` sparkle:edSignature="${sig}"` : ''}/></item>`;
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    return err instanceof UpkeepError ? err.code : String(err);
  }
  return 'no error';
}

const policy = { skip_versions: [] as string[], machine_id: '00000000000000000000000000000000' };

describe('sparkle feed', () => {
  it('offers the best item by Sparkle ordering and verifies its edSignature on the downloaded archive', async () => {
    server = await startStaticServer({
      '/appcast.xml': appcast([item('1.9'), item('1.10', '<sparkle:criticalUpdate/>'), item('2.0b1', '<sparkle:channel>beta</sparkle:channel>')].join('\n')),
    });
    const feed = createFeed(feedSpec({ type: 'sparkle', url: `${server.url}/appcast.xml` }, { keys: [keyLine] }), feedEnv(await tempDir(), { platform: 'darwin' }));
    const c = await feed.candidates('1.8', policy);
    expect(c).toEqual([{ version: '1.10', is_critical: true }, { version: '1.9', is_critical: false }]);
    const r = await feed.release('1.10');
    expect(r).toMatchObject({ version: '1.10', notes: 'Notes 1.10', verification: 'signed', is_critical: true, informational: false });
    const a = r.items[0] as ReleaseArchive;
    expect(a).toMatchObject({ kind: 'archive', format: 'zip', url: `${server.url}/App-1.10.zip`, size: zip('1.10').length });
    const dir = await tempDir();
    await fsp.writeFile(path.join(dir, 'good.zip'), zip('1.10'));
    await a.verify!(path.join(dir, 'good.zip'), new AbortController().signal);
    await fsp.writeFile(path.join(dir, 'bad.zip'), zip('1.9'));
    expect(await codeOf(a.verify!(path.join(dir, 'bad.zip'), new AbortController().signal))).toBe('ERR_SIGNATURE_INVALID');
    expect(feed.assess('1.8', r, { allowDowngrade: false, explicit: false })).toEqual({ breaking: false });
    expect(await codeOf(Promise.resolve().then(() => feed.assess('1.10', r, { allowDowngrade: false, explicit: false })))).toBe('ERR_DOWNGRADE');
    const beta = createFeed(feedSpec({ type: 'sparkle', url: `${server.url}/appcast.xml` }, { keys: [keyLine] }, { channel: 'beta' }), feedEnv(await tempDir(), { platform: 'darwin' }));
    expect((await beta.candidates('1.8', policy))[0]!.version).toBe('2.0b1');
  });

  it('an informational item is shown, never installed', async () => {
    server = await startStaticServer({ '/appcast.xml': appcast(item('3.0', '<sparkle:informationalUpdate/>')) });
    const feed = createFeed(feedSpec({ type: 'sparkle', url: `${server.url}/appcast.xml` }, { keys: [keyLine] }), feedEnv(await tempDir()));
    expect((await feed.candidates('2.0', policy)).map((c) => c.version)).toEqual(['3.0']);
    const r = await feed.release('3.0');
    expect(r.informational).toBe(true);
    expect(r.items).toEqual([]);
    expect(await codeOf(Promise.resolve().then(() => feed.assess('2.0', r, { allowDowngrade: false, explicit: true })))).toBe('ERR_INCOMPATIBLE_UPGRADE');
  });

  it('refuses an unsigned item when keys are trusted, and any file:// enclosure', async () => {
    server = await startStaticServer({
      '/unsigned.xml': appcast(item('2.0', '', null)),
      '/file.xml': appcast(item('2.0').replace('url="App-2.0.zip"', 'url="file:///etc/passwd"')),
    });
    const unsigned = createFeed(feedSpec({ type: 'sparkle', url: `${server.url}/unsigned.xml` }, { keys: [keyLine] }), feedEnv(await tempDir()));
    expect(await codeOf(unsigned.release('2.0'))).toBe('ERR_SIGNATURE_MISSING');
    const none = createFeed(feedSpec({ type: 'sparkle', url: `${server.url}/unsigned.xml` }, { none: true }), feedEnv(await tempDir()));
    expect((await none.release('2.0')).verification).toBe('none');
    const local = createFeed(feedSpec({ type: 'sparkle', url: `${server.url}/file.xml` }, { keys: [keyLine] }), feedEnv(await tempDir()));
    expect(await codeOf(local.candidates(null, policy))).toBe('ERR_INSECURE_URL');
  });
});
