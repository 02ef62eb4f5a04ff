/**
 * Archive items (a GitHub release's .tar.gz asset) installed into a files target through the
 * driver: extracted with the archive rules, applied under the journal, rolled back byte for byte;
 * a malicious archive is refused with ERR_UNSAFE_ARCHIVE and the install stays as it was.
 */
import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import * as tar from 'tar';
import { FilesTargetSchema } from '../../../src-main/engine/config/schema';
import { FilesDriver } from '../../../src-main/engine/drivers/files-driver';
import { systemClock } from '../../../src-main/engine/clock';
import { DEFAULT_LIMITS } from '../../../src-main/engine/limits';
import type { ApplyPlan } from '../../../src-main/engine/drivers/driver';
import type { Release } from '../../../src-main/engine/feed/release';
import { snapshot, tempDir, writeTree } from '../../helpers/tree';

const KEY = 'ed25519:' + Buffer.alloc(32, 5).toString('base64');

async function setup() {
  const root = await tempDir('upkeep-archive-driver-');
  const installDir = path.join(root, 'app');
  await writeTree(installDir, { 'bin/app': 'app 1.0.0\n', 'README': 'old readme\n' });
  const t = FilesTargetSchema.parse({ id: 'app', kind: 'files', install_dir: installDir, product: 'app', feed: { url: 'https://example.com/feed' }, trust: { keys: [KEY] } });
  const env = { paths: { stateDir: path.join(root, 'state'), pointsDir: path.join(root, 'points'), cacheDir: path.join(root, 'cache'), releasesDir: path.join(root, 'rel') }, reservedDirs: [], clock: systemClock, limits: DEFAULT_LIMITS };
  return { root, installDir, driver: new FilesDriver(t, env), env };
}

function planFor(file: string, bytes: Buffer, from: string | null, to: string): ApplyPlan {
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const release: Release = {
    version: to, tag_name: `v${to}`, product: 'app', channel: 'stable', released_at: null, notes: '', is_critical: false, informational: false,
    min_upgrade_from: null, migrations_required: false, breaking_changes: [], build_commit: null, rollout: null, verification: 'checksums',
    source: { feed_type: 'github', url: 'https://example.com', sha256: null, bytes: null },
    items: [{ kind: 'archive', name: `app-${to}.tar.gz`, format: 'tar.gz', size: bytes.length, digests: { sha256 }, url: 'https://example.com/a', strip_components: 1, into: '', platform: 'any', arch: 'any' }],
  };
  return { opId: `op_${to.replace(/\./g, '_')}`, from, to, release, artifacts: new Map([[`app-${to}.tar.gz`, { file, size: bytes.length, sha256 }]]), retention: 3 };
}

describe('files driver: archive items', () => {
  it('extracts a .tar.gz asset (strip_components 1) into the managed tree, and rolls back byte for byte', async () => {
    const s = await setup();
    // The first release as plain files, recorded by the driver itself.
    const src0 = path.join(s.root, 'src0');
    await writeTree(src0, { 'pkg/bin/app': 'app 1.0.0\n', 'pkg/README': 'old readme\n' });
    const a0 = path.join(s.root, 'a0.tgz');
    await tar.c({ gzip: true, file: a0, cwd: src0, portable: true }, ['pkg']);
    await fsp.rm(s.installDir, { recursive: true, force: true });
    const b0 = await fsp.readFile(a0);
    expect((await s.driver.apply(planFor(a0, b0, null, '1.0.0'), new AbortController().signal, () => undefined)).kind).toBe('committed');
    const before = await snapshot(s.installDir);

    const src = path.join(s.root, 'src');
    await writeTree(src, { 'pkg/bin/app': { data: 'app 1.1.0\n', mode: 0o755 }, 'pkg/lib/util.js': 'module.exports = 1;\n' });
    await fsp.symlink('util.js', path.join(src, 'pkg/lib/current.js'));
    const a1 = path.join(s.root, 'a1.tgz');
    await tar.c({ gzip: true, file: a1, cwd: src, portable: true }, ['pkg']);
    const out = await s.driver.apply(planFor(a1, await fsp.readFile(a1), '1.0.0', '1.1.0'), new AbortController().signal, () => undefined);
    expect(out).toMatchObject({ kind: 'committed', files_removed: ['README'] });
    expect(await fsp.readFile(path.join(s.installDir, 'bin/app'), 'utf8')).toBe('app 1.1.0\n');
    expect((await fsp.stat(path.join(s.installDir, 'bin/app'))).mode & 0o777).toBe(0o755);
    expect(await fsp.readlink(path.join(s.installDir, 'lib/current.js'))).toBe('util.js');
    await expect(fsp.access(path.join(s.installDir, 'README'))).rejects.toThrow();
    await expect(fsp.readdir(path.join(s.env.paths.stateDir, 'extract'))).resolves.toEqual([]);
    const rb = await s.driver.rollback(null, 'op-rb', new AbortController().signal, () => undefined);
    expect(rb.kind).toBe('committed');
    expect(await snapshot(s.installDir)).toEqual(before);
  });

  it('refuses an archive whose entries escape (zip-slip vector) with ERR_UNSAFE_ARCHIVE; the install is untouched', async () => {
    const s = await setup();
    const before = await snapshot(s.installDir);
    const evil = path.resolve(__dirname, '../../../../shared/vectors/malicious-archives/snyk-zip-slip/zip-slip.tar');
    const bytes = await fsp.readFile(evil);
    const plan = planFor(evil, bytes, '1.0.0', '6.6.6');
    const item = plan.release!.items[0]!;
    if (item.kind === 'archive') { item.format = 'tar'; item.strip_components = 0; }
    await expect(s.driver.apply(plan, new AbortController().signal, () => undefined)).rejects.toMatchObject({ code: 'ERR_UNSAFE_ARCHIVE' });
    expect(await snapshot(s.installDir)).toEqual(before);
  });
});
