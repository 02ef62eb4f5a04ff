/**
 * The disk fills up after the switch, before the commit is recorded (here: a smoke hook fills the
 * small filesystem holding the install and state dirs, as a log or a core dump would): the commit
 * record cannot be written, so the apply must be undone at once — the install dir byte-identical,
 * no journal, no new rollback point — and reported as ERR_DISK_FULL naming the state dir, not as a
 * rollback that has not happened. Skipped where mounting a tmpfs is refused.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, promises as fsp, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli';
import { snapshot, writeTree } from '../helpers/tree';

const MNT = mkdtempSync(path.join(os.tmpdir(), 'upkeep-full-commit-'));
let mounted = false;
try {
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', MNT], { stdio: 'pipe' });
  mounted = true;
} catch (err) {
  console.warn(`disk-full commit tests skipped: mounting an 8 MiB tmpfs was refused (${(err as Error).message.split('\n')[0]})`);
}
afterAll(() => {
  if (mounted) execFileSync('umount', [MNT]);
  rmSync(MNT, { recursive: true, force: true });
});

describe.skipIf(!mounted)('upkeep apply when the disk fills between the switch and the commit', () => {
  it('undoes the switch at once: ERR_DISK_FULL naming the state dir, install byte-identical, no journal or new point; the retry applies', async () => {
    const dir = path.join(MNT, 'work');
    const filler = path.join(MNT, 'filler');
    const keys = path.join(dir, 'keys');
    expect((await runCli(['release', 'keygen', '--out', keys])).code).toBe(0);
    const publish = async (v: string, files: Record<string, string>) => {
      await writeTree(path.join(dir, `b${v}`), files);
      const r = await runCli(['release', 'publish', path.join(dir, `b${v}`), '--feed', path.join(dir, 'feed'), '--product', 'demo', '--version', v, '--key', path.join(keys, 'upkeep.key')]);
      expect(r.code, r.stderr).toBe(0);
    };
    await publish('1.0.0', { 'bin/demo': 'demo 1.0.0\n', 'README': 'hello\n', 'old-only.txt': 'dropped by 2.0.0\n' });
    const pub = (await fsp.readFile(path.join(keys, 'upkeep.pub'), 'utf8')).trim();
    const config = path.join(dir, 'upkeep.yaml');
    await fsp.writeFile(config, [
      'state_dir: ./state', 'targets:', '  - id: demo', '    kind: files', '    install_dir: ./install', '    product: demo',
      '    feed: { url: ./feed }', `    trust: { keys: [${JSON.stringify(pub)}] }`,
    ].join('\n'));
    let r = await runCli(['--config', config, 'apply']);
    expect(r.code, r.stderr).toBe(0);
    // Fills the filesystem and succeeds: the switch is verified, the commit record is next.
    await fsp.appendFile(config, `\n    hooks: { smoke: "dd if=/dev/zero of=${filler} bs=64k 2>/dev/null; true" }\n`);
    await publish('2.0.0', { 'bin/demo': 'demo 2.0.0\n', 'README': 'hello again\n', 'new-only.txt': 'new\n' });
    const install = path.join(dir, 'install');
    const before = await snapshot(install);
    const pointsBefore = readdirSync(path.join(dir, 'state', 'points', 'demo')).sort();

    r = await runCli(['--config', config, 'apply', '--json']);
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.json.error.code).toBe('ERR_DISK_FULL');
    expect(r.json.error.message).toContain(path.join(dir, 'state'));
    expect(existsSync(filler)).toBe(true);
    // Undone now, not at the next start: the tree, the journal and the points are as before.
    expect(await snapshot(install)).toEqual(before);
    expect(existsSync(path.join(dir, 'state', 'targets', 'demo', 'journal.json'))).toBe(false);
    expect(readdirSync(path.join(dir, 'state', 'points', 'demo')).sort()).toEqual(pointsBefore);

    await fsp.rm(filler);
    r = await runCli(['--config', config, 'status', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.stringify(r.json)).toContain('"1.0.0"');
    expect(await snapshot(install)).toEqual(before);
    await fsp.writeFile(config, (await fsp.readFile(config, 'utf8')).replace(/\n {4}hooks:.*\n/, '\n'));
    r = await runCli(['--config', config, 'apply']);
    expect(r.code, r.stderr).toBe(0);
    expect(await fsp.readFile(path.join(install, 'bin/demo'), 'utf8')).toBe('demo 2.0.0\n');
    expect(existsSync(path.join(install, 'old-only.txt'))).toBe(false);
  });
});
