/**
 * The daemon core: config, engine, scheduler and event bus behind the DaemonCore interface.
 * (Being built: this placeholder keeps the interface compiling for its hosts.)
 */
import type { DaemonCore, DaemonOptions } from './daemon-types';
import { UpkeepError } from '../../src-shared/errors';

/** Loads the config, recovers interrupted operations and returns a running core (scheduler not started). */
export async function createDaemon(_o: DaemonOptions = {}): Promise<DaemonCore> {
  throw new UpkeepError('ERR_INTERNAL', 'createDaemon is not built yet');
}
