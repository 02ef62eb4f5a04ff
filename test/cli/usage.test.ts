/**
 * What a person sees from the command line's grammar: per-command help, one-line errors with a
 * suggestion, errors printed once, no phase lines for hooks that are not set, the Node.js check.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import semver from 'semver';
import { BIN, ROOT, runCli } from '../helpers/cli';
import { tempDir, writeTree } from '../helpers/tree';
import { COMMANDS, suggest } from '../../src-main/cli/spec';
import { checkNodeVersion, RUNTIME_NODE_RANGE } from '../../src-main/cli/node-check';

function errorLines(stderr: string): string[] {
  return stderr.split('\n').filter((l) => l.startsWith('error:'));
}

describe('upkeep <command> --help', () => {
  for (const c of COMMANDS.filter((x) => !['help', 'version', 'release'].includes(x.name))) {
    it(`${c.name} --help prints its usage and every option`, async () => {
      const r = await runCli([c.name, '--help']);
      expect(r.code).toBe(0);
      expect(r.stdout.split('\n')[0]).toBe(`Usage: upkeep ${c.usage.replace(/^upkeep /, '')}`);
      for (const o of c.options) expect(r.stdout).toContain(`--${o.name}`);
      expect(r.stdout).toContain('--config FILE');
    });
  }

  it('daemon --help names its listen and dashboard options', async () => {
    const r = await runCli(['daemon', '--help']);
    for (const o of ['--host H', '--port P', '--dashboard DIR', '--no-watch']) expect(r.stdout).toContain(o);
    expect(r.stdout).not.toContain('Publishing:');
  });

  it('--version with --help, in either order, prints the version command\'s usage', async () => {
    const want = await runCli(['version', '--help']);
    expect(want.code).toBe(0);
    expect(want.stdout.split('\n')[0]).toBe('Usage: upkeep version');
    for (const args of [['--version', '--help'], ['--help', '--version'], ['help', '--version']]) {
      const r = await runCli(args);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
      expect(r.stdout).toBe(want.stdout);
      expect(r.stderr).toBe('');
    }
  });

  it('"help apply" equals "apply --help"; release --help is the publisher usage', async () => {
    const a = await runCli(['help', 'apply']);
    const b = await runCli(['apply', '-h']);
    expect(a.stdout).toBe(b.stdout);
    const rel = await runCli(['release', 'publish', '--help']);
    expect(rel.code).toBe(0);
    expect(rel.stdout).toContain('publish BUILD_DIR --feed FEED_DIR');
  });

  it('a command group alone (release, token, config) is a usage error; its --help is not', async () => {
    for (const group of ['release', 'token', 'config']) {
      const r = await runCli([group]);
      expect(r.code, `${group}: ${r.stdout}`).toBe(2);
      expect(errorLines(r.stderr)).toEqual([expect.stringContaining(`"${group}" needs a command`)]);
      expect(errorLines(r.stderr)[0]).toContain('ERR_USAGE');
    }
    for (const args of [['release', '--help'], ['help', 'release'], ['release', 'help']]) {
      const r = await runCli(args);
      expect(r.code, args.join(' ')).toBe(0);
      expect(r.stdout).toContain('publish BUILD_DIR --feed FEED_DIR');
    }
  });

  it('release <command> --help prints that command alone, not the whole publisher usage', async () => {
    const others = { keygen: 'publish BUILD_DIR', publish: 'keygen --out DIR', rollout: 'manifest --version V', manifest: 'rollout --feed FEED_DIR' };
    for (const [command, other] of Object.entries(others)) {
      const r = await runCli(['release', command, '--help']);
      expect(r.code).toBe(0);
      expect(r.stdout.split('\n')[0]).toMatch(new RegExp(`^Usage: upkeep release ${command} [A-Z-]`));
      expect(r.stdout).not.toContain(other);
      expect(r.stdout).toContain('upkeep release --help');
    }
    const all = await runCli(['release', '--help']);
    for (const command of Object.keys(others)) expect(all.stdout).toContain(`\n  ${command} `);
  });
});

describe('unknown commands and options', () => {
  const cases: [string[], RegExp][] = [
    [['aply'], /^error: Unknown command "aply"\. Did you mean "apply"\?/],
    [['rollbak', '--help'], /^error: Unknown command "rollbak"\. Did you mean "rollback"\?/],
    [['apply', '--verfy-only'], /^error: Unknown option "--verfy-only" for "apply"\. Did you mean "--verify-only"\?/],
    [['daemon', '--prot', '1'], /^error: Unknown option "--prot" for "daemon"\. Did you mean "--port"\?/],
    [['status', '--version', '1'], /^error: Unknown option "--version" for "status"\. "status" takes no options\./],
    [['config', 'valdate'], /^error: Unknown command "config valdate"\. Did you mean "upkeep config validate"\?/],
    [['token', 'craete'], /^error: Unknown command "token craete"\. Did you mean "upkeep token create"\?/],
    [['release', 'publsh'], /^error: Unknown command "release publsh"\. Did you mean "upkeep release publish"\?/],
    [['release', '--bogus'], /^error: Unknown option "--bogus" for "release", which needs a command first: upkeep release /],
    [['release', 'publish', 'b', '--feeed', 'f'], /^error: release publish: unknown option "--feeed"\. Did you mean "--feed"\?/],
    [['apply', '--version'], /^error: apply: Option '--version <value>' argument missing\. Run "upkeep apply --help"\./],
    // An empty config file name is refused, never read as "no --config" (./upkeep.yaml or $UPKEEP_CONFIG).
    [['--config=', 'status'], /^error: --config needs a file/],
    [['--config', '', 'status'], /^error: --config needs a file/],
    [['-c', '', 'status'], /^error: --config needs a file/],
  ];
  for (const [args, re] of cases) {
    it(`upkeep ${args.join(' ')} → exit 2 and one line`, async () => {
      const r = await runCli(args);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(re);
      expect(r.stderr).toMatch(/\(ERR_USAGE\)\n$/);
    });
  }

  it('with --json the error is one JSON document', async () => {
    const r = await runCli(['apply', '--verfy-only', '--json']);
    expect(r.code).toBe(2);
    expect(r.json.error.code).toBe('ERR_USAGE');
    expect(r.json.error.message).toContain('Did you mean "--verify-only"?');
  });

  it('suggest() only offers close names', () => {
    expect(suggest('chek', ['check', 'apply'])).toBe('check');
    expect(suggest('ver', ['version', 'verify-only'])).toBeNull();
    expect(suggest('zzzzzz', ['check', 'apply'])).toBeNull();
    expect(suggest('prot', ['host', 'port'])).toBe('port');
  });
});

describe('operation output', () => {
  let dir: string;
  let config: string;
  beforeAll(async () => {
    dir = await tempDir('upkeep-cli-usage-');
    const keys = path.join(dir, 'keys');
    expect((await runCli(['release', 'keygen', '--out', keys])).code).toBe(0);
    await writeTree(path.join(dir, 'b1'), { 'a.txt': 'one\n' });
    const pub = (await fsp.readFile(path.join(keys, 'upkeep.pub'), 'utf8')).trim();
    expect((await runCli(['release', 'publish', path.join(dir, 'b1'), '--feed', path.join(dir, 'feed'), '--product', 'p', '--version', '1.0.0', '--key', path.join(keys, 'upkeep.key')])).code).toBe(0);
    config = path.join(dir, 'upkeep.yaml');
    const target = (id: string, hooks: string) => [
      `  - id: ${id}`, '    kind: files', `    install_dir: ./install-${id}`, '    product: p', '    feed: { url: ./feed }', `    trust: { keys: [${JSON.stringify(pub)}] }`, hooks,
    ].join('\n');
    await fsp.writeFile(config, ['state_dir: ./state', 'targets:', target('plain', ''), target('smoky', '    hooks: { smoke: "exit 3" }')].join('\n'));
  });
  afterAll(async () => {
    await fsp.rm(dir, { recursive: true, force: true });
  });

  it('a failed apply prints its error once and no phase line for hooks that are not set', async () => {
    const r = await runCli(['--config', config, 'apply', 'smoky']);
    expect(r.code).toBe(1);
    expect(errorLines(r.stderr)).toEqual([expect.stringMatching(/^error: smoke hook failed: exit code 3 .*\(ERR_HOOK_FAILED\)$/)]);
    expect(r.stderr).not.toMatch(/migrate/i);
    expect(r.stderr).toContain('smoke: Running smoke hook');
  });

  it('an apply without hooks shows no hook phases', async () => {
    const r = await runCli(['--config', config, 'apply', 'plain']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/hook/i);
    expect(errorLines(r.stderr)).toEqual([]);
  });
});

describe('Node.js version', () => {
  const engines = (JSON.parse(spawnSync('cat', [path.join(ROOT, 'package.json')], { encoding: 'utf8' }).stdout) as { engines: { node: string } }).engines.node;

  it('package.json engines is the intersection of what every installed dependency declares', async () => {
    const lock = JSON.parse(await fsp.readFile(path.join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { engines?: { node?: string } | string[] }> };
    const ranges = Object.entries(lock.packages)
      .filter(([p]) => p !== '')
      .map(([, info]) => (info.engines && !Array.isArray(info.engines) ? info.engines.node : undefined))
      .filter((r): r is string => typeof r === 'string' && semver.validRange(r) !== null);
    expect(ranges.length).toBeGreaterThan(20);
    // engines admits exactly the releases every declared range admits.
    const candidates: string[] = [];
    for (let major = 18; major <= 26; major++) for (let minor = 0; minor <= 40; minor++) candidates.push(`${major}.${minor}.0`);
    const admitted = candidates.filter((v) => ranges.every((r) => semver.satisfies(v, r)));
    expect(candidates.filter((v) => semver.satisfies(v, engines))).toEqual(admitted);
    expect(admitted.length).toBeGreaterThan(0);
  });

  it('checkNodeVersion refuses below the runtime range with one line, warns below engines', () => {
    const old = checkNodeVersion('v18.20.0', engines);
    expect(old.ok).toBe(false);
    expect(old.ok ? '' : old.message).toBe(`upkeep needs Node.js ${engines} (this is Node.js 18.20.0); install a newer Node.js (https://nodejs.org/) and run it again.`);
    expect(checkNodeVersion('v20.18.0', engines).ok).toBe(false);
    const between = checkNodeVersion('v20.19.0', '>=22.13.0');
    expect(between).toEqual({ ok: true, warning: 'warning: Node.js 20.19.0 is outside >=22.13.0, the range Upkeep\'s dependencies declare (package.json "engines"); upgrade Node.js to avoid surprises.' });
    expect(checkNodeVersion('v24.1.0', engines)).toEqual({ ok: true });
    expect(semver.subset(engines, RUNTIME_NODE_RANGE)).toBe(true);
  });

  it('the real bin/upkeep.js stops on an old Node.js before loading anything else', async () => {
    const dir = await tempDir('upkeep-node-old-');
    const fake = path.join(dir, 'old-node.cjs');
    // Node 18 has neither a 20.19+ version nor require() of ES modules (process.features.require_module).
    await fsp.writeFile(fake, "Object.defineProperty(process, 'version', { value: 'v18.19.1' });\nObject.defineProperty(process.features, 'require_module', { value: false });\n");
    const r = spawnSync(process.execPath, ['--require', fake, BIN, 'status'], { encoding: 'utf8', cwd: dir });
    await fsp.rm(dir, { recursive: true, force: true });
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`upkeep needs Node.js ${engines} (this is Node.js 18.19.1); install a newer Node.js (https://nodejs.org/) and run it again.\n`);
  });
});
