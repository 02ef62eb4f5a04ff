/**
 * The operation runner over the in-memory feed simulator: real runner, feed checks, cache and
 * journaled apply into a temp dir, no sockets. State sequences, cancel, status reads and the
 * single-flight seed check.
 */
import { describe, it, expect, afterEach } from 'vitest';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TARGET_VIEW_MAX_FILES, type HistoryRecord, type Notification, type Progress, type TargetStateKind, type UpkeepEvent } from '../../../src-shared/api';
import { parseConfig } from '../../../src-main/engine/config/load';
import { OperationRunner } from '../../../src-main/engine/runner/operation-runner';
import { DEFAULT_LIMITS } from '../../../src-main/engine/limits';
import { FeedSimulator, SIM_ROOT } from '../../helpers/feed-simulator';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await fsp.rm(d, { recursive: true, force: true });
});

async function setup(extra: (dir: string) => string[] = () => [], o: { now?: () => Date } = {}): Promise<{ dir: string; sim: FeedSimulator; runner: OperationRunner; events: UpkeepEvent[] }> {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'upkeep-runner-'));
  dirs.push(dir);
  const sim = new FeedSimulator();
  const text = [
    'state_dir: ./state',
    'targets:',
    '  - id: demo',
    '    kind: files',
    '    install_dir: ./install',
    '    product: demo',
    `    feed: { url: ${JSON.stringify(SIM_ROOT)} }`,
    `    trust: ${JSON.stringify(sim.trust())}`,
    ...extra(dir).map((l) => `    ${l}`),
  ].join('\n');
  const loaded = parseConfig(text, { file: path.join(dir, 'upkeep.yaml'), dir, env: {} });
  const runner = new OperationRunner({ loaded, actor: 'cli', fetcher: sim, limits: { ...DEFAULT_LIMITS, progressHz: 1000 }, ...(o.now ? { now: o.now } : {}) });
  const events: UpkeepEvent[] = [];
  runner.bus.subscribe((e) => events.push(e));
  return { dir, sim, runner, events };
}

/** The state kinds announced, consecutive repeats collapsed. */
function kinds(events: UpkeepEvent[]): TargetStateKind[] {
  const out: TargetStateKind[] = [];
  for (const e of events) if (e.type === 'state' && out[out.length - 1] !== e.target.state.kind) out.push(e.target.state.kind);
  return out;
}

function percents(events: UpkeepEvent[]): number[] {
  return events.flatMap((e) => (e.type === 'progress' ? [e.progress.percent] : e.type === 'state' && 'progress' in e.target.state ? [(e.target.state.progress as Progress).percent] : []));
}

/** `to_version` of every `rolling-back` state announced. */
const rollingBackTo = (events: UpkeepEvent[]): Array<string | null> =>
  events.flatMap((e) => (e.type === 'state' && e.target.state.kind === 'rolling-back' ? [e.target.state.to_version] : []));
const history = (events: UpkeepEvent[]): HistoryRecord[] => events.flatMap((e) => (e.type === 'history' ? [e.record] : []));
const notes = (events: UpkeepEvent[]): Notification[] => events.flatMap((e) => (e.type === 'notification' ? [e.notification] : []));

describe('OperationRunner over the feed simulator', () => {
  it('an apply goes checking → downloading → verifying → applying → up-to-date with a monotonic percent', async () => {
    const { dir, sim, runner, events } = await setup();
    sim.publish('1.0.0', { 'bin/app': 'one', 'lib/a': 'a1' });
    const r = await runner.apply('demo');
    expect(r).toMatchObject({ success: true, version: '1.0.0', from_version: null });
    expect(await fsp.readFile(path.join(dir, 'install', 'bin', 'app'), 'utf8')).toBe('one');
    expect(kinds(events), JSON.stringify(kinds(events))).toEqual(['checking', 'downloading', 'verifying', 'applying', 'up-to-date']);
    const ps = percents(events);
    for (let i = 1; i < ps.length; i++) expect(ps[i]).toBeGreaterThanOrEqual(ps[i - 1]!);
    expect(ps[ps.length - 1]).toBe(100);
    // Files in flight are named; files_done never passes files_total.
    for (const e of events) if (e.type === 'progress') expect(e.progress.files_done).toBeLessThanOrEqual(e.progress.files_total);
    expect(history(events).map((h) => `${h.operation}:${h.result}`)).toEqual(['apply:success']);
    expect(notes(events).map((n) => n.type)).toEqual(['update_started', 'update_completed']);
  });

  it('a failed health check rolls back: ... → health-checking → rolling-back → failed, rejecting with rolled_back details', async () => {
    const { dir, sim, runner, events } = await setup((d) => [`health: { command: ${JSON.stringify(`test ! -f ${path.join(d, 'install', 'bin', 'broken')}`)}, retries: 0, interval_s: 0 }`]);
    sim.publish('1.0.0', { 'bin/app': 'one' });
    await runner.apply('demo');
    sim.publish('1.1.0', { 'bin/app': 'two', 'bin/broken': 'x' });
    events.length = 0;
    const err = await runner.apply('demo').then(() => null, (e: unknown) => e as { code: string; details?: Record<string, unknown> });
    expect(err?.code, JSON.stringify(err)).toBe('ERR_HEALTH_CHECK_FAILED');
    expect(err?.details).toMatchObject({ rolled_back: true, to_version: '1.1.0', rolled_back_to: '1.0.0', cause: { code: 'ERR_HEALTH_CHECK_FAILED' } });
    expect(kinds(events)).toEqual(['checking', 'downloading', 'verifying', 'applying', 'health-checking', 'rolling-back', 'failed']);
    expect(new Set(rollingBackTo(events))).toEqual(new Set(['1.0.0']));
    const ps = percents(events);
    for (let i = 1; i < ps.length; i++) expect(ps[i]).toBeGreaterThanOrEqual(ps[i - 1]!);
    expect(await fsp.readFile(path.join(dir, 'install', 'bin', 'app'), 'utf8')).toBe('one');
    await expect(fsp.access(path.join(dir, 'install', 'bin', 'broken'))).rejects.toThrow();
    expect(history(events).map((h) => h.result)).toEqual(['rolled_back']);
    expect(notes(events).map((n) => n.type)).toEqual(['update_started', 'rolled_back']);
    expect((await runner.view('demo')).state.kind).toBe('failed');
  });

  it('a cancelled download ends in ERR_CANCELLED, back to available, history cancelled, an update_cancelled notification', async () => {
    const { dir, sim, runner, events } = await setup();
    sim.publish('1.0.0', { 'bin/app': 'one' });
    await runner.apply('demo');
    sim.publish('1.1.0', { 'bin/app': 'two' });
    await runner.check('demo');
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let started!: () => void;
    const transferStarted = new Promise<void>((r) => (started = r));
    sim.holdDownload = async () => {
      started();
      await held;
    };
    events.length = 0;
    const run = runner.apply('demo').then(() => null, (e: unknown) => e as { code: string });
    await transferStarted;
    expect(runner.cancel('demo')).toBe(true);
    release();
    expect((await run)?.code).toBe('ERR_CANCELLED');
    expect(kinds(events)).toEqual(['checking', 'downloading', 'available']);
    expect(history(events).map((h) => `${h.operation}:${h.result}:${h.error_code}`)).toEqual(['apply:cancelled:ERR_CANCELLED']);
    expect(notes(events).map((n) => n.type)).toEqual(['update_started', 'update_cancelled']);
    expect((await runner.view('demo')).state).toMatchObject({ kind: 'available', version: '1.1.0' });
    expect(await fsp.readFile(path.join(dir, 'install', 'bin', 'app'), 'utf8')).toBe('one');
  });

  it('a corrupted blob is refused with ERR_HASH_MISMATCH and nothing installed', async () => {
    const { dir, sim, runner } = await setup();
    sim.publish('1.0.0', { 'bin/app': 'one' });
    sim.corrupt('one', 'ONE');
    await expect(runner.apply('demo')).rejects.toMatchObject({ code: 'ERR_HASH_MISMATCH' });
    await expect(fsp.access(path.join(dir, 'install', 'bin', 'app'))).rejects.toThrow();
    expect((await runner.history('demo')).map((h) => h.result)).toEqual(['refused']);
  });

  it('status reads are reads: views never check nor write history', async () => {
    const { sim, runner } = await setup();
    sim.publish('1.0.0', { 'bin/app': 'one' });
    await runner.check('demo');
    const before = sim.requests.length;
    const rows = (await runner.history()).length;
    for (let i = 0; i < 200; i++) await runner.view('demo');
    await Promise.all(Array.from({ length: 50 }, () => runner.views()));
    expect(sim.requests.length).toBe(before);
    expect((await runner.history()).length).toBe(rows);
  });

  it('a target view lists at most TARGET_VIEW_MAX_FILES files of the available release, with the whole count; the release list and the check keep every file', async () => {
    const { sim, runner } = await setup();
    sim.publish('1.0.0', { 'bin/app': 'one' });
    await runner.apply('demo');
    const files: Record<string, string> = {};
    for (let i = 0; i < TARGET_VIEW_MAX_FILES + 30; i++) files[`lib/f${i}`] = `v2 ${i}`;
    sim.publish('1.1.0', files);
    const check = await runner.check('demo');
    expect(check.release?.files).toHaveLength(TARGET_VIEW_MAX_FILES + 30);
    const v = await runner.view('demo');
    expect(v.available?.files).toHaveLength(TARGET_VIEW_MAX_FILES);
    expect(v.available?.file_count).toBe(TARGET_VIEW_MAX_FILES + 30);
    expect(v.available?.total_size).toBe(check.release?.total_size);
    const list = await runner.listReleases('demo');
    expect(list.eligible[0]?.files).toHaveLength(TARGET_VIEW_MAX_FILES + 30);
  });

  it('latestCheck: concurrent callers share one check; a fresh result is reused; no history', async () => {
    const { sim, runner } = await setup();
    sim.publish('1.0.0', { 'bin/app': 'one' });
    const results = await Promise.all(Array.from({ length: 20 }, () => runner.latestCheck('demo', 60_000)));
    expect(new Set(results.map((r) => r.checked_at)).size).toBe(1);
    expect(results[0]).toMatchObject({ update_available: true, latest_version: '1.0.0' });
    expect(sim.count('channels/stable.json')).toBe(1);
    await runner.latestCheck('demo', 60_000);
    expect(sim.count('channels/stable.json')).toBe(1);
    // An older result than asked for is refreshed.
    await runner.latestCheck('demo', 0);
    expect(sim.count('channels/stable.json')).toBe(2);
    expect(await runner.history()).toEqual([]);
  });

  it('a manual rollback goes rolling-back → up-to-date... and restores the bytes', async () => {
    const { dir, sim, runner, events } = await setup();
    sim.publish('1.0.0', { 'bin/app': 'one' });
    await runner.apply('demo');
    sim.publish('1.1.0', { 'bin/app': 'two' });
    await runner.apply('demo');
    events.length = 0;
    const r = await runner.rollback('demo');
    expect(r).toMatchObject({ success: true, version: '1.0.0', from_version: '1.1.0' });
    expect(await fsp.readFile(path.join(dir, 'install', 'bin', 'app'), 'utf8')).toBe('one');
    const k = kinds(events);
    expect(k[0]).toBe('rolling-back');
    expect(k).not.toContain('failed');
    // The state names the version the point restores (the UI: "Rolling back to 1.0.0").
    expect(new Set(rollingBackTo(events))).toEqual(new Set(['1.0.0']));
    const ps = percents(events).filter((_, i, a) => i < a.length);
    const opPercents = events.flatMap((e) => (e.type === 'progress' && e.progress.operation_id === r.operation_id ? [e.progress.percent] : []));
    for (let i = 1; i < opPercents.length; i++) expect(opPercents[i]).toBeGreaterThanOrEqual(opPercents[i - 1]!);
    expect(ps.length).toBeGreaterThan(0);
    expect(history(events).map((h) => `${h.operation}:${h.result}`)).toEqual(['rollback:success']);
  });

  it('every time it records comes from its clock: history, rollback points, state', async () => {
    const pinned = new Date('2031-02-03T04:05:06.000Z');
    const { dir, sim, runner, events } = await setup(() => [], { now: () => pinned });
    sim.publish('1.0.0', { 'bin/app': 'one' });
    await runner.apply('demo');
    sim.publish('1.1.0', { 'bin/app': 'two' });
    await runner.check('demo');
    const applied = await runner.apply('demo');
    expect(applied.rollback_id).toMatch(/^rb_20310203T040506_[0-9a-f]{6}$/);
    const [point] = await runner.points('demo');
    expect(point).toMatchObject({ rollback_id: applied.rollback_id, created_at: pinned.toISOString() });
    const records = history(events);
    expect(records.map((h) => h.operation)).toEqual(['apply', 'check', 'apply']);
    for (const h of records) expect([h.started_at, h.finished_at]).toEqual([pinned.toISOString(), pinned.toISOString()]);
    const onDisk = (await fsp.readFile(path.join(dir, 'state', 'history.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as HistoryRecord);
    expect(onDisk.map((h) => h.finished_at)).toEqual(records.map(() => pinned.toISOString()));
    expect((await runner.view('demo')).last_checked_at).toBe(pinned.toISOString());
  });
});
