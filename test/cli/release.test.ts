import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runRelease } from '../../src-main/cli/commands/release';
import type { CliIO } from '../../src-main/cli/io';
import { verifyEnvelope } from '../../src-main/engine/trust/dsse';
import { parsePublicKey } from '../../src-main/engine/trust/keys';
import { ChannelIndexSchema, INDEX_PAYLOAD_TYPE, MANIFEST_PAYLOAD_TYPE, ReleaseManifestSchema } from '../../src-shared/feed-schema';

function captureIO(json: boolean): CliIO & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { json, isTTY: false, out: (t) => stdout.push(t), err: (t) => stderr.push(t), stdout, stderr };
}

let tmp: string;
beforeEach(async () => {
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'upkeep-cli-release-'));
  await fsp.mkdir(path.join(tmp, 'build/bin'), { recursive: true });
  await fsp.writeFile(path.join(tmp, 'build/bin/demo'), 'demo');
  await fsp.chmod(path.join(tmp, 'build/bin/demo'), 0o755);
  await fsp.writeFile(path.join(tmp, 'notes.md'), '## Changes\n- faster\n');
});
afterEach(async () => {
  await fsp.rm(tmp, { recursive: true, force: true });
});

describe('upkeep release (CLI)', () => {
  it('keygen, publish and rollout end to end, printing one JSON document each', async () => {
    const io1 = captureIO(true);
    expect(await runRelease(['keygen', '--out', path.join(tmp, 'keys')], io1)).toBe(0);
    const kg = JSON.parse(io1.stdout.join(''));
    expect(kg).toMatchObject({ key_path: path.join(tmp, 'keys/upkeep.key'), pub_path: path.join(tmp, 'keys/upkeep.pub') });
    expect(kg.public_key).toBe((await fsp.readFile(kg.pub_path, 'utf8')).trim());
    const pub = parsePublicKey(kg.public_key);
    expect(kg.keyid).toBe(pub.keyid);

    const feed = path.join(tmp, 'feed');
    const io2 = captureIO(true);
    const code = await runRelease(
      ['publish', path.join(tmp, 'build'), '--feed', feed, '--product', 'demo', '--version', '2.0.0', '--channel', 'beta', '--key', kg.key_path,
        '--notes', path.join(tmp, 'notes.md'), '--critical', '--min-upgrade-from', '>=1.5.0', '--rollout', '10', '--expires-in', '14',
        '--platform', 'linux', '--arch', 'x64', '--commit', 'deadbeef', '--breaking', 'config key renamed', '--migrations-required'],
      io2,
    );
    expect(code).toBe(0);
    const summary = JSON.parse(io2.stdout.join(''));
    const manifestBytes = await fsp.readFile(path.join(feed, 'manifests/2.0.0.json'));
    expect(summary).toEqual({
      product: 'demo',
      version: '2.0.0',
      channel: 'beta',
      sequence: 1,
      manifest: path.join(feed, 'manifests/2.0.0.json'),
      manifest_sha256: createHash('sha256').update(manifestBytes).digest('hex'),
      files: 1,
      bytes: 4,
      keyids: [pub.keyid],
    });
    const manifest = ReleaseManifestSchema.parse(JSON.parse(verifyEnvelope(manifestBytes, MANIFEST_PAYLOAD_TYPE, [pub], 1).payload.toString('utf8')));
    expect(manifest).toMatchObject({
      release_notes: '## Changes\n- faster\n',
      is_critical: true,
      min_upgrade_from: '>=1.5.0',
      build_commit: 'deadbeef',
      breaking_changes: ['config key renamed'],
      migrations_required: true,
      channel: 'beta',
    });
    expect(manifest.files[0]).toMatchObject({ path: 'bin/demo', platform: 'linux', arch: 'x64', mode: 0o755 });

    const io3 = captureIO(true);
    expect(await runRelease(['rollout', '--feed', feed, '--channel', 'beta', '--version', '2.0.0', '--percent', '50', '--key', kg.key_path], io3)).toBe(0);
    expect(JSON.parse(io3.stdout.join(''))).toEqual({ channel: 'beta', version: '2.0.0', percent: 50, previous_percent: 10, sequence: 2 });
    const index = ChannelIndexSchema.parse(
      JSON.parse(verifyEnvelope(await fsp.readFile(path.join(feed, 'channels/beta.json')), INDEX_PAYLOAD_TYPE, [pub], 1).payload.toString('utf8')),
    );
    expect(index.sequence).toBe(2);
    expect(index.releases[0]).toMatchObject({ version: '2.0.0', is_critical: true, rollout: { percent: 50 } });
  });

  it('prints human text without --json and defaults the channel to stable', async () => {
    const io = captureIO(false);
    await runRelease(['keygen', '--out', path.join(tmp, 'k')], io);
    expect(io.stdout.join('\n')).toMatch(/Created signing key [0-9a-f]{64}/);
    const io2 = captureIO(false);
    await runRelease(['publish', path.join(tmp, 'build'), '--feed', path.join(tmp, 'feed'), '--product', 'demo', '--version', '1.0.0', '--key', path.join(tmp, 'k/upkeep.key')], io2);
    expect(io2.stdout.join('\n')).toMatch(/Published demo 1\.0\.0 to channel "stable" \(index sequence 1\)/);
    await expect(fsp.access(path.join(tmp, 'feed/channels/stable.json'))).resolves.toBeUndefined();
  });

  it('shows usage for help; no arguments is a usage error, as for the other command groups', async () => {
    for (const argv of [['help'], ['--help'], ['publish', '--help']]) {
      const io = captureIO(false);
      expect(await runRelease(argv, io)).toBe(0);
      expect(io.stdout.join('')).toMatch(/Usage: upkeep release/);
    }
    await expect(runRelease([], captureIO(false))).rejects.toMatchObject({ code: 'ERR_USAGE', message: expect.stringContaining('"release" needs a command') });
  });

  it('turns every argument mistake into ERR_USAGE', async () => {
    await runRelease(['keygen', '--out', path.join(tmp, 'k')], captureIO(true));
    const key = path.join(tmp, 'k/upkeep.key');
    const build = path.join(tmp, 'build');
    const feed = path.join(tmp, 'feed');
    const cases: string[][] = [
      ['frobnicate'],
      ['keygen'],
      ['keygen', '--out', path.join(tmp, 'k')],
      ['keygen', '--out', tmp, '--bogus'],
      ['keygen', '--out', tmp, 'extra'],
      ['publish', '--feed', feed, '--product', 'demo', '--version', '1.0.0', '--key', key],
      ['publish', build, 'other', '--feed', feed, '--product', 'demo', '--version', '1.0.0', '--key', key],
      ['publish', build, '--product', 'demo', '--version', '1.0.0', '--key', key],
      ['publish', build, '--feed', feed, '--version', '1.0.0', '--key', key],
      ['publish', build, '--feed', feed, '--product', 'demo', '--key', key],
      ['publish', build, '--feed', feed, '--product', 'demo', '--version', '1.0.0'],
      ['publish', build, '--feed', feed, '--product', 'demo', '--version', 'one', '--key', key],
      ['publish', build, '--feed', feed, '--product', 'demo', '--version', '1.0.0', '--key', key, '--rollout', 'half'],
      ['publish', build, '--feed', feed, '--product', 'demo', '--version', '1.0.0', '--key', key, '--rollout', '150'],
      ['publish', build, '--feed', feed, '--product', 'demo', '--version', '1.0.0', '--key', key, '--notes', path.join(tmp, 'missing.md')],
      ['publish', build, '--feed', feed, '--product', 'demo', '--version', '1.0.0', '--key', key, '--unknown-flag'],
      ['publish', build, '--feed', feed, '--product', 'demo', '--version', '1.0.0', '--key'],
      ['rollout', '--feed', feed, '--version', '1.0.0', '--key', key],
      ['rollout', '--feed', feed, '--version', '1.0.0', '--percent', '50'],
      ['rollout', '--feed', feed, '--version', '1.0.0', '--percent', '-5', '--key', key],
      ['rollout', '--feed', feed, '--percent', '50', '--key', key],
    ];
    for (const argv of cases) {
      await expect(runRelease(argv, captureIO(true)), argv.join(' ')).rejects.toMatchObject({ code: 'ERR_USAGE' });
    }
    await expect(fsp.access(path.join(feed, 'channels'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('reports a rollout of an unpublished version as ERR_NO_RELEASE', async () => {
    await runRelease(['keygen', '--out', path.join(tmp, 'k')], captureIO(true));
    const key = path.join(tmp, 'k/upkeep.key');
    const feed = path.join(tmp, 'feed');
    await runRelease(['publish', path.join(tmp, 'build'), '--feed', feed, '--product', 'demo', '--version', '1.0.0', '--key', key], captureIO(true));
    await expect(runRelease(['rollout', '--feed', feed, '--version', '3.0.0', '--percent', '5', '--key', key], captureIO(true))).rejects.toMatchObject({ code: 'ERR_NO_RELEASE' });
  });
});
