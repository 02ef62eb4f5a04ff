import { describe, it, expect, afterEach } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { autostartDesktopEntry, autostartDirFor, autostartExecPath, createLoginItem, desktopExecQuote, parseNameHasOwner, startupVisibility, STATUS_NOTIFIER_QUERY } from '../../src-main/electron/login-item';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

describe('start at login', () => {
  it('writes and removes an XDG autostart entry on Linux', () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'upkeep-autostart-'));
    dirs.push(root);
    const dir = path.join(root, 'autostart');
    const item = createLoginItem({ platform: 'linux', getLoginItemSettings: () => ({ openAtLogin: false }), setLoginItemSettings: () => {}, execPath: '/opt/My Apps/Upkeep.AppImage', autostartDir: dir });
    expect(item.get()).toBe(false);
    item.set(true);
    expect(item.get()).toBe(true);
    const text = fs.readFileSync(path.join(dir, 'upkeep.desktop'), 'utf8');
    expect(text).toContain('[Desktop Entry]');
    expect(text).toContain('Exec="/opt/My Apps/Upkeep.AppImage" --hidden');
    expect(fs.readdirSync(dir)).toEqual(['upkeep.desktop']);
    item.set(false);
    expect(item.get()).toBe(false);
    expect(fs.existsSync(path.join(dir, 'upkeep.desktop'))).toBe(false);
  });

  it('macOS: Electron login item settings without arguments (login items take none)', () => {
    let settings: { openAtLogin: boolean; args?: string[] } = { openAtLogin: false };
    const item = createLoginItem({ platform: 'darwin', getLoginItemSettings: () => settings, setLoginItemSettings: (s) => void (settings = s), execPath: '/x', autostartDir: '/nonexistent' });
    item.set(true);
    expect(settings).toEqual({ openAtLogin: true });
    expect(item.get()).toBe(true);
  });

  it('Windows: reads the login item with the same args it registered (as Windows keys them)', () => {
    // Windows' Run key entry is per executable + args: a query without the args finds nothing.
    const registry = new Map<string, boolean>();
    const key = (args?: string[]) => JSON.stringify(args ?? []);
    const item = createLoginItem({
      platform: 'win32',
      getLoginItemSettings: (o) => ({ openAtLogin: registry.get(key(o?.args)) ?? false }),
      setLoginItemSettings: (s) => void registry.set(key(s.args), s.openAtLogin),
      execPath: 'C:\\Upkeep\\Upkeep.exe',
      autostartDir: 'unused',
    });
    expect(item.get()).toBe(false);
    item.set(true);
    expect(item.get()).toBe(true);
    item.set(false);
    expect(item.get()).toBe(false);
  });

  it('AppImage autostart starts $APPIMAGE, not the temporary mount', () => {
    expect(autostartExecPath({ APPIMAGE: '/home/u/Apps/Upkeep-x86_64.AppImage' }, '/tmp/.mount_UpkeepAbc/upkeep-tray')).toBe('/home/u/Apps/Upkeep-x86_64.AppImage');
    expect(autostartExecPath({}, '/opt/Upkeep/upkeep-tray')).toBe('/opt/Upkeep/upkeep-tray');
    expect(autostartExecPath({ APPIMAGE: 'relative.AppImage' }, '/opt/Upkeep/upkeep-tray')).toBe('/opt/Upkeep/upkeep-tray');
  });

  it('starts hidden only where the tray can be reached', () => {
    const base = { openAtLogin: false, trayHostAvailable: null };
    expect(startupVisibility({ ...base, platform: 'win32', argv: ['--hidden'] })).toEqual({ showWindow: false });
    expect(startupVisibility({ ...base, platform: 'win32', argv: [] })).toEqual({ showWindow: true });
    expect(startupVisibility({ ...base, platform: 'darwin', argv: [], openAtLogin: true })).toEqual({ showWindow: false });
    expect(startupVisibility({ ...base, platform: 'darwin', argv: [] })).toEqual({ showWindow: true });
    expect(startupVisibility({ ...base, platform: 'linux', argv: ['--hidden'], trayHostAvailable: true })).toEqual({ showWindow: false });
    const noHost = startupVisibility({ ...base, platform: 'linux', argv: ['--hidden'], trayHostAvailable: false });
    expect(noHost.showWindow).toBe(true);
    expect(noHost.note).toMatch(/no StatusNotifier host/);
    expect(parseNameHasOwner('(true,)\n')).toBe(true);
    expect(parseNameHasOwner('(false,)')).toBe(false);
    expect(parseNameHasOwner('Error: Cannot autolaunch D-Bus')).toBeNull();
    expect(STATUS_NOTIFIER_QUERY).toContain('org.kde.StatusNotifierWatcher');
  });

  it('quotes Exec arguments per the desktop entry spec and finds the autostart folder', () => {
    expect(desktopExecQuote('/usr/bin/upkeep')).toBe('/usr/bin/upkeep');
    expect(desktopExecQuote('/a b/$x"y`z\\')).toBe('"/a b/\\$x\\"y\\`z\\\\"');
    expect(autostartDesktopEntry('/usr/bin/upkeep-tray')).toContain('Exec=/usr/bin/upkeep-tray --hidden');
    expect(autostartDirFor({ XDG_CONFIG_HOME: '/cfg' }, '/home/u')).toBe(path.join('/cfg', 'autostart'));
    expect(autostartDirFor({ XDG_CONFIG_HOME: 'relative' }, '/home/u')).toBe(path.join('/home/u', '.config', 'autostart'));
  });
});
