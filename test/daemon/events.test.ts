/**
 * GET /api/events against the real daemon: a subscriber sees the apply's progress phases as they
 * happen and a final `state` event with the new current version.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { Fixture, call, collectEvents, startInProcess, type InProcess } from './helpers';

describe('server-sent events during an apply', () => {
  let fx: Fixture;
  let d: InProcess;

  beforeAll(async () => {
    fx = await Fixture.create();
    await fx.publish('1.0.0', { 'bin/demo': 'v1', 'lib/a.so': 'a1' });
    await fx.writeConfig(fx.configText());
    d = await startInProcess(fx.configPath);
    const first = await call(d.url, 'POST', '/api/targets/demo/apply', { token: fx.admin.token, json: {} });
    expect(first.status, first.text).toBe(200);
    await fx.publish('1.1.0', { 'bin/demo': 'v2', 'lib/a.so': 'a2', 'lib/b.so': 'b2' });
  });

  afterAll(async () => {
    await d?.close();
    await fx?.cleanup();
  });

  it('streams progress phases and ends with a state event at the new version', async () => {
    let applied: Promise<Awaited<ReturnType<typeof call>>> | null = null;
    const events = await collectEvents(
      d.url,
      fx.reader.token,
      (evs) => evs.some((e) => e.event === 'state' && e.data.target.current_version === '1.1.0' && e.data.target.state.kind !== 'applying'),
      { onOpen: () => (applied = call(d.url, 'POST', '/api/updates/apply/1.1.0', { token: fx.admin.token })) },
    );
    expect(applied).not.toBeNull();
    const res = await applied!;
    expect(res.status, res.text).toBe(200);
    expect(res.body).toMatchObject({ success: true, version: '1.1.0' });

    // The stream starts with the current state of every target.
    expect(events[0]).toMatchObject({ event: 'state', data: { type: 'state', target: { id: 'demo', current_version: '1.0.0' } } });

    const progress = events.filter((e) => e.event === 'progress');
    expect(progress.length).toBeGreaterThan(2);
    for (const p of progress) {
      expect(p.data.target).toBe('demo');
      expect(p.data.progress.percent).toBeGreaterThanOrEqual(0);
      expect(p.data.progress.percent).toBeLessThanOrEqual(100);
    }
    const phases = new Set(progress.map((p) => p.data.progress.phase));
    expect(phases.has('download')).toBe(true);
    expect(phases.has('commit')).toBe(true);
    expect([...phases].some((ph) => ph === 'stage' || ph === 'switch' || ph === 'backup')).toBe(true);
    // Seed 002's scale: download 0–50, install 50–100; all downloading happens before installing.
    const percents = progress.map((p) => p.data.progress.percent as number);
    const firstInstall = progress.findIndex((p) => p.data.progress.phase !== 'download');
    const download = percents.slice(0, firstInstall);
    const install = percents.slice(firstInstall);
    expect(progress.slice(firstInstall).every((p) => p.data.progress.phase !== 'download')).toBe(true);
    expect(download.every((x) => x <= 50)).toBe(true);
    expect(download).toEqual([...download].sort((a, b) => a - b));
    expect(install.every((x) => x >= 50)).toBe(true);
    expect(percents.at(-1)).toBe(100);

    const completed = events.find((e) => e.event === 'notification' && e.data.notification.type === 'update_completed');
    expect(completed?.data.notification).toMatchObject({ target: 'demo', version: '1.1.0', from_version: '1.0.0' });

    const last = events.at(-1)!;
    expect(last.event).toBe('state');
    expect(last.data.target).toMatchObject({ id: 'demo', current_version: '1.1.0', available: null });
  });

  it('refuses the stream without a token when reads are locked', async () => {
    const res = await fetch(`${d.url}/api/events`);
    expect(res.status).toBe(401);
    await res.body?.cancel();
  });
});
