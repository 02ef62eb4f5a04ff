/**
 * Persisted state is read through schemas: a corrupt journal, installed.json, point.json,
 * runtime.json, feed memory or command-state.json makes the real CLI fail with ERR_STATE_CORRUPT
 * (exit 5) naming the file (`upkeep points` lists the points, the damaged one with that error),
 * and neither the install nor the corrupt file changes. `upkeep status`
 * still lists every target: the damaged one with that error, the others as they are (exit 5).
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCli } from '../helpers/cli';
import { snapshot } from '../helpers/tree';
import { pointFiles } from '../helpers/state-files';
import { feedRoot } from '../../src-main/engine/feed/native-feed';
import { feedStateDir } from '../../src-main/engine/state/store';

let dir: string;
let config: string;
const install = () => path.join(dir, 'install');
const stateOf = (id: string) => path.join(dir, 'state', 'targets', id);

const cli = (...args: string[]) => runCli(['--config', config, ...args, '--json'], { timeoutMs: 120_000 });

/**
 * The error a command reports: `status` prints the target's view with the damage as its
 * `last_error` (and still exits 5); `points` lists the points, a damaged one with its `error`
 * (exit 5); every other command prints `{ error }`.
 */
const errorOf = (args: string[], r: { json?: any }) => {
  if (args[0] === 'status') return r.json?.last_error;
  if (args[0] === 'points' && Array.isArray(r.json)) return (r.json as Array<{ error?: unknown }>).find((p) => p.error)?.error;
  return r.json?.error;
};

/** The newest point's point.json (a rollback by default needs it). */
const newestPointFile = async () => (await pointFiles(dir, 'demo'))[0]!;

async function build(version: string): Promise<string> {
  const b = path.join(dir, `build-${version}`);
  await fsp.mkdir(path.join(b, 'bin'), { recursive: true });
  await fsp.writeFile(path.join(b, 'bin', 'app'), `#!/bin/sh\necho ${version}\n`, { mode: 0o755 });
  await fsp.writeFile(path.join(b, 'readme.txt'), `release ${version}\n`);
  if (version !== '1.0.0') await fsp.writeFile(path.join(b, `new-in-${version}.txt`), version);
  return b;
}

beforeAll(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'upkeep-corrupt-'));
  const keys = path.join(dir, 'keys');
  expect((await runCli(['release', 'keygen', '--out', keys])).code).toBe(0);
  const pub = (await fsp.readFile(path.join(keys, 'upkeep.pub'), 'utf8')).trim();
  for (const v of ['1.0.0', '1.1.0', '1.2.0']) {
    const r = await runCli(['release', 'publish', await build(v), '--feed', path.join(dir, 'feed'), '--product', 'demo', '--version', v, '--key', path.join(keys, 'upkeep.key')]);
    expect(r.code, r.stderr).toBe(0);
  }
  config = path.join(dir, 'upkeep.yaml');
  await fsp.writeFile(config, [
    'state_dir: ./state',
    'targets:',
    '  - id: demo',
    '    kind: files',
    '    install_dir: ./install',
    '    product: demo',
    `    feed: { url: ${JSON.stringify(path.join(dir, 'feed'))} }`,
    `    trust: { keys: [${JSON.stringify(pub)}] }`,
    '  - id: stack',
    '    kind: command',
    '    install_dir: ./stack',
    '    initial_version: 1.0.0',
    '    steps: { switch: "true", rollback: "true" }',
  ].join('\n'));
  await fsp.mkdir(path.join(dir, 'stack'), { recursive: true });
  for (const args of [['apply', 'demo', '--version', '1.0.0'], ['apply', 'demo', '--version', '1.1.0'], ['check', 'demo'], ['apply', 'stack', '--version', '2.0.0']]) {
    const r = await cli(...args);
    expect(r.code, r.stdout + r.stderr).toBe(0);
  }
}, 300_000);

afterAll(async () => {
  await fsp.rm(dir, { recursive: true, force: true });
});

/** The files under test, each with the commands that must refuse while it is corrupt. */
function cases(): Array<{ kind: string; file: () => Promise<string>; commands: string[][] }> {
  return [
    { kind: 'journal', file: async () => path.join(stateOf('demo'), 'journal.json'), commands: [['status', 'demo'], ['apply', 'demo'], ['rollback', 'demo']] },
    { kind: 'installed.json', file: async () => path.join(stateOf('demo'), 'installed.json'), commands: [['status', 'demo'], ['apply', 'demo']] },
    {
      kind: 'point.json',
      file: newestPointFile,
      commands: [['points', 'demo'], ['rollback', 'demo'], ['apply', 'demo']],
    },
    { kind: 'runtime.json', file: async () => path.join(stateOf('demo'), 'runtime.json'), commands: [['status', 'demo'], ['check', 'demo'], ['apply', 'demo']] },
    {
      kind: 'feed memory',
      file: async () => path.join(feedStateDir(path.join(dir, 'state'), feedRoot(path.join(dir, 'feed')), 'stable'), 'memory.json'),
      commands: [['check', 'demo'], ['apply', 'demo']],
    },
    { kind: 'command-state.json', file: async () => path.join(stateOf('stack'), 'command-state.json'), commands: [['status', 'stack'], ['points', 'stack'], ['rollback', 'stack']] },
  ];
}

const DAMAGE = [
  { what: 'truncated JSON', bytes: '{"version": "1.' },
  { what: 'wrong shape', bytes: '{"v": 1, "phase": "sideways", "version": 7, "files": "all", "points": {}, "sequence": "x"}\n' },
];

describe('corrupt state files', () => {
  for (const c of cases()) {
    it(`${c.kind}: every command refuses with ERR_STATE_CORRUPT naming it, nothing changes`, async () => {
      const file = await c.file();
      const original = await fsp.readFile(file).catch(() => null);
      if (c.kind !== 'journal') expect(original, `${file} exists before the test`).not.toBeNull();
      try {
        for (const d of DAMAGE) {
          await fsp.writeFile(file, d.bytes);
          const before = await snapshot(install());
          const stackBefore = await snapshot(path.join(dir, 'stack'));
          for (const args of c.commands) {
            const r = await cli(...args);
            expect(r.code, `${args.join(' ')} with ${d.what} ${c.kind}: ${r.stdout}${r.stderr}`).toBe(5);
            expect(errorOf(args, r)?.code).toBe('ERR_STATE_CORRUPT');
            expect(errorOf(args, r).message).toContain(file);
            expect(errorOf(args, r).details.file).toBe(file);
            expect(await snapshot(install())).toEqual(before);
            expect(await snapshot(path.join(dir, 'stack'))).toEqual(stackBefore);
            expect(await fsp.readFile(file, 'utf8')).toBe(d.bytes);
          }
        }
        // Without --json the message names the file too.
        const plain = await runCli(['--config', config, ...c.commands[0]!]);
        expect(plain.code).toBe(5);
        expect(plain.stderr).toContain(file);
        expect(plain.stderr).toContain('ERR_STATE_CORRUPT');
      } finally {
        if (original === null) await fsp.rm(file, { force: true });
        else await fsp.writeFile(file, original);
      }
      // Repaired: the same commands work again.
      const st = await cli('status', c.commands[0]![1]!);
      expect(st.code, st.stdout + st.stderr).toBe(0);
    }, 180_000);
  }

  it('upkeep status of every target lists them all, the damaged one with its error, and exits 5', async () => {
    const damage = [
      { file: path.join(stateOf('demo'), 'installed.json'), field: 'version', names: 'version:', installed: 'unknown' },
      { file: await newestPointFile(), field: 'to_version', names: 'to_version:', installed: '1.1.0' },
      { file: path.join(stateOf('demo'), 'runtime.json'), field: 'version', names: 'version', installed: '1.1.0' },
      { file: path.join(stateOf('demo'), 'journal.json'), field: null, names: 'not JSON', installed: '1.1.0' },
    ];
    for (const d of damage) {
      const original = await fsp.readFile(d.file, 'utf8').catch(() => null);
      const doc = d.field ? { ...(JSON.parse(original!) as Record<string, unknown>), [d.field]: 5 } : null;
      await fsp.writeFile(d.file, doc ? JSON.stringify(doc) : '{ torn');
      try {
        const json = await cli('status');
        expect(json.code, json.stdout + json.stderr).toBe(5);
        const views = json.json as Array<{ id: string; current_version: string | null; last_error: { code: string; message: string; details?: { file?: string } } | null }>;
        expect(views.map((v) => v.id)).toEqual(['demo', 'stack']);
        expect(views[1]).toMatchObject({ current_version: '2.0.0', last_error: null });
        expect(views[0]!.last_error).toMatchObject({ code: 'ERR_STATE_CORRUPT', details: { file: d.file } });
        expect(views[0]!.last_error!.message).toContain(d.file);
        expect(views[0]!.last_error!.message).toContain(d.names);

        const plain = await runCli(['--config', config, 'status']);
        expect(plain.code).toBe(5);
        expect(plain.stdout).toContain('stack (stack)\n  installed: 2.0.0\n');
        expect(plain.stdout).toContain(`demo (demo)\n  installed: ${d.installed}\n  state:     failed: Corrupt state file ${d.file}`);
        expect(plain.stdout).toContain('(ERR_STATE_CORRUPT)');
        expect(plain.stderr).toContain(`error: demo: Corrupt state file ${d.file}`);
        // One target's status says the same; the other target's status is untouched.
        const one = await runCli(['--config', config, 'status', 'demo']);
        expect(one.code).toBe(5);
        expect(one.stdout).toContain(`state:     failed: Corrupt state file ${d.file}`);
        const other = await runCli(['--config', config, 'status', 'stack']);
        expect(other.code, other.stderr).toBe(0);
        expect(other.stderr).toBe('');
      } finally {
        if (original === null) await fsp.rm(d.file, { force: true });
        else await fsp.writeFile(d.file, original);
      }
    }
    const ok = await runCli(['--config', config, 'status']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stderr).toBe('');
  }, 180_000);

  it('a symbolic link at installed.json or point.json (to a valid copy) is refused like a corrupt file: exit 5, nothing switched', async () => {
    const cases: Array<{ file: string; commands: string[][] }> = [
      { file: path.join(stateOf('demo'), 'installed.json'), commands: [['status', 'demo'], ['apply', 'demo'], ['rollback', 'demo']] },
      { file: await newestPointFile(), commands: [['points', 'demo'], ['rollback', 'demo'], ['apply', 'demo']] },
    ];
    for (const c of cases) {
      const copy = path.join(dir, 'elsewhere.json');
      const original = await fsp.readFile(c.file);
      await fsp.writeFile(copy, original);
      await fsp.rm(c.file);
      await fsp.symlink(copy, c.file);
      try {
        const before = await snapshot(install());
        for (const args of c.commands) {
          const r = await cli(...args);
          expect(r.code, `${args.join(' ')} with ${c.file} a link: ${r.stdout}${r.stderr}`).toBe(5);
          expect(errorOf(args, r)?.code).toBe('ERR_STATE_CORRUPT');
          expect(errorOf(args, r).details.file).toBe(c.file);
          expect(errorOf(args, r).message).toContain('symbolic link');
          expect(await snapshot(install())).toEqual(before);
          expect((await fsp.lstat(c.file)).isSymbolicLink()).toBe(true);
          expect(await fsp.readFile(copy)).toEqual(original);
        }
      } finally {
        await fsp.rm(c.file, { force: true });
        await fsp.writeFile(c.file, original);
      }
      const st = await cli('status', 'demo');
      expect(st.code, st.stdout + st.stderr).toBe(0);
    }
  }, 180_000);
});
