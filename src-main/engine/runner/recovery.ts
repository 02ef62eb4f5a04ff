/**
 * Recovery of an interrupted operation: the driver finishes or undoes what a crash left (its
 * journal or marker file), and the runner records one `recover` history line when it did
 * anything. Operations run it once under their lock; read-only commands and the daemon's start
 * run `recoverAll`, which skips targets whose lock a live operation holds.
 */
import type { Actor } from '../../../src-shared/api';
import { UpkeepError, toUpkeepError } from '../../../src-shared/errors';
import type { LoadedConfig } from '../config/load';
import type { TargetConfig } from '../config/schema';
import type { TargetDriver } from '../drivers';
import { acquireTargetLock } from '../lock';
import { newOperationId } from '../operation-id';
import type { RunnerContext } from './operation';

/** Asks `driver` to recover `t` (the caller holds the lock); returns the driver's outcome (`none`: nothing was interrupted). */
export async function recoverTarget(c: RunnerContext, loaded: LoadedConfig, t: TargetConfig, driver: TargetDriver, actor: Actor): Promise<string> {
  const started = c.clock.now();
  const startedMono = c.clock.monoMs();
  const outcome = await driver.recover();
  if (outcome !== 'none') {
    c.bus.log('warn', `Recovered an interrupted operation on ${t.id}: ${outcome}`, t.id);
    await c.historyWriter.record(loaded.config.state_dir, {
      ...c.historyWriter.base(t.id, 'recover', actor, started, startedMono, newOperationId(started)),
      from_version: null, to_version: await driver.currentVersion(), result: 'recovered', error_code: null,
      error_message: outcome === 'rolled-back' ? 'Interrupted operation undone' : 'Interrupted operation completed',
    });
  }
  return outcome;
}

/**
 * Finishes or undoes what a crash interrupted, for every target whose lock is free. A target
 * whose driver sees nothing to recover (TargetDriver.recoveryPending) is not locked. A target
 * whose recovery fails (a corrupt journal: ERR_STATE_CORRUPT) is logged and left as it is, and the
 * others are still recovered; `noted` hears each target's outcome (its error, or null when nothing
 * is left to recover). A busy target (a live operation holds it) is not noted.
 */
export async function recoverAll(
  c: RunnerContext, loaded: LoadedConfig, driverOf: (t: TargetConfig) => Promise<TargetDriver>, actor: Actor,
  noted: (target: string, err: UpkeepError | null) => void = () => undefined,
): Promise<Array<{ target: string; outcome: string }>> {
  const out: Array<{ target: string; outcome: string }> = [];
  for (const t of loaded.config.targets) {
    try {
      const driver = await driverOf(t);
      // Nothing to recover (looked at without the lock, changing nothing): no lock either.
      if (driver.recoveryPending && !driver.recoveryPending()) {
        noted(t.id, null);
        continue;
      }
      let lock;
      try {
        lock = await acquireTargetLock(loaded.config.state_dir, t.id, { actor, opId: 'recovery', clock: c.clock });
      } catch (err) {
        if (err instanceof UpkeepError && err.code === 'ERR_BUSY') continue; // a live operation owns it
        throw err;
      }
      try {
        const outcome = await recoverTarget(c, loaded, t, driver, actor);
        noted(t.id, null);
        if (outcome !== 'none') out.push({ target: t.id, outcome });
      } finally {
        await lock.release();
      }
    } catch (err) {
      const e = toUpkeepError(err);
      c.bus.log('error', `${t.id}: the interrupted operation could not be recovered: ${e.message} (${e.code})`, t.id);
      noted(t.id, e);
    }
  }
  return out;
}
