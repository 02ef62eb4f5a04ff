/**
 * Multi-platform releases published one platform at a time with the real CLI
 * (`release publish --platform P --arch A`): each publish adds its platform's files to the same
 * version (re-signed, sequence bumped), a second publish of the same platform is refused unless
 * --force, which replaces only that platform's files; every machine (platform/arch override in
 * its target config) installs its own build, byte for byte.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { keygen } from '../../../src-main/engine/publish/keygen';
import { verifyEnvelope } from '../../../src-main/engine/trust/dsse';
import { parsePublicKey, type PublicKey } from '../../../src-main/engine/trust/keys';
import { ChannelIndexSchema, INDEX_PAYLOAD_TYPE, MANIFEST_PAYLOAD_TYPE, ReleaseManifestSchema } from '../../../src-shared/feed-schema';
import { runCli } from '../../helpers/cli';
import { engineFor } from '../../helpers/feed-builder';
import { snapshot, writeTree } from '../../helpers/tree';

let tmp: string;
let keyPath: string;
let pubLine: string;
let pub: PublicKey;

beforeEach(async () => {
  tmp = await fsp.realpath(await fsp.mkdtemp(path.join(os.tmpdir(), 'upkeep-multiplatform-')));
  const k = await keygen(path.join(tmp, 'keys'));
  keyPath = k.keyPath;
  pubLine = (await fsp.readFile(k.pubPath, 'utf8')).trim();
  pub = parsePublicKey(pubLine);
});
afterEach(async () => fsp.rm(tmp, { recursive: true, force: true }));

const feed = () => path.join(tmp, 'feed');

async function build(name: string): Promise<string> {
  const dir = path.join(tmp, 'builds', name);
  await writeTree(dir, {
    'bin/app': { data: `#!/bin/sh\necho ${name}\n`, mode: 0o755 },
    'lib/core.bin': { data: Buffer.alloc(5000 + name.length, name.charCodeAt(6)) },
    'share/README': 'same on every platform\n',
  });
  return dir;
}

async function publishCli(dir: string, platform: string, arch: string, extra: string[] = []) {
  return runCli(['--json', 'release', 'publish', dir, '--feed', feed(), '--product', 'demo', '--version', '1.0.0', '--key', keyPath, '--platform', platform, '--arch', arch, ...extra]);
}

async function readFeed() {
  const idxEnv = await fsp.readFile(path.join(feed(), 'channels', 'stable.json'));
  const index = ChannelIndexSchema.parse(JSON.parse(verifyEnvelope(idxEnv, INDEX_PAYLOAD_TYPE, [pub], 1).payload.toString('utf8')));
  const manEnv = await fsp.readFile(path.join(feed(), index.releases[0]!.manifest));
  const manifest = ReleaseManifestSchema.parse(JSON.parse(verifyEnvelope(manEnv, MANIFEST_PAYLOAD_TYPE, [pub], 1).payload.toString('utf8')));
  return { index, manifest };
}

async function installAs(platform: string, arch: string): Promise<string> {
  const work = path.join(tmp, `machine-${platform}-${arch}`);
  await fsp.mkdir(work, { recursive: true });
  const engine = engineFor(work, feed(), { keys: [pubLine], threshold: 1 }, [`platform: ${platform}`, `arch: ${arch}`]);
  const r = await engine.apply('demo');
  expect(r.version).toBe('1.0.0');
  return path.join(work, 'install');
}

describe('release publish --platform/--arch', () => {
  it('three platforms published separately: one version, re-signed each time, each machine gets its own build', async () => {
    const builds = { 'linux-x64': await build('linux-x64'), 'linux-arm64': await build('linux-arm64'), 'darwin-arm64': await build('darwin-arm64') };
    const first = await publishCli(builds['linux-x64'], 'linux', 'x64');
    expect(first.code, first.stderr).toBe(0);
    expect(first.json.sequence).toBe(1);
    const second = await publishCli(builds['linux-arm64'], 'linux', 'arm64');
    expect(second.code, second.stderr).toBe(0);
    expect(second.json).toMatchObject({ sequence: 2, platform_added: { platform: 'linux', arch: 'arm64', replaced: 0, kept: 3 } });
    const third = await publishCli(builds['darwin-arm64'], 'darwin', 'arm64', ['--notes', '/dev/null']);
    expect(third.code, third.stderr).toBe(0);
    expect(third.json).toMatchObject({ sequence: 3, platform_added: { platform: 'darwin', arch: 'arm64', replaced: 0, kept: 6 } });

    const { index, manifest } = await readFeed();
    expect(index.sequence).toBe(3);
    expect(index.releases.map((r) => r.version)).toEqual(['1.0.0']);
    expect(manifest.files.map((f) => `${f.platform}/${f.arch} ${f.path}`).sort()).toEqual(
      ['darwin/arm64', 'linux/arm64', 'linux/x64'].flatMap((p) => [`${p} bin/app`, `${p} lib/core.bin`, `${p} share/README`]).sort(),
    );

    for (const [name, [platform, arch]] of [['linux-x64', ['linux', 'x64']], ['linux-arm64', ['linux', 'arm64']], ['darwin-arm64', ['darwin', 'arm64']]] as const) {
      const install = await installAs(platform, arch);
      expect(await snapshot(install, ['.upkeep'])).toEqual(await snapshot(builds[name]));
    }
    // A platform nobody published for gets nothing offered.
    const work = path.join(tmp, 'machine-win32');
    await fsp.mkdir(work);
    const win = engineFor(work, feed(), { keys: [pubLine], threshold: 1 }, ['platform: win32', 'arch: x64']);
    expect(await win.apply('demo')).toMatchObject({ success: true, up_to_date: true, files_updated: [] });
    expect(await fsp.readdir(path.join(work, 'install')).catch(() => [])).toEqual([]);
  });

  it('the same platform again is refused; --force replaces only that platform and keeps the others byte for byte', async () => {
    expect((await publishCli(await build('linux-x64'), 'linux', 'x64')).code).toBe(0);
    expect((await publishCli(await build('darwin-arm64'), 'darwin', 'arm64')).code).toBe(0);
    const before = await readFeed();

    const again = await publishCli(await build('linux-x64-v2'), 'linux', 'x64');
    expect(again.code).toBe(2);
    expect(again.stderr + again.stdout).toMatch(/already has files for linux\/x64.*--force/);
    expect((await readFeed()).index.sequence).toBe(before.index.sequence);

    const rebuilt = await build('linux-x64-v2');
    const forced = await publishCli(rebuilt, 'linux', 'x64', ['--force']);
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.json.platform_added).toEqual({ platform: 'linux', arch: 'x64', replaced: 3, kept: 3 });
    const after = await readFeed();
    expect(after.index.sequence).toBe(before.index.sequence + 1);
    const darwin = (m: typeof after.manifest) => m.files.filter((f) => f.platform === 'darwin');
    expect(darwin(after.manifest)).toEqual(darwin(before.manifest));
    expect(after.manifest.released_at).toBe(before.manifest.released_at);
    expect(await snapshot(await installAs('linux', 'x64'), ['.upkeep'])).toEqual(await snapshot(rebuilt));
  });

  it('without --platform/--arch a published version stays immutable', async () => {
    const dir = await build('any-any');
    const first = await runCli(['release', 'publish', dir, '--feed', feed(), '--product', 'demo', '--version', '1.0.0', '--key', keyPath]);
    expect(first.code, first.stderr).toBe(0);
    const second = await runCli(['release', 'publish', dir, '--feed', feed(), '--product', 'demo', '--version', '1.0.0', '--key', keyPath]);
    expect(second.code).toBe(2);
    expect(second.stderr).toMatch(/already published/);
  });
});
