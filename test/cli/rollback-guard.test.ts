/**
 * `upkeep rollback` as a person meets it: a mistyped rollback id is a usage error that changes
 * nothing and leaves no failed rollback in the history; rolling back to the first point
 * ("none -> 1.0.0") says it removes the installation, asks on a terminal, needs --yes otherwise.
 */
import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, promises as fsp } from 'node:fs';
import path from 'node:path';
import { BIN, runCli } from '../helpers/cli';
import { snapshot, tempDir, writeTree } from '../helpers/tree';

let dir: string;
let config: string;
const install = () => path.join(dir, 'install');

beforeEach(async () => {
  dir = await tempDir('upkeep-cli-rollback-');
  const keys = path.join(dir, 'keys');
  expect((await runCli(['release', 'keygen', '--out', keys])).code).toBe(0);
  await writeTree(path.join(dir, 'b1'), { 'bin/demo': 'demo 1.0.0\n', 'README': 'hello\n' });
  expect((await runCli(['release', 'publish', path.join(dir, 'b1'), '--feed', path.join(dir, 'feed'), '--product', 'demo', '--version', '1.0.0', '--key', path.join(keys, 'upkeep.key')])).code).toBe(0);
  const pub = (await fsp.readFile(path.join(keys, 'upkeep.pub'), 'utf8')).trim();
  config = path.join(dir, 'upkeep.yaml');
  await fsp.writeFile(config, [
    'state_dir: ./state', 'targets:', '  - id: demo', '    name: Demo service', '    kind: files', '    install_dir: ./install', '    product: demo',
    '    feed: { url: ./feed }', `    trust: { keys: [${JSON.stringify(pub)}] }`,
  ].join('\n'));
  const r = await runCli(['--config', config, 'apply']);
  expect(r.code, r.stderr).toBe(0);
});
afterEach(async () => {
  await fsp.rm(dir, { recursive: true, force: true });
});

async function rollbackRecords(): Promise<unknown[]> {
  const r = await runCli(['--config', config, 'history', '--json']);
  return (r.json as { kind: string }[]).filter((h) => h.kind === 'rollback');
}

/** Runs the CLI on a pseudo-terminal (util-linux `script`), feeding `answer` to its stdin. */
function onTerminal(args: string[], answer: string): { status: number | null; output: string } {
  const cmd = [process.execPath, BIN, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { input: answer, encoding: 'utf8', env: { ...process.env, UPKEEP_CONFIG: undefined } as NodeJS.ProcessEnv });
  return { status: r.status, output: r.stdout };
}

describe('upkeep rollback', () => {
  it('a mistyped rollback id is a usage error (exit 2) with a suggestion; nothing changes, nothing is recorded', async () => {
    const points = (await runCli(['--config', config, 'points', '--json'])).json as { rollback_id: string }[];
    expect(points).toHaveLength(1);
    const id = points[0]!.rollback_id;
    const typo = `${id.slice(0, -1)}${id.endsWith('0') ? '1' : '0'}`;
    const before = await snapshot(install());
    const r = await runCli(['--config', config, 'rollback', typo, '--yes']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`error: No rollback point "${typo}" for demo. Did you mean "${id}"? Run "upkeep points demo" to list them. (ERR_ROLLBACK_POINT_NOT_FOUND)\n`);
    expect(await snapshot(install())).toEqual(before);
    expect(await rollbackRecords()).toEqual([]);
  });

  it('a rollback to a damaged point says "Cannot roll back: rollback point <id> is damaged", as the API does (exit 5); nothing changes', async () => {
    const id = ((await runCli(['--config', config, 'points', '--json'])).json as { rollback_id: string }[])[0]!.rollback_id;
    const file = path.join(dir, 'state', 'points', 'demo', id, 'point.json');
    await fsp.writeFile(file, '{"rollback_id":');
    const before = await snapshot(install());
    const r = await runCli(['--config', config, 'rollback', id, '--yes']);
    expect(r.code).toBe(5);
    expect(r.stderr).toContain(`error: Cannot roll back: rollback point ${id} is damaged. Corrupt state file ${file}: not JSON (`);
    expect(r.stderr.endsWith('(ERR_STATE_CORRUPT)\n')).toBe(true);
    expect(await snapshot(install())).toEqual(before);
    expect(await rollbackRecords()).toEqual([]);
  });

  it('rolling back to the first point without a terminal needs --yes and says what it removes', async () => {
    const before = await snapshot(install());
    const r = await runCli(['--config', config, 'rollback']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('error: Rolling back demo to before 1.0.0 (none -> 1.0.0). This removes the installed files of Demo service. Run again with --yes to confirm. (ERR_USAGE)\n');
    expect(await snapshot(install())).toEqual(before);
    expect(await rollbackRecords()).toEqual([]);

    const yes = await runCli(['--config', config, 'rollback', '--yes']);
    expect(yes.code, yes.stderr).toBe(0);
    // The progress line says what happens to the files: they are removed, not restored.
    expect(yes.stderr).toMatch(/^rollback: Removing (bin\/demo|README)$/m);
    expect(yes.stderr).not.toContain('Restoring');
    expect(existsSync(path.join(install(), 'bin', 'demo'))).toBe(false);
    expect(existsSync(path.join(install(), 'README'))).toBe(false);
  });

  it('on a terminal it asks: "n" keeps the installation, "y" removes it', async () => {
    const before = await snapshot(install());
    const no = onTerminal(['--config', config, 'rollback'], 'n\n');
    expect(no.output).toContain('This removes the installed files of Demo service. Continue? [y/N]');
    expect(no.output).toContain('Rollback cancelled; nothing was changed.');
    expect(no.status).toBe(1);
    expect(await snapshot(install())).toEqual(before);

    const yes = onTerminal(['--config', config, 'rollback'], 'y\n');
    expect(yes.status, yes.output).toBe(0);
    expect(existsSync(path.join(install(), 'bin', 'demo'))).toBe(false);
  });
});
