import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, parseConfig, findTarget, defaultTarget, diffRestartRequired } from '../../../src-main/engine/config/load';
import { ENV_VARS } from '../../../src-main/engine/config/env';
import { UpkeepError } from '../../../src-shared/errors';
import type { FilesTargetConfig } from '../../../src-main/engine/config/schema';

const KEY = 'ed25519:' + Buffer.alloc(32, 7).toString('base64');

const GOOD = `state_dir: ./state
api:
  port: 9000
targets:
  - id: demo
    kind: files
    install_dir: ./app
    product: demo
    feed:
      url: ./feed
    trust:
      keys: ["${KEY}"]
  - id: svc
    kind: command
    install_dir: /srv/svc
    default: true
    steps:
      pull: docker compose pull
`;

function catchErr(fn: () => unknown): UpkeepError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(UpkeepError);
    return err as UpkeepError;
  }
  throw new Error('expected an error');
}

let tmp: string;
beforeEach(async () => {
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'upkeep-config-'));
});
afterEach(async () => {
  await fsp.rm(tmp, { recursive: true, force: true });
});

describe('parseConfig', () => {
  it('validates, fills defaults and resolves paths against the config directory', () => {
    const dir = path.join(tmp, 'etc');
    const { config, path: file } = parseConfig(GOOD, { file: path.join(dir, 'upkeep.yaml'), dir, env: {} });
    expect(file).toBe(path.join(dir, 'upkeep.yaml'));
    expect(config.state_dir).toBe(path.join(dir, 'state'));
    expect(config.download_dir).toBe(path.join(dir, 'state', 'downloads'));
    expect(config.backup_dir).toBe(path.join(dir, 'state', 'points'));
    expect(config.api.port).toBe(9000);
    expect(config.api.host).toBe('127.0.0.1');
    const demo = findTarget(config, 'demo');
    expect(demo.install_dir).toBe(path.join(dir, 'app'));
    expect((demo as FilesTargetConfig).feed?.url).toBe(path.join(dir, 'feed'));
    expect(demo.retention).toBe(3);
    expect(findTarget(config, 'svc').install_dir).toBe('/srv/svc');
    expect(() => findTarget(config, 'nosuch')).toThrow('Unknown target "nosuch". Configured targets: demo, svc');
    expect(() => findTarget(config)).toThrow('Several targets are configured: name one (demo, svc)');
  });

  it('leaves URLs and absolute paths alone', () => {
    const text = GOOD.replace('url: ./feed', 'url: https://cdn.example.com/feed').replace('install_dir: ./app', 'install_dir: /opt/app');
    const { config } = parseConfig(text, { file: null, dir: tmp, env: {} });
    expect((findTarget(config, 'demo') as FilesTargetConfig).feed?.url).toBe('https://cdn.example.com/feed');
    expect(findTarget(config, 'demo').install_dir).toBe('/opt/app');
    const fileUrl = parseConfig(GOOD.replace('url: ./feed', 'url: file:///srv/feed'), { file: null, dir: tmp, env: {} });
    expect((findTarget(fileUrl.config, 'demo') as FilesTargetConfig).feed?.url).toBe('file:///srv/feed');
  });

  it('reports every schema problem with file, line, column and key path', () => {
    const text = `api:
  port: "x"
  bogus: 1
targets:
  - id: Demo
    kind: files
    install_dir: ./app
    product: demo
    feed: { url: ./feed }
    trust: { keys: ["${KEY}"] }
    health:
      url: not-a-url
`;
    const err = catchErr(() => parseConfig(text, { file: '/etc/upkeep.yaml', dir: '/etc', env: {} }));
    expect(err.code).toBe('ERR_CONFIG_INVALID');
    const lines = err.message.split('\n');
    expect(lines).toContain('/etc/upkeep.yaml:2:9: api.port: Invalid input: expected number, received string');
    expect(lines).toContain('/etc/upkeep.yaml:3:3: api.bogus: unknown key "bogus"');
    expect(lines.some((l) => l.startsWith('/etc/upkeep.yaml:5:9: targets[0].id: '))).toBe(true);
    expect(lines.some((l) => l.startsWith('/etc/upkeep.yaml:12:12: targets[0].health.url: '))).toBe(true);
    const issues = (err.details as { issues: { path: string; line: number }[] }).issues;
    expect(issues.map((i) => i.path)).toEqual(expect.arrayContaining(['api.port', 'api.bogus', 'targets[0].id', 'targets[0].health.url']));
    expect(issues.find((i) => i.path === 'api.port')?.line).toBe(2);
  });

  it('points a missing key at the closest existing node', () => {
    const text = `targets:
  - id: demo
    kind: files
    product: demo
    feed: { url: ./feed }
    trust: { keys: ["${KEY}"] }
`;
    const err = catchErr(() => parseConfig(text, { file: 'upkeep.yaml', dir: tmp, env: {} }));
    expect(err.message).toBe('upkeep.yaml:2:5: targets[0].install_dir: required (expected string)');
  });

  it('reports YAML syntax errors with a position', () => {
    const err = catchErr(() => parseConfig('targets: [1,\nfoo: 2\n', { file: 'c.yaml', dir: tmp, env: {} }));
    expect(err.code).toBe('ERR_CONFIG_INVALID');
    expect(err.message).toMatch(/^c\.yaml:\d+:\d+: \(syntax\): /);
    const dup = catchErr(() => parseConfig('state_dir: a\nstate_dir: b\n', { file: 'c.yaml', dir: tmp, env: {} }));
    expect(dup.message).toMatch(/^c\.yaml:2:1: /);
  });

  it('rejects an empty document', () => {
    const err = catchErr(() => parseConfig('', { file: 'c.yaml', dir: tmp, env: {} }));
    expect(err.message).toBe('c.yaml:1:1: targets: required (expected array)');
  });
});

describe('environment overrides', () => {
  it('apply global settings, resolved against the config directory', () => {
    const env = { UPKEEP_STATE_DIR: '/var/lib/upkeep', THEMIS_DOWNLOAD_DIR: 'dl', UPKEEP_BACKUP_DIR: '/backups', THEMIS_BACKUP_DIR: '/ignored', THEMIS_UPDATE_CHECK_INTERVAL: '600', GITHUB_TOKEN: 'ghp_x' };
    const { config } = parseConfig(GOOD, { file: null, dir: tmp, env });
    expect(config.state_dir).toBe('/var/lib/upkeep');
    expect(config.download_dir).toBe(path.join(tmp, 'dl'));
    expect(config.backup_dir).toBe('/backups');
    expect(config.check_interval).toBe(600);
    expect(config.github_token).toBe('ghp_x');
  });

  it('apply per-target aliases to the default target, UPKEEP_* winning over the alias', () => {
    const env = { UPDATE_CHECK_SCHEDULE: '0 3 * * *', AUTO_UPDATE_ENABLED: 'true', UPKEEP_BACKUP_RETENTION: '7', BACKUP_RETENTION_COUNT: '2' };
    const { config } = parseConfig(GOOD, { file: null, dir: tmp, env });
    const svc = findTarget(config, 'svc');
    expect(svc.check_schedule).toBe('0 3 * * *');
    expect(svc.auto_apply).toBe('all');
    expect(svc.retention).toBe(7);
    const demo = findTarget(config, 'demo');
    expect(demo.auto_apply).toBe('none');
    expect(demo.retention).toBe(3);

    const both = parseConfig(GOOD, { file: null, dir: tmp, env: { UPKEEP_AUTO_APPLY: 'critical', AUTO_UPDATE_ENABLED: 'true' } });
    expect(findTarget(both.config, 'svc').auto_apply).toBe('critical');
    const off = parseConfig(GOOD, { file: null, dir: tmp, env: { AUTO_UPDATE_ENABLED: 'false' } });
    expect(findTarget(off.config, 'svc').auto_apply).toBe('none');
  });

  it('use the first target when none is marked default', () => {
    const text = GOOD.replace('    default: true\n', '');
    const { config } = parseConfig(text, { file: null, dir: tmp, env: { UPKEEP_AUTO_APPLY: 'all' } });
    expect(findTarget(config, 'demo').auto_apply).toBe('all');
    expect(findTarget(config, 'svc').auto_apply).toBe('none');
  });

  it('reject a bad value naming the variable', () => {
    for (const [name, value] of [['UPKEEP_CHECK_INTERVAL', 'soon'], ['AUTO_UPDATE_ENABLED', 'maybe'], ['UPKEEP_AUTO_APPLY', 'some'], ['BACKUP_RETENTION_COUNT', '0'], ['THEMIS_UPDATE_CHECK_INTERVAL', '-5']]) {
      const err = catchErr(() => parseConfig(GOOD, { file: null, dir: tmp, env: { [name!]: value } }));
      expect(err.code).toBe('ERR_CONFIG_INVALID');
      expect(err.message).toContain(name);
    }
  });

  it('are documented in ENV_VARS', () => {
    const names = ENV_VARS.map((v) => v.name);
    expect(names).toEqual(expect.arrayContaining(['UPKEEP_STATE_DIR', 'UPKEEP_DOWNLOAD_DIR', 'UPKEEP_BACKUP_DIR', 'UPKEEP_CHECK_INTERVAL', 'GITHUB_TOKEN', 'UPKEEP_CHECK_SCHEDULE', 'UPKEEP_AUTO_APPLY', 'UPKEEP_BACKUP_RETENTION']));
    expect(ENV_VARS.find((v) => v.name === 'UPKEEP_AUTO_APPLY')?.alias).toBe('AUTO_UPDATE_ENABLED');
  });

  it('are each listed, with their alias, in the README table of environment variables', async () => {
    const readme = await fsp.readFile(path.join(__dirname, '..', '..', '..', 'README.md'), 'utf8');
    const start = readme.indexOf('### Environment variables');
    expect(start).toBeGreaterThan(0);
    const table = readme.slice(start, readme.indexOf('\n## ', start));
    const missing = ENV_VARS.flatMap((v) => [v.name, ...(v.alias ? [v.alias] : [])]).filter((name) => !table.includes(`\`${name}\``));
    expect(missing).toEqual([]);
  });
});

describe('loadConfig', () => {
  it('reads <cwd>/upkeep.yaml, $UPKEEP_CONFIG or an explicit path', async () => {
    await fsp.writeFile(path.join(tmp, 'upkeep.yaml'), GOOD);
    const sub = path.join(tmp, 'conf');
    await fsp.mkdir(sub);
    await fsp.writeFile(path.join(sub, 'other.yaml'), GOOD.replace('port: 9000', 'port: 9001'));

    const a = await loadConfig({ cwd: tmp, env: {} });
    expect(a.path).toBe(path.join(tmp, 'upkeep.yaml'));
    expect(a.config.api.port).toBe(9000);
    expect(a.text).toBe(GOOD);

    const b = await loadConfig({ cwd: tmp, env: { UPKEEP_CONFIG: 'conf/other.yaml' } });
    expect(b.path).toBe(path.join(sub, 'other.yaml'));
    expect(b.dir).toBe(sub);
    expect(b.config.api.port).toBe(9001);
    expect(b.config.state_dir).toBe(path.join(sub, 'state'));

    const c = await loadConfig({ path: path.join(sub, 'other.yaml'), cwd: '/', env: { UPKEEP_CONFIG: path.join(tmp, 'upkeep.yaml') } });
    expect(c.config.api.port).toBe(9001);
  });

  it('names the path of a missing file', async () => {
    const missing = path.join(tmp, 'nope.yaml');
    const err = await loadConfig({ path: missing, env: {} }).catch((e: unknown) => e as UpkeepError);
    expect(err).toBeInstanceOf(UpkeepError);
    expect((err as UpkeepError).code).toBe('ERR_CONFIG_INVALID');
    expect((err as UpkeepError).message).toContain(missing);
  });

  it('reports the real file name in validation errors', async () => {
    const file = path.join(tmp, 'upkeep.yaml');
    await fsp.writeFile(file, GOOD.replace('port: 9000', 'port: 70000'));
    const err = await loadConfig({ path: file, env: {} }).catch((e: unknown) => e as UpkeepError);
    expect((err as UpkeepError).message).toMatch(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:3:9: api\\.port: `));
  });
});

describe('targets and reload helpers', () => {
  const { config } = parseConfig(GOOD, { file: null, dir: '/etc', env: {} });

  it('finds targets by id, the only one, or refuses', () => {
    expect(defaultTarget(config).id).toBe('svc');
    expect(catchErr(() => findTarget(config)).code).toBe('ERR_USAGE');
    expect(catchErr(() => findTarget(config, 'ghost')).code).toBe('ERR_TARGET_NOT_FOUND');
    const single = parseConfig(GOOD.slice(0, GOOD.indexOf('  - id: svc')), { file: null, dir: '/etc', env: {} }).config;
    expect(findTarget(single).id).toBe('demo');
    expect(defaultTarget(single).id).toBe('demo');
  });

  it('names the settings that need a restart', () => {
    const same = parseConfig(GOOD.replace('pull: docker compose pull', 'pull: podman pull'), { file: null, dir: '/etc', env: {} }).config;
    expect(diffRestartRequired(config, same)).toEqual([]);
    const moved = parseConfig(GOOD.replace('port: 9000', 'port: 9001\n  host: 0.0.0.0').replace('./state', './state2'), { file: null, dir: '/etc', env: {} }).config;
    expect(diffRestartRequired(config, moved).sort()).toEqual(['api.host', 'api.port', 'backup_dir', 'download_dir', 'state_dir']);
  });
});
