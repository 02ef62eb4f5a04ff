/**
 * The desktop app's folders per platform, its starter config, and the command line finding the
 * same config file as the tray.
 */
import { describe, it, expect } from 'vitest';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { appPaths, cliConfigPath, isNoTargetsError, starterConfigText } from '../../src-main/engine/app-paths';
import { parseConfig } from '../../src-main/engine/config/load';
import { runCli } from '../helpers/cli';
import { tempDir } from '../helpers/tree';

describe('appPaths', () => {
  it('Linux: XDG config for config and state, XDG cache for downloads', () => {
    expect(appPaths('linux', {}, '/home/u')).toEqual({
      userData: '/home/u/.config/Upkeep', configFile: '/home/u/.config/Upkeep/upkeep.yaml', stateDir: '/home/u/.config/Upkeep/state',
      downloadDir: '/home/u/.cache/Upkeep/downloads', backupDir: '/home/u/.config/Upkeep/state/points', logFile: '/home/u/.config/Upkeep/logs/upkeep.log',
    });
    expect(appPaths('linux', { XDG_CONFIG_HOME: '/cfg', XDG_CACHE_HOME: '/c' }, '/home/u').downloadDir).toBe('/c/Upkeep/downloads');
  });

  it('macOS: Application Support, Caches and Logs', () => {
    const p = appPaths('darwin', {}, '/Users/u');
    expect(p.configFile).toBe('/Users/u/Library/Application Support/Upkeep/upkeep.yaml');
    expect(p.downloadDir).toBe('/Users/u/Library/Caches/Upkeep/downloads');
    expect(p.logFile).toBe('/Users/u/Library/Logs/Upkeep/upkeep.log');
  });

  it('Windows: config in the roaming profile, downloads and rollback points in the local one', () => {
    const p = appPaths('win32', { APPDATA: 'C:\\Users\\u\\AppData\\Roaming', LOCALAPPDATA: 'C:\\Users\\u\\AppData\\Local' }, 'C:\\Users\\u');
    expect(p.configFile).toBe('C:\\Users\\u\\AppData\\Roaming\\Upkeep\\upkeep.yaml');
    expect(p.downloadDir).toBe('C:\\Users\\u\\AppData\\Local\\Upkeep\\downloads');
    expect(p.backupDir).toBe('C:\\Users\\u\\AppData\\Local\\Upkeep\\points');
    expect(appPaths('win32', {}, 'C:\\Users\\u').downloadDir).toBe('C:\\Users\\u\\AppData\\Local\\Upkeep\\downloads');
  });
});

describe('starter config', () => {
  it('is valid YAML whose only complaint is the missing target, and keeps its paths', () => {
    const paths = appPaths('linux', {}, '/home/u');
    const text = starterConfigText(paths);
    let message = '';
    try {
      parseConfig(text, { file: paths.configFile, dir: paths.userData, env: {} });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(isNoTargetsError(message)).toBe(true);
    const withTarget = text.replace('targets: []', [
      'targets:', '  - id: myapp', '    kind: files', '    install_dir: /opt/myapp', '    product: myapp', '    feed: { url: "https://updates.example.com/myapp" }',
      '    trust: { keys: ["ed25519:mpLCq6wYjqe6FutJcIGUk58XI/rv+Pt0PzcuHDperx0="] }',
    ].join('\n'));
    const loaded = parseConfig(withTarget, { file: paths.configFile, dir: paths.userData, env: {} });
    expect(loaded.config.download_dir).toBe('/home/u/.cache/Upkeep/downloads');
    expect(loaded.config.state_dir).toBe('/home/u/.config/Upkeep/state');
  });
});

describe('the command line finds the tray config', () => {
  it('picks --config, $UPKEEP_CONFIG, ./upkeep.yaml, then the app file', () => {
    const exists = (set: string[]) => (p: string) => set.includes(p);
    const base = { env: {}, cwd: '/w', appConfig: '/h/.config/Upkeep/upkeep.yaml' };
    expect(cliConfigPath({ ...base, flag: 'x.yaml', exists: exists([]) }).file).toBe('/w/x.yaml');
    expect(cliConfigPath({ ...base, env: { UPKEEP_CONFIG: '/e.yaml' }, exists: exists([]) }).file).toBe('/e.yaml');
    expect(cliConfigPath({ ...base, exists: exists(['/w/upkeep.yaml', base.appConfig]) }).file).toBe('/w/upkeep.yaml');
    expect(cliConfigPath({ ...base, exists: exists([base.appConfig]) }).file).toBe(base.appConfig);
    expect(cliConfigPath({ ...base, exists: exists([]) }).tried).toEqual(['/w/upkeep.yaml', base.appConfig]);
  });

  it.runIf(process.platform === 'linux')('`upkeep config validate` in a directory without upkeep.yaml reads ~/.config/Upkeep/upkeep.yaml; none says where it looked', async () => {
    const home = await tempDir('upkeep-home-');
    const work = path.join(home, 'work');
    await fsp.mkdir(work);
    const env = { HOME: home, XDG_CONFIG_HOME: undefined, UPKEEP_CONFIG: undefined };
    const none = await runCli(['status'], { cwd: work, env });
    expect(none.code).toBe(2);
    expect(none.stderr).toBe(`error: No configuration file: neither ${work}/upkeep.yaml nor ${home}/.config/Upkeep/upkeep.yaml exists. Pass --config FILE or set UPKEEP_CONFIG. (ERR_CONFIG_INVALID)\n`);
    const file = path.join(home, '.config', 'Upkeep', 'upkeep.yaml');
    await fsp.mkdir(path.dirname(file), { recursive: true });
    await fsp.writeFile(file, ['targets:', '  - id: app', '    kind: command', '    install_dir: /tmp', '    initial_version: 1.0.0', '    steps: { switch: "true" }'].join('\n'));
    const r = await runCli(['config', 'validate'], { cwd: work, env });
    expect(r.stdout).toBe(`${file}: valid (1 target: app)\n`);
    await fsp.rm(home, { recursive: true, force: true });
  });
});
