/**
 * The electron-builder feed against a static folder on 127.0.0.1: latest-linux.yml / latest.yml /
 * latest-mac.yml by platform, files[] selection, sha512 of the served file, staged rollout by this
 * installation's id, release notes, channels, and the legacy document refused.
 */
import { describe, it, expect, afterEach } from 'vitest';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createFeed } from '../../../src-main/engine/feed/registry';
import type { ReleaseArchive, ReleaseFile } from '../../../src-main/engine/feed/release';
import { UpkeepError } from '../../../src-shared/errors';
import { startStaticServer, type StaticServer } from '../../helpers/static-server';
import { feedEnv, feedSpec } from '../../helpers/feed-env';
import { tempDir } from '../../helpers/tree';

let server: StaticServer | null = null;
afterEach(async () => {
  await server?.close();
  server = null;
});

const tgz = Buffer.from('pretend tarball '.repeat(100));
const b64 = (b: Buffer) => createHash('sha512').update(b).digest('base64');
const yml = (o: { version: string; staging?: number; notes?: string }) =>
  `version: ${o.version}\nfiles:\n  - url: app-${o.version}-linux-x64.tar.gz\n    sha512: ${b64(tgz)}\n    size: ${tgz.length}\n  - url: app-${o.version}.AppImage\n    sha512: ${b64(Buffer.from('x'))}\n    size: 1\n  - url: app-${o.version}-linux-arm64.tar.gz\n    sha512: ${b64(Buffer.from('arm'))}\n    size: 3\npath: evil.tar.gz\nsha512: ${b64(Buffer.from('evil'))}\nreleaseDate: '2026-11-20T10:00:00.000Z'\n` +
  (o.staging !== undefined ? `stagingPercentage: ${o.staging}\n` : '') + (o.notes ? `releaseNotes: ${JSON.stringify(o.notes)}\n` : '');

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    return err instanceof UpkeepError ? err.code : String(err);
  }
  return 'no error';
}

const IN = '00000000000000000000000000000001'; // bucket ≈ 0
const OUT = '0000000000000000000000007fffffff'; // bucket ≈ 0.5

describe('electron-builder feed', () => {
  it('reads latest-linux.yml from the folder, picks the tarball from files[], carries its sha512 and notes', async () => {
    server = await startStaticServer({ '/app/latest-linux.yml': yml({ version: '1.3.0', notes: 'Faster **sync**' }) });
    const env = feedEnv(await tempDir());
    const feed = createFeed(feedSpec({ type: 'electron-builder', url: `${server.url}/app` }, { checksums_only: true }), env);
    expect(await feed.candidates('1.2.0', { skip_versions: [], machine_id: IN })).toEqual([{ version: '1.3.0', is_critical: false }]);
    expect(await feed.candidates('1.3.0', { skip_versions: [], machine_id: IN })).toEqual([]);
    const r = await feed.release('1.3.0');
    expect(r).toMatchObject({ version: '1.3.0', notes: 'Faster **sync**', released_at: '2026-11-20T10:00:00.000Z', verification: 'checksums' });
    const item = r.items[0] as ReleaseArchive;
    expect(item).toMatchObject({ kind: 'archive', name: 'app-1.3.0-linux-x64.tar.gz', format: 'tar.gz', size: tgz.length, url: `${server.url}/app/app-1.3.0-linux-x64.tar.gz` });
    expect(item.digests).toEqual({ sha512: createHash('sha512').update(tgz).digest('hex') });
    expect(env.logs.some((l) => l.startsWith('warn:') && l.includes('sha512 only'))).toBe(true);
    expect(server.requests).toEqual(['/app/latest-linux.yml']);
  });

  it('arm64 Linux reads latest-linux-arm64.yml, falling back to latest-linux.yml; other channels read <channel>-linux.yml', async () => {
    server = await startStaticServer({ '/latest-linux.yml': yml({ version: '1.3.0' }), '/beta-linux.yml': yml({ version: '1.4.0-beta.1' }) });
    const arm = createFeed(feedSpec({ type: 'electron-builder', url: server.url }, { checksums_only: true }), feedEnv(await tempDir(), { arch: 'arm64' }));
    const r = await arm.release('1.3.0');
    expect((r.items[0] as ReleaseArchive).name).toBe('app-1.3.0-linux-arm64.tar.gz');
    expect(server.requests).toEqual(['/latest-linux-arm64.yml', '/latest-linux.yml']);
    const beta = createFeed(feedSpec({ type: 'electron-builder', url: server.url }, { checksums_only: true }, { channel: 'beta' }), feedEnv(await tempDir()));
    expect((await beta.candidates(null, { skip_versions: [], machine_id: IN })).map((c) => c.version)).toEqual(['1.4.0-beta.1']);
  });

  it('staged rollout: stagingPercentage 10 offers the update to a low bucket only', async () => {
    server = await startStaticServer({ '/latest-linux.yml': yml({ version: '1.3.0', staging: 10 }) });
    const feed = createFeed(feedSpec({ type: 'electron-builder', url: server.url }, { checksums_only: true }), feedEnv(await tempDir()));
    expect(await feed.candidates('1.2.0', { skip_versions: [], machine_id: IN })).toHaveLength(1);
    expect(await feed.candidates('1.2.0', { skip_versions: [], machine_id: OUT })).toHaveLength(0);
    expect((await feed.release('1.3.0')).rollout).toEqual({ percent: 10, started_at: null });
  });

  it('a real Windows feed (flyenv latest.yml) served as is: the .exe for win32', async () => {
    const bytes = readFileSync(path.resolve(__dirname, '../../../../shared/vectors/electron-builder/flyenv_latest.yml'));
    server = await startStaticServer({ '/latest.yml': bytes });
    const feed = createFeed(feedSpec({ type: 'electron-builder', url: server.url }, { checksums_only: true }), feedEnv(await tempDir(), { platform: 'win32' }));
    const r = await feed.release('4.10.8');
    expect(r.items[0] as ReleaseFile).toMatchObject({ kind: 'file', path: 'FlyEnv-Setup-4.10.8.exe', size: 126446295 });
  });

  it('refuses the legacy document and answers ERR_NO_RELEASE when the folder has no feed for this machine', async () => {
    const legacy = readFileSync(path.resolve(__dirname, '../../../../shared/vectors/electron-builder/arepl_legacy_latest-mac.yml'));
    server = await startStaticServer({ '/latest-mac.yml': legacy });
    const mac = createFeed(feedSpec({ type: 'electron-builder', url: server.url }, { checksums_only: true }), feedEnv(await tempDir(), { platform: 'darwin' }));
    expect(await codeOf(mac.candidates(null, { skip_versions: [], machine_id: IN }))).toBe('ERR_METADATA_INVALID');
    const linux = createFeed(feedSpec({ type: 'electron-builder', url: server.url }, { checksums_only: true }), feedEnv(await tempDir()));
    expect(await codeOf(linux.candidates(null, { skip_versions: [], machine_id: IN }))).toBe('ERR_NO_RELEASE');
  });

  it('a files[].url naming a local file (file:, other schemes) is ERR_INSECURE_URL, a decoded name that is a path ERR_UNSAFE_PATH', async () => {
    const doc = (url: string) => `version: 1.3.0\nfiles:\n  - url: ${JSON.stringify(url)}\n    sha512: ${b64(tgz)}\n    size: ${tgz.length}\n`;
    const cases: Array<[string, string]> = [
      ['file:///etc/passwd.tar.gz', 'ERR_INSECURE_URL'],
      ['ftp://127.0.0.1/app-linux.tar.gz', 'ERR_INSECURE_URL'],
      ['..%2f..%2fapp.AppImage', 'ERR_UNSAFE_PATH'],
      ['dir%2fapp.AppImage', 'ERR_UNSAFE_PATH'],
    ];
    for (const [url, code] of cases) {
      server = await startStaticServer({ '/app/latest-linux.yml': doc(url) });
      const feed = createFeed(feedSpec({ type: 'electron-builder', url: `${server.url}/app` }, { checksums_only: true }), feedEnv(await tempDir()));
      expect(await codeOf(feed.release('1.3.0'))).toBe(code);
      expect(server.requests).toEqual(['/app/latest-linux.yml']);
      await server.close();
      server = null;
    }
  });
});
