/**
 * Skipping the offered version offers the next best eligible release at once (an older one still
 * newer than the installed version), by the same selection as every check: skipped versions,
 * staged rollout. Through the real HTTP API over the real daemon core.
 */
import { describe, expect, it } from 'vitest';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { TargetView } from '../../src-shared/api';
import { call, daemonPerTest, Fixture, startInProcess, type InProcess } from './helpers';

const s = daemonPerTest();

/** 1.0.0 installed; the feed also offers `more` (version → staged-rollout percent, undefined = everyone). */
async function setup(more: Array<[string, number | undefined]>): Promise<InProcess> {
  s.fx = await Fixture.create('upkeep-skip-');
  await s.fx.publish('1.0.0', { 'bin/demo': 'one' });
  await s.fx.writeConfig(s.fx.configText());
  s.d = await startInProcess(s.fx.configPath);
  await s.d.core.apply('demo');
  for (const [v, rollout] of more) await s.fx.publish(v, { 'bin/demo': v }, rollout === undefined ? {} : { rollout });
  return s.d;
}

async function skip(version: string): Promise<TargetView> {
  const r = await call(s.d!.url, 'POST', '/api/targets/demo/skip', { token: s.fx.admin.token, json: { version } });
  expect(r.status, r.text).toBe(200);
  return r.body as TargetView;
}

const runtime = async () => JSON.parse(await fsp.readFile(path.join(s.fx.dir, 'state', 'targets', 'demo', 'runtime.json'), 'utf8')) as { available: { version: string } | null; settings: { skip_versions?: string[] }; last_checked_at: string | null };

describe('skipping the offered version', () => {
  it('offers the older release still newer than the installed one, then nothing once that is skipped too', async () => {
    const core = (await setup([['1.1.0', undefined], ['1.2.0', undefined]])).core;
    expect((await core.check('demo')).latest_version).toBe('1.2.0');
    const checks = (await core.history('demo')).filter((h) => h.operation === 'check').length;

    const v = await skip('1.2.0');
    expect(v.available?.version).toBe('1.1.0');
    expect(v.state).toMatchObject({ kind: 'available', version: '1.1.0' });
    expect(await runtime()).toMatchObject({ available: { version: '1.1.0' }, settings: { skip_versions: ['1.2.0'] } });
    expect((await call(s.d!.url, 'GET', '/api/targets/demo', { token: s.fx.admin.token })).body).toMatchObject({ available: { version: '1.1.0' } });
    // The re-selection is no user-visible check: no history line.
    expect((await core.history('demo')).filter((h) => h.operation === 'check')).toHaveLength(checks);
    // Applying now installs the offered 1.1.0, not the skipped 1.2.0.
    expect((await core.apply('demo')).version).toBe('1.1.0');
    expect(await fsp.readFile(path.join(s.fx.installDir, 'bin', 'demo'), 'utf8')).toBe('1.1.0');

    // Skipping a version that is not offered changes no offer.
    await s.fx.publish('1.3.0', { 'bin/demo': '1.3.0' });
    await core.check('demo');
    expect((await skip('9.9.9')).available?.version).toBe('1.3.0');
    const last = await skip('1.3.0');
    expect(last.available).toBeNull();
    expect(last.state.kind).toBe('up-to-date');
  });

  it('does not offer a release the staged rollout keeps from this machine: up to date, the rollout pending', async () => {
    const core = (await setup([['1.1.0', 0], ['1.2.0', undefined]])).core;
    expect((await core.check('demo')).latest_version).toBe('1.2.0');
    const v = await skip('1.2.0');
    expect(v.available).toBeNull();
    expect(v.state.kind).toBe('up-to-date');
    expect(v.rollout_pending).toEqual({ version: '1.1.0', percent: 0 });
  });

  it('shows why, never up to date, when the feed cannot be read at skip time; the next check offers 1.1.0', async () => {
    const core = (await setup([['1.1.0', undefined], ['1.2.0', undefined]])).core;
    expect((await core.check('demo')).latest_version).toBe('1.2.0');
    const index = path.join(s.fx.feedDir, 'channels', 'stable.json');
    const bytes = await fsp.readFile(index);
    await fsp.rm(index);
    const v = await skip('1.2.0');
    expect(v.available).toBeNull();
    // The re-selection's failure is the target's reason at once (the channel index is gone).
    expect(v.state).toMatchObject({ kind: 'failed', error: { code: 'ERR_NO_RELEASE' } });
    expect(v.last_error?.message).toContain('The feed has no channel "stable"');
    expect((await runtime()).settings.skip_versions).toEqual(['1.2.0']);
    await fsp.writeFile(index, bytes);
    expect((await core.check('demo')).latest_version).toBe('1.1.0');
    expect((await call(s.d!.url, 'GET', '/api/targets/demo', { token: s.fx.admin.token })).body).toMatchObject({ available: { version: '1.1.0' }, state: { kind: 'available' } });
  });
});

describe('changing the skip list or channel in the settings', () => {
  async function settings(patch: Record<string, unknown>): Promise<TargetView> {
    const r = await call(s.d!.url, 'PATCH', '/api/targets/demo/settings', { token: s.fx.admin.token, json: patch });
    expect(r.status, r.text).toBe(200);
    return r.body as TargetView;
  }

  it('stops offering a version skipped in the settings and offers it again once it is no longer skipped', async () => {
    const core = (await setup([['1.1.0', undefined], ['1.2.0', undefined]])).core;
    expect((await core.check('demo')).latest_version).toBe('1.2.0');
    const checks = (await core.history('demo')).filter((h) => h.operation === 'check').length;

    const skipped = await settings({ skip_versions: ['1.2.0'] });
    expect(skipped.available?.version).toBe('1.1.0');
    expect(skipped.state).toMatchObject({ kind: 'available', version: '1.1.0' });
    expect(await runtime()).toMatchObject({ available: { version: '1.1.0' }, settings: { skip_versions: ['1.2.0'] } });

    const unskipped = await settings({ skip_versions: [] });
    expect(unskipped.available?.version).toBe('1.2.0');
    expect(unskipped.state).toMatchObject({ kind: 'available', version: '1.2.0' });
    expect((await call(s.d!.url, 'GET', '/api/targets/demo', { token: s.fx.admin.token })).body).toMatchObject({ available: { version: '1.2.0' } });
    // Re-selections are no user-visible checks.
    expect((await core.history('demo')).filter((h) => h.operation === 'check')).toHaveLength(checks);

    // A patch that changes neither the channel nor the skip list keeps the last check's answer.
    const checkedAt = (await runtime()).last_checked_at;
    await settings({ auto_download: true, skip_versions: [] });
    expect((await runtime()).last_checked_at).toBe(checkedAt);
  });

  it('offers nothing from the old channel after switching to a channel without releases: never the stable offer', async () => {
    const core = (await setup([['1.1.0', undefined]])).core;
    expect((await core.check('demo')).latest_version).toBe('1.1.0');
    const v = await settings({ channel: 'beta' });
    expect(v.policy.channel).toBe('beta');
    expect(v.available).toBeNull();
    expect(v.state.kind).not.toBe('available');
  });
});
