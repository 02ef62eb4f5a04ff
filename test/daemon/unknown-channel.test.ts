/**
 * A target following a channel its feed does not have says so as soon as it is known: its view
 * rests in `failed` with ERR_NO_RELEASE ("The feed has no channel …"), never "not checked" and
 * never the old channel's offer. Through the real HTTP API over the real daemon core, and the
 * real `upkeep daemon` child whose scheduler checks at start.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { TargetView } from '../../src-shared/api';
import { call, Fixture, spawnDaemon, startInProcess, waitFor, type DaemonChild, type InProcess } from './helpers';

let fx: Fixture;
let d: InProcess | null = null;
let child: DaemonChild | null = null;
afterEach(async () => {
  await d?.close();
  d = null;
  child?.kill();
  await child?.exited;
  child = null;
  await fx.cleanup();
});

const runtime = async () => JSON.parse(await fsp.readFile(path.join(fx.dir, 'state', 'targets', 'demo', 'runtime.json'), 'utf8')) as { last_error: { code: string; message: string } | null; last_checked_at: string | null };

/** A daemon (also kept in `d` for teardown) with 1.0.0 installed and 1.1.0 offered on `stable`, and its number of check records in history. */
async function startWithOffer(): Promise<{ daemon: InProcess; checks: number }> {
  fx = await Fixture.create('upkeep-channel-');
  await fx.publish('1.0.0', { 'bin/demo': 'one' });
  await fx.publish('1.1.0', { 'bin/demo': 'two' });
  await fx.writeConfig(fx.configText());
  const daemon = await startInProcess(fx.configPath);
  d = daemon;
  await daemon.core.apply('demo', { version: '1.0.0' });
  expect((await daemon.core.check('demo')).latest_version).toBe('1.1.0');
  return { daemon, checks: (await daemon.core.history('demo')).filter((h) => h.operation === 'check').length };
}

describe('a channel the feed does not have', () => {
  it('after a settings change to it: the view says why at once (failed, ERR_NO_RELEASE), kept in runtime.json, no history line', async () => {
    const { daemon, checks } = await startWithOffer();

    const r = await call(daemon.url, 'PATCH', '/api/targets/demo/settings', { token: fx.admin.token, json: { channel: 'beta' } });
    expect(r.status, r.text).toBe(200);
    const v = r.body as TargetView;
    expect(v.policy.channel).toBe('beta');
    expect(v.available).toBeNull();
    expect(v.state).toMatchObject({ kind: 'failed', error: { code: 'ERR_NO_RELEASE' } });
    expect(v.last_error?.code).toBe('ERR_NO_RELEASE');
    expect(v.last_error?.message).toContain('The feed has no channel "beta"');
    expect(v.last_checked_at).not.toBeNull();
    expect((await runtime()).last_error?.code).toBe('ERR_NO_RELEASE');
    expect((await call(daemon.url, 'GET', '/api/targets/demo', { token: fx.admin.token })).body).toMatchObject({ state: { kind: 'failed', error: { code: 'ERR_NO_RELEASE' } } });
    // The re-selection is no user-visible check.
    expect((await daemon.core.history('demo')).filter((h) => h.operation === 'check')).toHaveLength(checks);

    // Back to a channel the feed has: the reason goes, the offer comes back.
    const back = (await call(daemon.url, 'PATCH', '/api/targets/demo/settings', { token: fx.admin.token, json: { channel: 'stable' } })).body as TargetView;
    expect(back.state).toMatchObject({ kind: 'available', version: '1.1.0' });
    expect(back.last_error).toBeNull();
    expect((await runtime()).last_error).toBeNull();
  });

  it('named in the config by a reload: the old channel\'s offer goes at once and the reason shows, no history line', async () => {
    const { daemon, checks } = await startWithOffer();

    await fx.writeConfig(fx.configText({ target: ['channel: beta'] }));
    await daemon.core.reloadConfig();
    const v = (await call(daemon.url, 'GET', '/api/targets/demo', { token: fx.admin.token })).body as TargetView;
    expect(v.policy.channel).toBe('beta');
    expect(v.available).toBeNull();
    expect(v.state).toMatchObject({ kind: 'failed', error: { code: 'ERR_NO_RELEASE' } });
    expect(v.last_error?.message).toContain('The feed has no channel "beta"');
    expect((await daemon.core.history('demo')).filter((h) => h.operation === 'check')).toHaveLength(checks);

    // A reload that keeps the channel (another name) keeps the last check's answer.
    await fx.writeConfig(fx.configText({ name: 'Renamed', target: ['channel: beta'] }));
    await daemon.core.reloadConfig();
    expect((await runtime()).last_error?.code).toBe('ERR_NO_RELEASE');

    // Back to stable by reload: offered again.
    await fx.writeConfig(fx.configText());
    await daemon.core.reloadConfig();
    expect((await call(daemon.url, 'GET', '/api/targets/demo', { token: fx.admin.token })).body).toMatchObject({ state: { kind: 'available', version: '1.1.0' }, last_error: null });
  });

  it('named in the config: the daemon\'s first scheduled check shows the reason', async () => {
    fx = await Fixture.create('upkeep-channel-');
    await fx.publish('1.0.0', { 'bin/demo': 'one' });
    await fx.writeConfig(fx.configText({ target: ['channel: beta', 'check_interval: 3600'] }));
    child = await spawnDaemon(fx.configPath);
    const v = await waitFor('the failed first check', async () => {
      const r = await call(child!.url, 'GET', '/api/targets/demo', { token: fx.admin.token });
      return (r.body as TargetView).state.kind === 'failed' ? (r.body as TargetView) : null;
    });
    expect(v.state).toMatchObject({ kind: 'failed', error: { code: 'ERR_NO_RELEASE' } });
    expect(v.last_error?.message).toContain('The feed has no channel "beta"');
  });
});
