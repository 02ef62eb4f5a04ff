import { describe, it, expect } from 'vitest';
import { SettingsPatchSchema, isValidTimeZone } from '../../src-shared/ipc-contract';
import { parseConfig } from '../../src-main/engine/config/load';
import { UpkeepError } from '../../src-shared/errors';

describe('settings and config validation of schedules', () => {
  it('refuses an unknown time zone in a settings patch', () => {
    expect(isValidTimeZone('Europe/Berlin')).toBe(true);
    expect(isValidTimeZone('Europe/Berln')).toBe(false);
    const bad = SettingsPatchSchema.safeParse({ maintenance_window: { days: ['sat'], start: '01:00', end: '02:00', timezone: 'Europe/Berln' } });
    expect(bad.success).toBe(false);
    expect(SettingsPatchSchema.safeParse({ maintenance_window: { days: [], start: '01:00', end: '02:00', timezone: 'UTC' } }).success).toBe(true);
  });

  it('refuses a bad cron expression or time zone in the config file with its line', () => {
    const text = (extra: string) => `state_dir: ./s\ntargets:\n  - id: demo\n    kind: command\n    install_dir: ./i\n    steps: { switch: "true" }\n${extra}\n`;
    const err = (extra: string) => {
      try {
        parseConfig(text(extra), { file: '/x/upkeep.yaml', dir: '/x', env: {} });
        return null;
      } catch (e) {
        return e as UpkeepError;
      }
    };
    expect(err('    check_schedule: "0 3 * * *"')).toBeNull();
    const cron = err('    check_schedule: "every tuesday"');
    expect(cron?.code).toBe('ERR_CONFIG_INVALID');
    expect(cron?.message).toMatch(/:7:.*check_schedule: not a valid cron expression/);
    const tz = err('    maintenance_window: { start: "01:00", end: "02:00", timezone: "Mars/Olympus" }');
    expect(tz?.code).toBe('ERR_CONFIG_INVALID');
    expect(tz?.message).toContain('unknown time zone');
  });
});
