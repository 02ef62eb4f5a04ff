/**
 * Finding a target in a validated config. Kept apart from load.ts so the engine can name targets
 * without loading the YAML parser and the schemas.
 */
import { NotFoundError, UsageError } from '../../../src-shared/errors';
import type { Config, TargetConfig } from './schema';

/** The target the compatibility routes act on: the one marked default, else the first. */
export function defaultTarget(config: Config): TargetConfig {
  return config.targets.find((t) => t.default) ?? config.targets[0]!;
}

/**
 * The target named `id`; with no id, the only target. Throws UsageError (ERR_USAGE) when several
 * exist and none is named, NotFoundError (ERR_TARGET_NOT_FOUND) for an unknown id.
 */
export function findTarget(config: Config, id?: string): TargetConfig {
  if (id === undefined || id === '') {
    if (config.targets.length === 1) return config.targets[0]!;
    throw new UsageError('ERR_USAGE', `Several targets are configured: name one (${config.targets.map((t) => t.id).join(', ')})`, {
      targets: config.targets.map((t) => t.id),
    });
  }
  const t = config.targets.find((x) => x.id === id);
  if (!t) throw new NotFoundError('ERR_TARGET_NOT_FOUND', `Unknown target "${id}". Configured targets: ${config.targets.map((x) => x.id).join(', ') || 'none'}`, { target: id, targets: config.targets.map((x) => x.id) });
  return t;
}
