import { describe, it, expect, afterEach } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { autostartDesktopEntry, autostartDirFor, createLoginItem, desktopExecQuote } from '../../src-main/electron/login-item';

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

  it('uses Electron login item settings on macOS and Windows', () => {
    let settings: { openAtLogin: boolean; args?: string[] } = { openAtLogin: false };
    const item = createLoginItem({ platform: 'darwin', getLoginItemSettings: () => settings, setLoginItemSettings: (s) => void (settings = s), execPath: '/x', autostartDir: '/nonexistent' });
    item.set(true);
    expect(settings).toEqual({ openAtLogin: true, args: ['--hidden'] });
    expect(item.get()).toBe(true);
  });

  it('quotes Exec arguments per the desktop entry spec and finds the autostart folder', () => {
    expect(desktopExecQuote('/usr/bin/upkeep')).toBe('/usr/bin/upkeep');
    expect(desktopExecQuote('/a b/$x"y`z\\')).toBe('"/a b/\\$x\\"y\\`z\\\\"');
    expect(autostartDesktopEntry('/usr/bin/upkeep-tray')).toContain('Exec=/usr/bin/upkeep-tray --hidden');
    expect(autostartDirFor({ XDG_CONFIG_HOME: '/cfg' }, '/home/u')).toBe(path.join('/cfg', 'autostart'));
    expect(autostartDirFor({ XDG_CONFIG_HOME: 'relative' }, '/home/u')).toBe(path.join('/home/u', '.config', 'autostart'));
  });
});
