import { describe, it, expect } from 'vitest';
import fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import YAML from 'yaml';
import { TRAY_STATES, trayIconFiles } from '../../src-main/electron/tray-model';
import { readPng } from './png';

const ROOT = process.cwd();
const config = YAML.parse(fs.readFileSync(path.join(ROOT, 'electron-builder.yml'), 'utf8'));
const exists = (rel: string) => fs.existsSync(path.join(ROOT, rel));
const targetsOf = (platform: { target: ({ target: string } | string)[] }) => platform.target.map((t) => (typeof t === 'string' ? t : t.target));

describe('electron-builder.yml', () => {
  it('is valid for the installed electron-builder', async () => {
    // electron-builder's own schema check (app-builder-lib ships with electron-builder).
    const { validateConfiguration } = require('app-builder-lib/out/util/config/config');
    const { DebugLogger } = require('builder-util/out/DebugLogger');
    await expect(validateConfiguration(config, new DebugLogger(false))).resolves.toBeUndefined();
    await expect(validateConfiguration({ ...config, mac: { ...config.mac, hardenedRuntim: true } }, new DebugLogger(false))).rejects.toThrow();
  });

  it('names the app and packs it in asar, with the CLI files unpacked', () => {
    expect(config.appId).toBe('dev.upkeep.app');
    expect(config.productName).toBe('Upkeep');
    expect(config.directories).toEqual({ output: 'release', buildResources: 'resources' });
    expect(config.asar).toBe(true);
    expect(config.asarUnpack).toEqual(expect.arrayContaining(['bin/upkeep.js', 'dist/node/**']));
    expect(config.files).toEqual(expect.arrayContaining(['out/**', 'dist/node/**', 'bin/**', 'package.json', '!test/**', '!src-main/**']));
    expect(config.artifactName).toContain('${version}');
  });

  it('builds nsis, dmg, AppImage and deb with the platform settings', () => {
    expect(targetsOf(config.win)).toEqual(['nsis']);
    expect(targetsOf(config.mac)).toEqual(['dmg']);
    expect(targetsOf(config.linux)).toEqual(['AppImage', 'deb']);
    expect(config.mac.hardenedRuntime).toBe(true);
    expect(config.mac.gatekeeperAssess).toBe(false);
    expect(config.mac.category).toBe('public.app-category.utilities');
    expect(config.linux.category).toBe('Utility');
    expect(config.deb.depends).toEqual(expect.arrayContaining(['libnotify4', 'libnss3']));
  });

  it('references only files that exist', () => {
    for (const rel of [config.win.icon, config.mac.icon, config.mac.entitlements, config.mac.entitlementsInherit, config.afterSign]) {
      expect(exists(rel), rel).toBe(true);
    }
    for (const r of config.extraResources) expect(exists(r.from), r.from).toBe(true);
    for (const name of config.extraResources.find((r: { from: string }) => r.from === 'resources/bin').filter) expect(exists(`resources/bin/${name}`), name).toBe(true);
    expect(fs.statSync(path.join(ROOT, config.linux.icon)).isDirectory()).toBe(true);
  });

  it('has the icons electron-builder converts: a 512x512 app icon and the Linux size set', () => {
    const icon = readPng(path.join(ROOT, 'resources/icon.png'));
    expect([icon.width, icon.height, icon.colorType, icon.bitDepth]).toEqual([512, 512, 6, 8]);
    for (const s of [16, 32, 48, 64, 128, 256, 512]) {
      const p = readPng(path.join(ROOT, config.linux.icon, `${s}x${s}.png`));
      expect([p.width, p.height]).toEqual([s, s]);
    }
  });

  it('has every tray icon: colour at 16/32 px and black-with-alpha templates', () => {
    for (const state of TRAY_STATES) {
      const files = trayIconFiles(state);
      expect(files.filter((f) => f.endsWith('.ico')).every((f) => exists(`resources/tray/${f}`))).toBe(true);
      const [one, two, tpl, tpl2] = files.filter((f) => f.endsWith('.png')).map((f) => readPng(path.join(ROOT, 'resources/tray', f)));
      expect([one.width, two.width, tpl.width, tpl2.width]).toEqual([16, 32, 16, 32]);
      for (const t of [tpl, tpl2]) {
        let opaque = 0;
        for (let i = 0; i < t.rgba.length; i += 4) {
          expect(t.rgba[i] + t.rgba[i + 1] + t.rgba[i + 2]).toBe(0);
          if (t.rgba[i + 3] > 0) opaque++;
        }
        expect(opaque).toBeGreaterThan(t.width); // not empty
      }
      let coloured = 0;
      for (let i = 0; i < two.rgba.length; i += 4) if (two.rgba[i + 3] === 255 && !(two.rgba[i] === two.rgba[i + 1] && two.rgba[i + 1] === two.rgba[i + 2])) coloured++;
      expect(coloured, state).toBeGreaterThan(100);
    }
  });

  it('puts the CLI on PATH: /usr/bin/upkeep from the .deb, an optional PATH entry from NSIS', () => {
    expect(config.deb.afterInstall).toBe('resources/linux/after-install.sh');
    expect(config.deb.afterRemove).toBe('resources/linux/after-remove.sh');
    for (const f of [config.deb.afterInstall, config.deb.afterRemove]) {
      expect(spawnSync('sh', ['-n', path.join(ROOT, f)]).status, f).toBe(0);
    }
    expect(fs.readFileSync(path.join(ROOT, config.deb.afterInstall), 'utf8')).toContain('ln -sf "$target" /usr/bin/upkeep');
    // The link points at the shim the package installs (productName under /opt, extraResources bin/).
    expect(fs.readFileSync(path.join(ROOT, config.deb.afterInstall), 'utf8')).toContain(`/opt/${config.productName}/resources/bin/upkeep`);
    const nsh = fs.readFileSync(path.join(ROOT, config.nsis.include), 'utf8');
    expect(nsh).toMatch(/!macro customInstall[\s\S]*MB_YESNO[\s\S]*WriteRegExpandStr HKCU "Environment" "Path"[\s\S]*!macroend/);
    expect(nsh).toMatch(/!macro customUnInstall[\s\S]*\$INSTDIR\\resources\\bin[\s\S]*!macroend/);
  });

  it('declares the libraries Electron loads at start (.deb) and ships Windows .ico icons', () => {
    expect(config.deb.depends).toEqual(expect.arrayContaining(['libgbm1', 'libasound2 | libasound2t64']));
    expect(config.win.icon).toBe('resources/icon.ico');
    expect(config.extraResources.find((r: { to: string }) => r.to === 'tray').filter).toContain('*.ico');
    expect(config.appImage.artifactName).not.toContain('${version}');
    expect(config.asarUnpack).toContain('package.json');
  });

  it('has a notarize hook that does nothing without Apple credentials', async () => {
    const hook = require(path.join(ROOT, config.afterSign));
    expect(hook.notaryCredentials({})).toBeNull();
    expect(hook.notaryCredentials({ APPLE_ID: 'a', APPLE_APP_SPECIFIC_PASSWORD: 'p', APPLE_TEAM_ID: 't' })).toEqual({ appleId: 'a', appleIdPassword: 'p', teamId: 't' });
    const saved = { ...process.env };
    delete process.env.APPLE_ID;
    delete process.env.APPLE_API_KEY;
    try {
      await expect(hook({ electronPlatformName: 'darwin', appOutDir: '/nonexistent', packager: { appInfo: { productFilename: 'Upkeep' } } })).resolves.toBeUndefined();
      await expect(hook({ electronPlatformName: 'linux' })).resolves.toBeUndefined();
    } finally {
      Object.assign(process.env, saved);
    }
  });
});

describe('resources/linux/upkeep.service', () => {
  const unit = fs.readFileSync(path.join(ROOT, 'resources/linux/upkeep.service'), 'utf8');
  const values = (key: string) =>
    unit
      .split('\n')
      .filter((l) => l.startsWith(`${key}=`))
      .map((l) => l.slice(key.length + 1));

  it('runs the daemon with the system config and reloads with SIGHUP', () => {
    expect(values('ExecStart')).toHaveLength(1);
    expect(values('ExecStart')[0]).toMatch(/^\/\S+\/upkeep daemon --config \/etc\/upkeep\/upkeep\.yaml$/);
    expect(values('ExecReload')).toEqual(['/bin/kill -HUP $MAINPID']);
    expect(values('Type')).toEqual(['simple']);
    expect(values('Restart')).toEqual(['on-failure']);
  });

  it('runs as a dedicated user with state directory and hardening', () => {
    expect(values('User')).toEqual(['upkeep']);
    expect(values('StateDirectory')).toEqual(['upkeep']);
    expect(values('NoNewPrivileges')).toEqual(['true']);
    expect(values('ProtectSystem')).toEqual(['full']);
    expect(values('ReadWritePaths').length).toBeGreaterThan(0);
    expect(values('WantedBy')).toEqual(['multi-user.target']);
    expect(unit).toMatch(/\[Unit\][\s\S]*\[Service\][\s\S]*\[Install\]/);
  });

  it('points at the CLI shim the packaged app installs', () => {
    const exec = values('ExecStart')[0].split(' ')[0];
    expect(exec).toBe('/opt/Upkeep/resources/bin/upkeep');
    const bin = config.extraResources.find((r: { to: string }) => r.to === 'bin');
    expect(bin.from).toBe('resources/bin');
  });
});
