/**
 * The scheduler with an injected clock: when checks become due (interval, cron in a zone), and what
 * automatic work policy allows — pure `decide()` cases, then `tick(now)` driving a real Engine over a
 * real signed feed, with the install dir as the witness.
 */
import { describe, it, expect, afterEach } from 'vitest';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { decide, nextCheckDue, Scheduler } from '../../src-main/engine/scheduler';
import type { OperationRunner as Engine } from '../../src-main/engine/runner/operation-runner';
import type { MaintenanceWindow, ReleaseView, TargetPolicy, TargetState, TargetView } from '../../src-shared/api';
import { FeedBuilder, engineFor, indexPayload, makeKey, type TestKey } from '../helpers/feed-builder';
import { tempDir } from '../helpers/tree';

const T0 = new Date('2026-01-05T10:00:00Z'); // a Monday

function policy(o: Partial<TargetPolicy> = {}): TargetPolicy {
  return {
    channel: 'stable', check_schedule: null, check_interval_s: null, maintenance_window: null, auto_download: false,
    auto_apply: 'none', paused_until: null, skip_versions: [], retention: 3, allow_downgrade: false, ...o,
  };
}

function release(o: Partial<ReleaseView> = {}): ReleaseView {
  return {
    version: '1.1.0', tag_name: 'v1.1.0', channel: 'stable', released_at: '2026-01-01T00:00:00Z', release_notes: '', is_critical: false,
    is_breaking: false, breaking_changes: [], migrations_required: false, min_upgrade_from: null, build_commit: null, manifest_sha256: 'ab', verification: 'signed',
    files: [], file_count: 0, total_size: 0, ...o,
  };
}

function view(p: Partial<TargetPolicy> = {}, available: ReleaseView | null = null, state?: TargetState): TargetView {
  return {
    id: 'demo', name: 'demo', kind: 'files', layout: 'in-place', install_dir: '/x', product: 'demo', current_version: '1.0.0',
    state: state ?? (available ? { kind: 'available', version: available.version, is_critical: available.is_critical, is_breaking: available.is_breaking, checked_at: '' } : { kind: 'idle' }),
    available, policy: policy(p), last_checked_at: null, last_error: null, points_count: 0,
  };
}

const plus = (d: Date, s: number) => new Date(d.getTime() + s * 1000);
// A window that is closed at T0 (Monday 10:00 UTC) and open on Monday 02:00–04:00 UTC.
const NIGHT: MaintenanceWindow = { days: ['mon'], start: '02:00', end: '04:00', timezone: 'UTC' };

describe('when checks are due', () => {
  it('interval: at once the first time, then every check_interval_s', () => {
    const v = view({ check_interval_s: 60 });
    expect(decide(v, T0, null, null).check).toBe(true);
    expect(decide(v, plus(T0, 59), T0, null).check).toBe(false);
    expect(decide(v, plus(T0, 60), T0, null).check).toBe(true);
    expect(nextCheckDue(v, T0)).toEqual(plus(T0, 60));
  });

  it('no schedule: never checks by itself', () => {
    expect(nextCheckDue(view(), null)).toBeNull();
    expect(decide(view(), T0, null, null).check).toBe(false);
  });

  it('cron: due at the next matching time', () => {
    const v = view({ check_schedule: '0 3 * * *' });
    const last = new Date('2026-01-05T03:00:00Z');
    expect(nextCheckDue(v, last)).toEqual(new Date('2026-01-06T03:00:00Z'));
    expect(decide(v, new Date('2026-01-06T02:59:00Z'), last, null).check).toBe(false);
    expect(decide(v, new Date('2026-01-06T03:00:00Z'), last, null).check).toBe(true);
  });

  it('cron runs in the maintenance window\'s time zone', () => {
    const v = view({ check_schedule: '0 3 * * *', maintenance_window: { days: [], start: '02:00', end: '04:00', timezone: 'Europe/Berlin' } });
    // 03:00 in Berlin is 02:00 UTC in winter and 01:00 UTC in summer.
    expect(nextCheckDue(v, new Date('2026-01-05T12:00:00Z'))).toEqual(new Date('2026-01-06T02:00:00Z'));
    expect(nextCheckDue(v, new Date('2026-07-05T12:00:00Z'))).toEqual(new Date('2026-07-06T01:00:00Z'));
  });
});

describe('what policy allows (decide)', () => {
  it('a non-critical update waits for the maintenance window; auto_download fetches it meanwhile', () => {
    const v = view({ auto_apply: 'all', auto_download: true, maintenance_window: NIGHT }, release());
    const outside = decide(v, T0, T0, null);
    expect(outside).toMatchObject({ apply: false, download: true, reason: 'outside the maintenance window' });
    expect(decide(v, T0, T0, '1.1.0').download).toBe(false); // already downloaded
    const inside = decide(v, new Date('2026-01-05T02:30:00Z'), T0, null);
    expect(inside).toMatchObject({ apply: true, download: false });
    expect(decide(v, new Date('2026-01-06T02:30:00Z'), T0, null).apply).toBe(false); // Tuesday
  });

  it('auto_apply critical applies a critical update at once, even outside the window', () => {
    expect(decide(view({ auto_apply: 'critical', maintenance_window: NIGHT }, release({ is_critical: true })), T0, T0, null).apply).toBe(true);
    expect(decide(view({ auto_apply: 'critical', maintenance_window: NIGHT }, release()), new Date('2026-01-05T02:30:00Z'), T0, null).apply).toBe(false);
    expect(decide(view({ auto_apply: 'none' }, release({ is_critical: true })), T0, T0, null).apply).toBe(false);
  });

  it('a major (breaking) update is never applied automatically', () => {
    const d = decide(view({ auto_apply: 'all', auto_download: true }, release({ version: '2.0.0', is_breaking: true, is_critical: true })), T0, T0, null);
    expect(d).toMatchObject({ apply: false, download: true, reason: 'breaking changes are never applied automatically' });
  });

  it('paused blocks automatic download and apply until paused_until', () => {
    const v = view({ auto_apply: 'all', auto_download: true, check_interval_s: 60, paused_until: plus(T0, 3600).toISOString() }, release({ is_critical: true }));
    expect(decide(v, T0, null, null)).toMatchObject({ check: true, download: false, apply: false, reason: 'paused' });
    expect(decide(v, plus(T0, 3601), null, null)).toMatchObject({ apply: true });
  });

  it('does nothing automatic while an operation runs', () => {
    const progress = { operation_id: 'op', phase: 'download' as const, message: '', bytes_done: 0, bytes_total: 0, speed_bps: 0, eta_s: null, files_done: 0, files_total: 0, percent: 0, cancellable: true };
    const v = view({ auto_apply: 'all', check_interval_s: 60 }, release(), { kind: 'downloading', version: '1.1.0', progress });
    expect(decide(v, T0, null, null)).toMatchObject({ check: false, download: false, apply: false });
  });
});

describe('Scheduler.tick(now) over a real engine and feed', () => {
  const dirs: string[] = [];
  afterEach(async () => {
    for (const d of dirs.splice(0)) await fsp.rm(d, { recursive: true, force: true });
  });

  interface Rig {
    engine: Engine;
    scheduler: Scheduler;
    publish(version: string, content: string, critical?: boolean): Promise<void>;
    installed(): Promise<string>;
    current(): Promise<string | null>;
    checks: () => number;
  }

  async function rig(extra: string[]): Promise<Rig> {
    const dir = await tempDir('upkeep-sched-');
    dirs.push(dir);
    const key: TestKey = makeKey();
    const feed = new FeedBuilder(path.join(dir, 'feed'));
    const entries: unknown[] = [];
    let seq = 0;
    const publish = async (version: string, content: string, critical = false) => {
      const e = await feed.release(version, { 'bin/demo': content }, [key], { is_critical: critical });
      entries.push({ ...e, is_critical: critical });
      await feed.index('stable', indexPayload(++seq, entries), [key]);
    };
    await publish('1.0.0', 'v1.0.0');
    const engine = engineFor(dir, feed.dir, { keys: [key.line], threshold: 1 }, extra);
    await engine.apply('demo', { actor: 'cli' });
    let checks = 0;
    engine.bus.subscribe((e) => {
      if (e.type === 'state' && e.target.state.kind === 'checking') checks += 1;
    });
    return {
      engine,
      scheduler: new Scheduler(engine, () => T0),
      publish,
      installed: () => fsp.readFile(path.join(dir, 'install', 'bin', 'demo'), 'utf8'),
      current: async () => (await engine.view('demo')).current_version,
      checks: () => checks,
    };
  }

  it('checks on the interval, at the clock it is given', async () => {
    const r = await rig(['check_interval: 60']);
    await r.scheduler.tick(T0);
    expect(r.checks()).toBe(1);
    await r.scheduler.tick(plus(T0, 30));
    expect(r.checks()).toBe(1);
    await r.scheduler.tick(plus(T0, 60));
    expect(r.checks()).toBe(2);
    await r.scheduler.tick(plus(T0, 61));
    expect(r.checks()).toBe(2);
  });

  it('auto_apply critical installs a critical release at once, outside the window', async () => {
    const r = await rig(['check_interval: 60', 'auto_apply: critical', 'maintenance_window: { days: [mon], start: "02:00", end: "04:00" }']);
    await r.publish('1.0.1', 'v1.0.1');
    await r.scheduler.tick(T0);
    expect(await r.current()).toBe('1.0.0');
    expect(await r.installed()).toBe('v1.0.0');
    await r.publish('1.1.0', 'v1.1.0', true);
    await r.scheduler.tick(plus(T0, 60));
    expect(await r.current()).toBe('1.1.0');
    expect(await r.installed()).toBe('v1.1.0');
    const hist = await r.engine.history('demo');
    expect(hist[0]).toMatchObject({ operation: 'apply', actor: 'scheduler', to_version: '1.1.0', result: 'success' });
  });

  it('auto_apply all waits for the maintenance window', async () => {
    const r = await rig(['check_interval: 60', 'auto_apply: all', 'maintenance_window: { days: [mon], start: "02:00", end: "04:00", timezone: Europe/Berlin }']);
    await r.publish('1.0.1', 'v1.0.1');
    await r.scheduler.tick(T0); // Monday 11:00 Berlin
    expect(await r.installed()).toBe('v1.0.0');
    expect((await r.engine.view('demo')).available?.version).toBe('1.0.1');
    await r.scheduler.tick(new Date('2026-01-12T01:30:00Z')); // next Monday 02:30 Berlin
    expect(await r.installed()).toBe('v1.0.1');
    expect(await r.current()).toBe('1.0.1');
  });

  it('never auto-applies a major bump, even critical under auto_apply all', async () => {
    const r = await rig(['check_interval: 60', 'auto_apply: all']);
    await r.publish('2.0.0', 'v2.0.0', true);
    await r.scheduler.tick(T0);
    const v = await r.engine.view('demo');
    expect(v.available).toMatchObject({ version: '2.0.0', is_breaking: true });
    expect(await r.installed()).toBe('v1.0.0');
  });

  it('paused: checks still run, nothing is applied', async () => {
    const r = await rig(['check_interval: 60', 'auto_apply: all', 'paused: true']);
    await r.publish('1.0.1', 'v1.0.1', true);
    await r.scheduler.tick(T0);
    expect(r.checks()).toBe(1);
    expect((await r.engine.view('demo')).available?.version).toBe('1.0.1');
    expect(await r.installed()).toBe('v1.0.0');
  });

  it('skip_versions: a skipped critical release is passed over, the next one is applied', async () => {
    const r = await rig(['check_interval: 60', 'auto_apply: critical', 'skip_versions: ["1.0.1"]']);
    await r.publish('1.0.1', 'v1.0.1', true);
    await r.scheduler.tick(T0);
    expect((await r.engine.view('demo')).available).toBeNull();
    expect(await r.installed()).toBe('v1.0.0');
    await r.publish('1.0.2', 'v1.0.2', true);
    await r.scheduler.tick(plus(T0, 60));
    expect(await r.installed()).toBe('v1.0.2');
  });

  it('start() ticks as often as the shortest check_interval asks (not only every 15 s)', async () => {
    const r = await rig(['check_interval: 1']);
    const live = new Scheduler(r.engine);
    live.start();
    try {
      const deadline = Date.now() + 8_000;
      while (r.checks() < 3 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 100));
      expect(r.checks()).toBeGreaterThanOrEqual(3);
    } finally {
      await live.stop();
    }
  });
});
