import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { scanBuild } from '../../../src-main/engine/publish/build-scan';

let tmp: string;
let build: string;
const sha256 = (b: string) => createHash('sha256').update(b).digest('hex');

beforeEach(async () => {
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'upkeep-scan-'));
  build = path.join(tmp, 'build');
  await fsp.mkdir(path.join(build, 'bin'), { recursive: true });
  await fsp.writeFile(path.join(build, 'bin/tool'), 'tool');
  await fsp.chmod(path.join(build, 'bin/tool'), 0o755);
  await fsp.writeFile(path.join(build, 'data.txt'), 'data');
  await fsp.chmod(path.join(build, 'data.txt'), 0o640);
});
afterEach(async () => {
  await fsp.rm(tmp, { recursive: true, force: true });
});

describe('scanBuild', () => {
  it('lists regular files sorted by path with hash, size, mode and type', async () => {
    const scan = await scanBuild(build);
    expect(scan.files.map(({ source: _s, ...f }) => f)).toEqual([
      { path: 'bin/tool', sha256: sha256('tool'), size: 4, mode: 0o755, type: 'executable' },
      { path: 'data.txt', sha256: sha256('data'), size: 4, mode: 0o640, type: 'file' },
    ]);
    expect(scan.bytes).toBe(8);
    expect(scan.warnings).toEqual([]);
  });

  it('records an in-build symlink as a link with its relative target, not the bytes it points to', async () => {
    await fsp.symlink('tool', path.join(build, 'bin/tool-alias'));
    const scan = await scanBuild(build);
    const alias = scan.files.find((f) => f.path === 'bin/tool-alias')!;
    expect(alias).toMatchObject({ type: 'symlink', target: 'tool', sha256: '', size: 0, mode: 0 });
  });

  it('records a link to an in-build directory as a link; refuses links that leave the build, are absolute, or dangle', async () => {
    await fsp.symlink('bin', path.join(build, 'dirlink'));
    expect((await scanBuild(build)).files.find((f) => f.path === 'dirlink')).toMatchObject({ type: 'symlink', target: 'bin' });
    await fsp.unlink(path.join(build, 'dirlink'));

    await fsp.writeFile(path.join(tmp, 'outside'), 'x');
    await fsp.symlink('../../outside', path.join(build, 'bin/escape'));
    await expect(scanBuild(build)).rejects.toMatchObject({ code: 'ERR_UNSAFE_PATH', details: { path: 'bin/escape' } });
    await fsp.unlink(path.join(build, 'bin/escape'));

    await fsp.symlink(path.join(build, 'bin/tool'), path.join(build, 'abs'));
    await expect(scanBuild(build)).rejects.toMatchObject({ code: 'ERR_UNSAFE_PATH', details: { path: 'abs' } });
    await fsp.unlink(path.join(build, 'abs'));

    await fsp.symlink('nowhere', path.join(build, 'dangling'));
    await expect(scanBuild(build)).rejects.toMatchObject({ code: 'ERR_USAGE', message: expect.stringMatching(/dangling/) });
  });

  it.runIf(process.platform !== 'win32')('refuses special files and paths with a backslash', async () => {
    execFileSync('mkfifo', [path.join(build, 'pipe')]);
    await expect(scanBuild(build)).rejects.toMatchObject({ code: 'ERR_USAGE', message: expect.stringMatching(/pipe.*FIFO/) });
    await fsp.unlink(path.join(build, 'pipe'));

    await fsp.writeFile(path.join(build, 'evil\\name'), 'x');
    await expect(scanBuild(build)).rejects.toMatchObject({ code: 'ERR_UNSAFE_PATH', message: expect.stringMatching(/backslash/) });
  });

  it('refuses a missing or empty build and too many files; reports empty directories', async () => {
    await expect(scanBuild(path.join(tmp, 'missing'))).rejects.toMatchObject({ code: 'ERR_USAGE' });
    await fsp.mkdir(path.join(tmp, 'empty'));
    await expect(scanBuild(path.join(tmp, 'empty'))).rejects.toMatchObject({ code: 'ERR_USAGE' });
    await expect(scanBuild(build, 1)).rejects.toMatchObject({ code: 'ERR_USAGE', message: expect.stringMatching(/more than 1/) });
    await fsp.mkdir(path.join(build, 'logs'));
    expect((await scanBuild(build)).warnings).toEqual([expect.stringMatching(/"logs"/)]);
  });
});
