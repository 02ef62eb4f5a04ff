/**
 * `upkeep history` names the locally edited files an apply kept (on_local_change: keep), as
 * `upkeep apply` printed them: through the real command line, with the copy on disk.
 */
import { describe, it, expect } from 'vitest';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { runCli } from '../helpers/cli';
import { writeTree, tempDir } from '../helpers/tree';

describe('upkeep history after an apply that kept a locally edited file', () => {
  it('prints the kept copy under the apply line, and the copy holds the edit', async () => {
    const dir = await tempDir('upkeep-history-local-');
    const keys = path.join(dir, 'keys');
    expect((await runCli(['release', 'keygen', '--out', keys, '--json'])).code).toBe(0);
    const pub = (await fsp.readFile(path.join(keys, 'upkeep.pub'), 'utf8')).trim();
    const feed = path.join(dir, 'feed');
    const publish = async (version: string, conf: string) => {
      const b = path.join(dir, `build-${version}`);
      await writeTree(b, { 'config/app.conf': conf, 'VERSION': `${version}\n` });
      const r = await runCli(['release', 'publish', b, '--feed', feed, '--product', 'demo', '--version', version, '--key', path.join(keys, 'upkeep.key'), '--json']);
      expect(r.code, r.stderr).toBe(0);
    };
    const config = path.join(dir, 'upkeep.yaml');
    await fsp.writeFile(config, [
      'state_dir: ./state',
      'targets:',
      '  - id: demo',
      '    kind: files',
      '    install_dir: ./install',
      '    product: demo',
      '    on_local_change: keep',
      `    feed: { url: ${JSON.stringify(feed)} }`,
      `    trust: { keys: [${JSON.stringify(pub)}], threshold: 1 }`,
    ].join('\n'));
    await publish('1.0.0', 'greeting = 1\n');
    expect((await runCli(['--config', config, 'apply'])).code).toBe(0);
    await fsp.appendFile(path.join(dir, 'install', 'config', 'app.conf'), '# mine\n');
    await publish('1.1.0', 'greeting = 2\n');
    const applied = await runCli(['--config', config, 'apply', '--json']);
    expect(applied.code, applied.stderr).toBe(0);
    const keptAs = (JSON.parse(applied.stdout) as { local_copies: Array<{ path: string; kept_as: string }> }).local_copies[0].kept_as;
    expect(keptAs).toMatch(/^config\/app\.conf\.local-\d{4}-\d{2}-\d{2}$/);
    expect(await fsp.readFile(path.join(dir, 'install', keptAs), 'utf8')).toBe('greeting = 1\n# mine\n');

    const h = await runCli(['--config', config, 'history']);
    expect(h.code, h.stderr).toBe(0);
    const lines = h.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/ {2}demo {2}apply {4}1\.0\.0 -> 1\.1\.0 {2}success {2}by cli /);
    expect(lines[1]).toBe(`  config/app.conf was edited locally: your copy is kept as ${keptAs}`);
    expect(lines.slice(2).join('\n')).toMatch(/ {2}demo {2}apply {4}- -> 1\.0\.0 {2}success /);
  });
});
