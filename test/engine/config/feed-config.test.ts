/**
 * Config of the feed types (github, electron-builder, sparkle, tuf, hmac-manifest), their trust
 * rules, and the seed environment variables: GITHUB_TOKEN / THEMIS_GITHUB_API_TOKEN,
 * UPKEEP_GITHUB_REPO / GITHUB_REPO (seed 004), UPDATE_*_CMD and UPDATE_HEALTHCHECK_URL (seed 003).
 */
import { describe, it, expect } from 'vitest';
import { parseConfig } from '../../../src-main/engine/config/load';
import { UpkeepError } from '../../../src-shared/errors';
import type { FilesTargetConfig } from '../../../src-main/engine/config/schema';

const files = (feed: string, trust: string): string =>
  `targets:\n  - id: app\n    kind: files\n    install_dir: ./install\n    product: app\n    feed: ${feed}\n    trust: ${trust}\n`;
const command = `targets:\n  - id: api\n    kind: command\n    install_dir: ./srv\n    steps: {}\n`;

function load(text: string, env: NodeJS.ProcessEnv = {}) {
  return parseConfig(text, { file: 'upkeep.yaml', dir: '/etc/upkeep', env }).config;
}
function errorOf(text: string, env: NodeJS.ProcessEnv = {}): string {
  try {
    load(text, env);
  } catch (err) {
    return err instanceof UpkeepError ? `${err.code}: ${err.message}` : String(err);
  }
  return 'no error';
}

describe('github feed config', () => {
  it('takes the issue shape and derives the releases URL it fetches', () => {
    const c = load(files(
      '{ type: github, repo: acme/app, asset: "app-{version}-{platform}-{arch}.tar.gz", platform_names: { darwin: macos }, checksums: SHA256SUMS, strip_components: 1 }',
      '{ keys: ["ed25519:11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="] }',
    ));
    const feed = (c.targets[0]! as FilesTargetConfig).feed!;
    expect(feed).toMatchObject({ type: 'github', repo: 'acme/app', api_url: 'https://api.github.com', prerelease: false, strip_components: 1, url: 'https://api.github.com/repos/acme/app/releases' });
  });

  it('refuses a github feed without a trust decision, a bad template or a bad repo', () => {
    expect(errorOf(files('{ type: github, repo: acme/app, asset: "a-{version}.tgz" }', '{ threshold: 1 }'))).toContain('needs trust.keys, or trust.checksums_only: true, or trust.none: true');
    expect(errorOf(files('{ type: github, repo: acme/app, asset: "a-{tag}.tgz" }', '{ none: true }'))).toContain('only {version}, {platform} and {arch}');
    expect(errorOf(files('{ type: github, repo: "acme", asset: "a.tgz" }', '{ none: true }'))).toContain('owner/name');
    expect(errorOf(files('{ type: github, repo: acme/app, asset: "a.tgz" }', '{ checksums_only: true }'))).toContain('checksums_only needs feed.checksums');
    expect(errorOf(files('{ type: github, repo: acme/app, asset: "a.tgz", checksums: SUMS }', '{ checksums_only: true }'))).toBe('no error');
  });

  it('token: GITHUB_TOKEN, else THEMIS_GITHUB_API_TOKEN; a feed token of its own wins', () => {
    const text = files('{ type: github, repo: acme/app, asset: "a.tgz" }', '{ none: true }');
    expect((load(text, { THEMIS_GITHUB_API_TOKEN: 'ghp_themis' }).targets[0]! as FilesTargetConfig).feed).toMatchObject({ token: 'ghp_themis' });
    expect((load(text, { THEMIS_GITHUB_API_TOKEN: 'ghp_themis', GITHUB_TOKEN: 'ghp_main' }).targets[0]! as FilesTargetConfig).feed).toMatchObject({ token: 'ghp_main' });
    const own = files('{ type: github, repo: acme/app, asset: "a.tgz", token: ghp_own }', '{ none: true }');
    expect((load(own, { GITHUB_TOKEN: 'ghp_main' }).targets[0]! as FilesTargetConfig).feed).toMatchObject({ token: 'ghp_own' });
  });

  it('UPKEEP_GITHUB_REPO / GITHUB_REPO set the default target repo', () => {
    const text = files('{ type: github, repo: acme/app, asset: "a.tgz" }', '{ none: true }');
    expect((load(text, { GITHUB_REPO: 'justinwalkertattoo/GalaOS' }).targets[0]! as FilesTargetConfig).feed).toMatchObject({ repo: 'justinwalkertattoo/GalaOS', url: 'https://api.github.com/repos/justinwalkertattoo/GalaOS/releases' });
    expect((load(text, { GITHUB_REPO: 'x/y', UPKEEP_GITHUB_REPO: 'acme/other' }).targets[0]! as FilesTargetConfig).feed).toMatchObject({ repo: 'acme/other' });
    // The repo may come from the environment alone.
    const noRepo = files('{ type: github, asset: "a.tgz" }', '{ none: true }');
    expect((load(noRepo, { GITHUB_REPO: 'acme/app' }).targets[0]! as FilesTargetConfig).feed).toMatchObject({ repo: 'acme/app' });
  });
});

describe('other feed types', () => {
  it('electron-builder needs checksums_only (or none); sparkle keys or none; tuf a root; hmac-manifest a secret variable', () => {
    expect(errorOf(files('{ type: electron-builder, url: "https://dl.example.com/app/" }', '{ checksums_only: true }'))).toBe('no error');
    expect(errorOf(files('{ type: electron-builder, url: "https://dl.example.com/app/" }', '{ keys: ["ed25519:11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="] }'))).toContain('electron-builder feeds carry only sha512 digests');
    expect(errorOf(files('{ type: sparkle, url: "https://x/appcast.xml" }', '{ checksums_only: true }'))).toContain('a sparkle feed needs trust.keys');
    expect(errorOf(files('{ type: tuf, url: "https://x/metadata/", target: "app.tgz" }', '{ tuf_root: root.json }'))).toContain('needs {version}');
    const tuf = load(files('{ type: tuf, url: "https://x/metadata/", target: "app-{version}.tgz" }', '{ tuf_root: keys/root.json }'));
    expect((tuf.targets[0]! as FilesTargetConfig).trust).toMatchObject({ tuf_root: '/etc/upkeep/keys/root.json' });
    expect(errorOf(files('{ type: hmac-manifest, url: "https://x/release-manifest.json" }', '{ none: true }'))).toContain('needs trust.hmac_secret_env');
    expect(errorOf(files('{ type: nope, url: "https://x/" }', '{ none: true }'))).toContain('ERR_CONFIG_INVALID');
    expect(errorOf(files('{ url: "https://x/" }', '{ none: true }'))).toContain('a native (Upkeep) feed is always signed: trust.none is not available for it');
    expect(errorOf(files('{ url: "https://x/" }', '{ checksums_only: true }'))).toContain('trust.checksums_only is not available for it');
    expect(errorOf(files('{ url: "https://x/" }', '{ keys: [] }'))).toContain('trust.keys needs at least one public key');
  });
});

describe('seed 003 agent variables', () => {
  it('UPDATE_*_CMD set the steps and UPDATE_HEALTHCHECK_URL the health check of the default command target', () => {
    const c = load(command, {
      UPDATE_BACKUP_CMD: './backup.sh',
      UPDATE_PULL_CMD: 'docker compose pull',
      UPDATE_MIGRATE_CMD: './migrate.sh',
      UPDATE_SMOKE_CMD: './smoke.sh',
      UPDATE_SWITCH_CMD: 'docker compose up -d',
      UPDATE_ROLLBACK_CMD: './rollback.sh',
      UPDATE_HEALTHCHECK_URL: 'http://127.0.0.1:8080/health',
    });
    const t = c.targets[0]!;
    expect(t.kind).toBe('command');
    if (t.kind !== 'command') return;
    expect(t.steps).toEqual({
      backup: './backup.sh',
      pull: 'docker compose pull',
      migrate: './migrate.sh',
      smoke: './smoke.sh',
      switch: 'docker compose up -d',
      rollback: './rollback.sh',
    });
    expect(t.health).toMatchObject({ url: 'http://127.0.0.1:8080/health' });
  });

  it('refuses them for a files default target, and a health URL that is not http(s)', () => {
    expect(errorOf(files('{ url: "https://x/" }', '{ keys: ["ed25519:11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="] }'), { UPDATE_PULL_CMD: 'x' })).toContain('UPDATE_PULL_CMD');
    expect(errorOf(command, { UPDATE_HEALTHCHECK_URL: 'file:///etc/passwd' })).toContain('expected an http(s) URL');
  });
});
