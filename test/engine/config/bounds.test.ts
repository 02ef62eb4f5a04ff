import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { execFileSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, parseConfig } from '../../../src-main/engine/config/load';
import { UpkeepError } from '../../../src-shared/errors';
import { MAX_CHECK_INTERVAL_S, SettingsPatchSchema } from '../../../src-shared/ipc-contract';

const KEY = 'ed25519:' + Buffer.alloc(32, 7).toString('base64');
const target = (extra = ''): string => `targets:
  - id: demo
    kind: files
    install_dir: ./app
    product: demo
    feed: { url: ./feed }
    trust: { keys: ["${KEY}"] }
${extra}`;

function parseErr(text: string): UpkeepError {
  try {
    parseConfig(text, { file: 'upkeep.yaml', dir: '/tmp', env: {} });
  } catch (err) {
    expect(err).toBeInstanceOf(UpkeepError);
    return err as UpkeepError;
  }
  throw new Error('expected a config error');
}

async function loadErr(file: string): Promise<UpkeepError> {
  try {
    await loadConfig({ path: file, env: {} });
  } catch (err) {
    expect(err).toBeInstanceOf(UpkeepError);
    return err as UpkeepError;
  }
  throw new Error('expected a config error');
}

describe('config bounds', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'upkeep-cfgb-'));
  });
  afterEach(async () => {
    await fsp.rm(dir, { recursive: true, force: true });
  });

  it('refuses hook, health and webhook timeouts above 24 h and accepts 24 h exactly', () => {
    expect(parseErr(target('    hook_timeout: 86401\n')).message).toMatch(/targets\[0\]\.hook_timeout: at most 86400 seconds/);
    expect(parseErr(target('    hook_timeout: 3000000\n')).code).toBe('ERR_CONFIG_INVALID');
    expect(parseErr(target('    hooks: { migrate: { run: "x", timeout_s: 90000 } }\n')).message).toMatch(/hooks\.migrate\.timeout_s/);
    expect(parseErr(target('    health: { url: "http://127.0.0.1:1/h", timeout_s: 100000 }\n')).message).toMatch(/health\.timeout_s/);
    expect(parseErr(`webhooks: [{ url: "http://127.0.0.1:1/x", timeout_s: 86401 }]\n${target()}`).message).toMatch(/webhooks\[0\]\.timeout_s/);
    const ok = parseConfig(target('    hook_timeout: 86400\n'), { file: null, dir: '/tmp', env: {} });
    expect(ok.config.targets[0]!.hook_timeout).toBe(86400);
  });

  it('refuses a check interval above 366 days (the next check would be past any date), globally, per target and from the environment', () => {
    expect(parseErr(target('    check_interval: 1e20\n')).message).toMatch(/targets\[0\]\.check_interval: at most 31622400 seconds \(366 days\)/);
    expect(parseErr(`check_interval: 31622401\n${target()}`).message).toMatch(/^.*check_interval: at most 31622400 seconds/m);
    expect(() => parseConfig(target(), { file: null, dir: '/tmp', env: { UPKEEP_CHECK_INTERVAL: '100000000000' } })).toThrow(expect.objectContaining({ code: 'ERR_CONFIG_INVALID' }));
    expect(parseConfig(target('    check_interval: 31622400\n'), { file: null, dir: '/tmp', env: {} }).config.targets[0]!.check_interval).toBe(31622400);
    expect(SettingsPatchSchema.safeParse({ check_interval_s: 1e20 }).success).toBe(false);
    expect(SettingsPatchSchema.safeParse({ check_interval_s: MAX_CHECK_INTERVAL_S }).success).toBe(true);
  });

  it('bounds a health check as a whole: at most 1000 retries, and every attempt with its interval within 24 h', () => {
    expect(parseErr(target('    health: { command: "true", retries: 1000000000, interval_s: 1 }\n')).message).toMatch(/health\.retries: at most 1000/);
    expect(parseErr(target('    health: { command: "true", retries: 100, timeout_s: 86400 }\n')).message).toMatch(/health: \(retries \+ 1\) × timeout_s \+ retries × interval_s must be at most 86400 seconds/);
    expect(parseErr(target('    health: { url: "http://127.0.0.1:1/h", retries: 2, timeout_s: 1, interval_s: 86400 }\n')).code).toBe('ERR_CONFIG_INVALID');
    const ok = parseConfig(target('    health: { command: "true", retries: 1000, timeout_s: 60, interval_s: 20 }\n'), { file: null, dir: '/tmp', env: {} });
    expect(ok.config.targets[0]!.health).toMatchObject({ retries: 1000, timeout_s: 60, interval_s: 20 });
    expect(parseConfig(target('    health: { command: "true" }\n'), { file: null, dir: '/tmp', env: {} }).config.targets[0]!.health).toMatchObject({ retries: 5, timeout_s: 10, interval_s: 1 });
  });

  it('refuses custom YAML tags, with their line', () => {
    const e = parseErr(`state_dir: !!binary aGVsbG8=\n${target()}`);
    expect(e.code).toBe('ERR_CONFIG_INVALID');
    expect(e.message).toMatch(/upkeep\.yaml:1:\d+: \(syntax\): custom YAML tag tag:yaml\.org,2002:binary/);
    expect(parseErr(`state_dir: !js/function "x"\n${target()}`).message).toMatch(/custom YAML tag !js\/function/);
    // Core tags stay usable.
    expect(parseConfig(`state_dir: !!str ./s\n${target()}`, { file: null, dir: '/tmp', env: {} }).config.state_dir).toBe('/tmp/s');
  });

  it('refuses more than 100 aliases (billion laughs) and accepts 100', () => {
    const aliases = (n: number): string => `x-anchor: &a "v"\nx-list: [${Array.from({ length: n }, () => '*a').join(', ')}]\n`;
    // Unknown keys are refused anyway; what matters is which error comes first, and that it ends quickly.
    expect(parseErr(aliases(101) + target()).message).toMatch(/more than 100 aliases/);
    expect(parseErr(aliases(100) + target()).message).not.toMatch(/aliases/);
    const laughs = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    for (let i = 1; i < 9; i++) laughs.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(9).fill('*' + String.fromCharCode(96 + i)).join(',')}]`);
    const t0 = Date.now();
    expect(parseErr(laughs.join('\n') + '\n' + target()).message).toMatch(/alias count/);
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  it('refuses /dev/zero, a FIFO, a directory and a file above 1 MiB without hanging or reading it all', async () => {
    const before = process.memoryUsage().rss;
    const zero = await loadErr('/dev/zero');
    expect(zero.code).toBe('ERR_CONFIG_INVALID');
    expect(zero.message).toMatch(/\/dev\/zero: config path is not a regular file/);
    const fifo = path.join(dir, 'fifo.yaml');
    execFileSync('mkfifo', [fifo]);
    const t0 = Date.now();
    expect((await loadErr(fifo)).message).toMatch(/fifo\.yaml: config path is not a regular file/);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect((await loadErr(dir)).message).toMatch(/config path is a directory/);
    const big = path.join(dir, 'big.yaml');
    await fsp.writeFile(big, target() + '#'.repeat(1024 * 1024));
    expect((await loadErr(big)).message).toMatch(/big\.yaml: config file is larger than 1048576 bytes/);
    expect(process.memoryUsage().rss - before).toBeLessThan(64 * 1024 * 1024);
    const ok = path.join(dir, 'ok.yaml');
    await fsp.writeFile(ok, target());
    expect((await loadConfig({ path: ok, env: {} })).config.targets[0]!.id).toBe('demo');
  });
});
