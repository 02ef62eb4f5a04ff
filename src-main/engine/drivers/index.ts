/**
 * The one place target kinds are registered: config `kind` → the driver factory for it. Adding a
 * kind (`git`, `compose`) means adding its config schema and its factory here; the operation
 * runner does not change.
 */
import type { TargetConfig } from '../config/schema';
import { createCommandDriver } from './command-driver';
import type { DriverEnv, DriverFactories, DriverFactory, TargetDriver } from './driver';
import { createFilesDriver } from './files-driver';
import { createGitDriver } from '../git/git-driver';
import { createComposeDriver } from '../compose/compose-driver';

export type * from './driver';

export const DRIVER_FACTORIES: Readonly<DriverFactories> = Object.freeze({
  files: createFilesDriver,
  command: createCommandDriver,
  git: createGitDriver,
  compose: createComposeDriver,
});

/** The driver of `target`'s kind. */
export function createDriver(target: TargetConfig, env: DriverEnv): TargetDriver {
  const factory = DRIVER_FACTORIES[target.kind] as DriverFactory<TargetConfig>;
  return factory(target, env);
}
