/**
 * End to end through the real command line: keygen → publish 1.0.0 → apply (fresh install) →
 * publish 1.1.0 → check → apply → rollback → the install dir is byte-identical to 1.0.0,
 * for both layouts; plus exit codes and JSON shapes of the contract.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { runCli } from '../helpers/cli';
import { acquireTargetLock } from '../../src-main/engine/lock';
import { snapshot, writeTree, tempDir } from '../helpers/tree';

interface Fixture {
  dir: string;
  feed: string;
  key: string;
  pub: string;
}

async function fixture(): Promise<Fixture> {
  const dir = await tempDir('upkeep-e2e-');
  const keys = path.join(dir, 'keys');
  const r = await runCli(['release', 'keygen', '--out', keys, '--json']);
  expect(r.code, r.stderr).toBe(0);
  return { dir, feed: path.join(dir, 'feed'), key: path.join(keys, 'upkeep.key'), pub: (await fsp.readFile(path.join(keys, 'upkeep.pub'), 'utf8')).trim() };
}

async function build(f: Fixture, version: string, files: Parameters<typeof writeTree>[1]): Promise<string> {
  const b = path.join(f.dir, `build-${version}`);
  await writeTree(b, files);
  return b;
}

async function publish(f: Fixture, buildDir: string, version: string, extra: string[] = []): Promise<void> {
  const r = await runCli(['release', 'publish', buildDir, '--feed', f.feed, '--product', 'demo', '--version', version, '--channel', 'stable', '--key', f.key, ...extra, '--json']);
  expect(r.code, r.stderr + r.stdout).toBe(0);
}

async function writeConfig(f: Fixture, layout: 'in-place' | 'versioned', extra = ''): Promise<string> {
  const file = path.join(f.dir, `upkeep-${layout}.yaml`);
  await fsp.writeFile(file, [
    `state_dir: ./state-${layout}`,
    'targets:',
    '  - id: demo',
    '    name: Demo server',
    '    kind: files',
    `    layout: ${layout}`,
    `    install_dir: ./install-${layout}`,
    '    product: demo',
    `    feed: { url: ${JSON.stringify(f.feed)} }`,
    '    channel: stable',
    `    trust: { keys: [${JSON.stringify(f.pub)}], threshold: 1 }`,
    '    retention: 3',
    extra,
  ].join('\n'));
  return file;
}

const V1 = {
  'bin/demo': { data: '#!/bin/sh\necho demo 1.0.0\n', mode: 0o755 },
  'lib/core.so': 'core v1',
  'config/defaults.conf': { data: 'secret=1\n', mode: 0o600 },
  'share/old.txt': 'removed in 1.1.0',
  'README.md': '# Demo 1.0.0\n',
};
const V2 = {
  'bin/demo': { data: '#!/bin/sh\necho demo 1.1.0\n', mode: 0o755 },
  'lib/core.so': 'core v1',
  'config/defaults.conf': { data: 'secret=2\n', mode: 0o600 },
  'share/new/added.txt': 'added in 1.1.0',
  'README.md': '# Demo 1.1.0\n',
};

describe.each(['in-place', 'versioned'] as const)('CLI end to end (%s layout)', (layout) => {
  let f: Fixture;
  let config: string;
  const installOf = () => path.join(f.dir, `install-${layout}`);
  const treeOf = async () => layout === 'versioned' ? snapshot(path.join(installOf(), 'current') + '/') : snapshot(installOf());

  beforeAll(async () => {
    f = await fixture();
    config = await writeConfig(f, layout);
  });
  afterAll(async () => {
    await fsp.rm(f.dir, { recursive: true, force: true });
  });

  it('publishes, installs, updates and rolls back to a byte-identical tree', async () => {
    const b1 = await build(f, '1.0.0', V1);
    await publish(f, b1, '1.0.0', ['--notes', await notes(f, '## 1.0.0\nFirst release')]);

    const st0 = await runCli(['--config', config, 'status', '--json']);
    expect(st0.code, st0.stderr).toBe(0);
    expect(st0.json[0].current_version).toBeNull();

    const a1 = await runCli(['--config', config, 'apply', '--json']);
    expect(a1.code, a1.stderr + a1.stdout).toBe(0);
    expect(a1.json).toMatchObject({ success: true, version: '1.0.0', verify_only: false });
    expect(a1.json.files_updated.sort()).toEqual(Object.keys(V1).sort());
    const v1Tree = await treeOf();
    expect(v1Tree).toEqual(await snapshot(b1));

    const b2 = await build(f, '1.1.0', V2);
    await publish(f, b2, '1.1.0', ['--notes', await notes(f, '## 1.1.0\n- faster'), '--critical']);

    const c = await runCli(['--config', config, 'check', '--json']);
    expect(c.code, c.stderr).toBe(0);
    expect(c.json).toMatchObject({ target: 'demo', current_version: '1.0.0', latest_version: '1.1.0', update_available: true, is_critical: true });
    expect(c.json.release_notes).toContain('faster');

    const dry = await runCli(['--config', config, 'apply', '--verify-only', '--json']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.json).toMatchObject({ success: true, verify_only: true, version: '1.1.0' });
    expect(await treeOf()).toEqual(v1Tree);

    const a2 = await runCli(['--config', config, 'apply', '--json']);
    expect(a2.code, a2.stderr + a2.stdout).toBe(0);
    expect(a2.json).toMatchObject({ success: true, version: '1.1.0', verify_only: false });
    expect(a2.json.rollback_id).toMatch(/^rb_/);
    expect(await treeOf()).toEqual(await snapshot(b2));

    const pts = await runCli(['--config', config, 'points', '--json']);
    expect(pts.code).toBe(0);
    expect(pts.json[0]).toMatchObject({ rollback_id: a2.json.rollback_id, target: 'demo', from_version: '1.0.0', to_version: '1.1.0' });
    expect(typeof pts.json[0].created_at).toBe('string');
    expect(typeof pts.json[0].size_bytes).toBe('number');

    const upToDate = await runCli(['--config', config, 'apply', '--json']);
    expect(upToDate.code).toBe(0);
    expect(upToDate.json.up_to_date).toBe(true);

    const rb = await runCli(['--config', config, 'rollback', '--json']);
    expect(rb.code, rb.stderr + rb.stdout).toBe(0);
    expect(rb.json).toMatchObject({ success: true, version: '1.0.0', from_version: '1.1.0' });
    expect(await treeOf()).toEqual(v1Tree);

    const st = await runCli(['--config', config, 'status', 'demo', '--json']);
    expect(st.json.current_version).toBe('1.0.0');

    const h = await runCli(['--config', config, 'history', '--json']);
    expect(h.code).toBe(0);
    const ops = h.json.map((r: any) => `${r.operation}:${r.result}`);
    expect(ops).toEqual(expect.arrayContaining(['apply:success', 'rollback:success', 'verify:success', 'check:success']));
    expect(h.json[0]).toMatchObject({ operation: 'rollback', actor: 'cli', from_version: '1.1.0', to_version: '1.0.0' });
  });

  it('refuses a downgrade, an unknown version and an unknown rollback point with their exit codes', async () => {
    const down = await runCli(['--config', config, 'apply', '--version', '0.9.0', '--json']);
    expect(down.code).toBe(2);
    expect(down.json.error.code).toBe('ERR_MANIFEST_NOT_FOUND');
    const rb = await runCli(['--config', config, 'rollback', 'rb_nope', '--json']);
    expect(rb.code).toBe(2);
    expect(rb.json.error.code).toBe('ERR_ROLLBACK_POINT_NOT_FOUND');
  });
});

describe('CLI contract', () => {
  it('prints help and exits 2 on usage errors with a JSON error document', async () => {
    const help = await runCli(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('upkeep [--config FILE] [--json] <command>');
    const bad = await runCli(['frobnicate', '--json']);
    expect(bad.code).toBe(2);
    expect(bad.json).toEqual({ error: { code: 'ERR_USAGE', message: expect.any(String) } });
  });

  it('reports a missing or invalid config with ERR_CONFIG_INVALID and the line', async () => {
    const dir = await tempDir();
    try {
      const missing = await runCli(['--config', path.join(dir, 'nope.yaml'), 'status', '--json']);
      expect(missing.code).toBe(2);
      expect(missing.json.error.code).toBe('ERR_CONFIG_INVALID');
      const file = path.join(dir, 'bad.yaml');
      await fsp.writeFile(file, 'state_dir: ./s\ntargets:\n  - id: demo\n    kind: files\n    install_dir: ./i\n    product: demo\n    feed: { url: ./feed }\n    trust: { keys: [], threshold: 1 }\n');
      const v = await runCli(['config', 'validate', file, '--json']);
      expect(v.code).toBe(2);
      expect(v.json.error.code).toBe('ERR_CONFIG_INVALID');
      expect(v.json.error.message).toMatch(/:8:/);
      expect(v.json.error.message).toContain('trust.keys');
    } finally {
      await fsp.rm(dir, { recursive: true, force: true });
    }
  });
});

describe('upkeep status while another process works on a target', () => {
  it('names the live holder of the target lock on a busy: line, and drops it once the lock is free', async () => {
    const f = await fixture();
    try {
      const config = await writeConfig(f, 'in-place');
      const lock = await acquireTargetLock(path.join(f.dir, 'state-in-place'), 'demo', { actor: 'api', opId: 'op_busy_test' });
      const busy = await runCli(['--config', config, 'status']);
      expect(busy.code, busy.stderr).toBe(0);
      expect(busy.stdout).toMatch(new RegExp(`^  busy:      api \\(pid ${process.pid} on .+\\) runs operation op_busy_test since ${lock.holder.since.replace(/[.]/g, '\\.')}$`, 'm'));
      // The JSON document keeps the TargetView shape.
      const json = await runCli(['--config', config, 'status', '--json']);
      expect(json.code).toBe(0);
      expect(json.json[0].id).toBe('demo');
      await lock.release();
      const free = await runCli(['--config', config, 'status']);
      expect(free.code).toBe(0);
      expect(free.stdout).not.toContain('busy:');
    } finally {
      await fsp.rm(f.dir, { recursive: true, force: true });
    }
  });
});

async function notes(f: Fixture, text: string): Promise<string> {
  const file = path.join(f.dir, `notes-${Math.random().toString(36).slice(2)}.md`);
  await fsp.writeFile(file, text);
  return file;
}
