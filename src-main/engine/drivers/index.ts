/**
 * The one place target kinds are registered: config `kind` → the driver factory for it. Adding a
 * kind (`git`, `compose`) means adding its config schema and its factory here; the operation
 * runner does not change.
 */
import type { TargetConfig } from '../config/schema';
import type { DriverEnv, DriverFactories, DriverFactory, TargetDriver } from './driver';

export type * from './driver';

/**
 * The factory of each kind, loaded on first use: a command reading `files` targets does not load
 * the git, compose or command drivers (or what they import) at start.
 */
export const DRIVER_FACTORIES: Readonly<{ [K in keyof DriverFactories]: () => Promise<DriverFactories[K]> }> = Object.freeze({
  files: async () => (await import('./files-driver.js')).createFilesDriver,
  command: async () => (await import('./command-driver.js')).createCommandDriver,
  git: async () => (await import('../git/git-driver.js')).createGitDriver,
  compose: async () => (await import('../compose/compose-driver.js')).createComposeDriver,
});

/** The driver of `target`'s kind. */
export async function createDriver(target: TargetConfig, env: DriverEnv): Promise<TargetDriver> {
  const factory = (await DRIVER_FACTORIES[target.kind]()) as DriverFactory<TargetConfig>;
  return factory(target, env);
}
