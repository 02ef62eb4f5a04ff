/**
 * Hooks under a packaged Upkeep: an AppImage's additions to the environment never reach them.
 */
import { describe, it, expect } from 'vitest';
import { childEnv } from '../../src-main/engine/child-env';
import { runCommand } from '../../src-main/engine/hooks';

const appimage = {
  APPIMAGE: '/home/u/Apps/Upkeep-x86_64.AppImage',
  APPDIR: '/tmp/.mount_UpkeepXy',
  ARGV0: 'Upkeep',
  OWD: '/home/u',
  PATH: '/tmp/.mount_UpkeepXy:/tmp/.mount_UpkeepXy/usr/sbin:/usr/local/bin:/usr/bin:/bin',
  LD_LIBRARY_PATH: '/tmp/.mount_UpkeepXy/usr/lib',
  XDG_DATA_DIRS: '/tmp/.mount_UpkeepXy/usr/share/:/usr/local/share:/usr/share',
  HOME: '/home/u',
  ELECTRON_RUN_AS_NODE: '1',
  NODE_PATH: '/opt/Upkeep/resources/app.asar/node_modules',
};

describe('childEnv', () => {
  it('drops the AppImage mount from search paths and its own variables; keeps the rest', () => {
    const env = childEnv(appimage);
    expect(env.PATH).toBe('/usr/local/bin:/usr/bin:/bin');
    expect(env.LD_LIBRARY_PATH).toBeUndefined();
    expect(env.XDG_DATA_DIRS).toBe('/usr/local/share:/usr/share');
    for (const k of ['APPIMAGE', 'APPDIR', 'ARGV0', 'OWD', 'ELECTRON_RUN_AS_NODE', 'NODE_PATH']) expect(env).not.toHaveProperty(k);
    expect(env.HOME).toBe('/home/u');
  });

  it('leaves a normal environment as it is', () => {
    const env = { PATH: '/usr/bin:/bin', LD_LIBRARY_PATH: '/opt/lib', HOME: '/root' };
    expect(childEnv(env)).toEqual(env);
  });

  it.runIf(process.platform !== 'win32')('a hook started from an AppImage-launched process sees the clean environment', async () => {
    const saved = { ...process.env };
    try {
      Object.assign(process.env, { ...appimage, PATH: `/tmp/.mount_UpkeepXy:${saved.PATH ?? '/usr/bin:/bin'}` });
      const r = await runCommand('echo "PATH=$PATH"; echo "LD=${LD_LIBRARY_PATH-unset}"; echo "AI=${APPIMAGE-unset}"', { timeoutMs: 10_000 });
      expect(r.stdout).toContain(`PATH=${saved.PATH ?? '/usr/bin:/bin'}\n`);
      expect(r.stdout).toContain('LD=unset\n');
      expect(r.stdout).toContain('AI=unset\n');
    } finally {
      for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
      Object.assign(process.env, saved);
    }
  });
});
