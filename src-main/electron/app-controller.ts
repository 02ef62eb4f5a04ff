/**
 * What the tray's menu actions do, against the core and a few host callbacks. No Electron
 * import: main.ts passes the native pieces in, tests pass fakes.
 */
import path from 'node:path';
import type { DaemonCore } from '../engine/daemon-types';
import { isBusy } from '../../src-shared/target-state';
import type { PauseChoice, TrayAction } from './tray-model';
import type { ApplyOnQuitList } from './apply-on-quit';
import { assertNever } from '../../src-shared/errors';

export type ControllerCore = Pick<DaemonCore, 'listTargets' | 'check' | 'apply' | 'rollback' | 'updateSettings' | 'reloadConfig'>;

export interface ControllerDeps {
  core: () => ControllerCore | null;
  applyOnQuit: ApplyOnQuitList;
  openWindow(route: string): void;
  startAtLogin: { get(): boolean; set(enabled: boolean): void };
  /** Tells the user about the outcome of something they asked for from the tray. */
  report(title: string, body: string): void;
  /** Menu state changed (apply-on-quit, login item, pause): rebuild the tray. */
  changed(): void;
  retryStart(): void;
  showConfig(): void;
  quit(): void;
  log: { info(...a: unknown[]): void; warn(...a: unknown[]): void; error(...a: unknown[]): void };
  now?: () => Date;
}

/** ISO instant until which updates pause: one hour from now, or the next local midnight ("until tomorrow"). */
export function pauseUntil(choice: PauseChoice, now: Date): string {
  if (choice === 'hour') return new Date(now.getTime() + 60 * 60 * 1000).toISOString();
  const next = new Date(now.getTime());
  next.setHours(24, 0, 0, 0);
  return next.toISOString();
}

/** The config file the tray uses: --config <path> / --config=<path>, else $UPKEEP_CONFIG, else upkeep.yaml in the user data folder. */
export function configPathFor(argv: readonly string[], env: NodeJS.ProcessEnv, userDataDir: string): string {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--config' && argv[i + 1]) return path.resolve(argv[i + 1]);
    if (a.startsWith('--config=') && a.length > '--config='.length) return path.resolve(a.slice('--config='.length));
  }
  if (env.UPKEEP_CONFIG) return path.resolve(env.UPKEEP_CONFIG);
  return path.join(userDataDir, 'upkeep.yaml');
}

function describe(err: unknown): string {
  const code = err && typeof err === 'object' && 'code' in err ? String((err as { code: unknown }).code) : 'ERR_INTERNAL';
  const message = err instanceof Error ? err.message : String(err);
  return `${message} (${code})`;
}

export interface AppController {
  /** Carries out one tray action; failures are logged and reported, never thrown. */
  handle(action: TrayAction): Promise<void>;
}

/** Binds tray actions to the core and the host. */
export function createAppController(deps: ControllerDeps): AppController {
  const now = deps.now ?? (() => new Date());

  const withCore = async (what: string, fn: (core: ControllerCore) => Promise<void>): Promise<void> => {
    const core = deps.core();
    if (!core) {
      deps.report('Upkeep is not running', `Cannot ${what}: the engine did not start.`);
      return;
    }
    try {
      await fn(core);
    } catch (err) {
      deps.log.warn(`${what} failed`, err);
      deps.report(`Could not ${what}`, describe(err));
    }
  };

  const setPause = (pausedUntil: string | null, what: string) =>
    withCore(what, async (core) => {
      const targets = await core.listTargets();
      const results = await Promise.allSettled(targets.map((t) => core.updateSettings(t.id, { paused_until: pausedUntil })));
      const failed = results.filter((r) => r.status === 'rejected');
      if (failed.length > 0) throw (failed[0] as PromiseRejectedResult).reason;
      deps.changed();
    });

  return {
    async handle(action) {
      switch (action.type) {
        case 'check-now':
          return withCore('check for updates', async (core) => {
            const targets = (await core.listTargets()).filter((t) => !isBusy(t.state));
            const results = await Promise.allSettled(targets.map((t) => core.check(t.id)));
            results.forEach((r, i) => {
              if (r.status === 'rejected') deps.log.warn(`check of ${targets[i].id} failed`, r.reason);
            });
          });
        case 'apply':
          return withCore(`update ${action.target} to ${action.version}`, async (core) => {
            deps.log.info(`tray: apply ${action.target} ${action.version}`);
            await core.apply(action.target, { version: action.version });
          });
        case 'rollback':
          return withCore(`roll back ${action.target}`, async (core) => {
            deps.log.info(`tray: rollback ${action.target} ${action.rollback_id}`);
            await core.rollback(action.target, action.rollback_id);
          });
        case 'toggle-apply-on-quit':
          deps.applyOnQuit.toggle(action.target, action.version);
          deps.changed();
          return;
        case 'open':
          deps.openWindow(action.route);
          return;
        case 'pause':
          return setPause(pauseUntil(action.choice, now()), 'pause updates');
        case 'resume':
          return setPause(null, 'resume updates');
        case 'reload-config':
          return withCore('reload the configuration', async (core) => {
            const r = await (core.reloadConfig as DaemonCore['reloadConfig'])('tray');
            const restart = r.restart_required.length ? ` Restart Upkeep to apply: ${r.restart_required.join(', ')}.` : '';
            deps.report('Configuration reloaded', `Generation ${r.config_generation}.${restart}`);
            deps.changed();
          });
        case 'toggle-start-at-login':
          try {
            deps.startAtLogin.set(!deps.startAtLogin.get());
          } catch (err) {
            deps.log.warn('start at login failed', err);
            deps.report('Could not change "Start at login"', describe(err));
          }
          deps.changed();
          return;
        case 'retry-start':
          deps.retryStart();
          return;
        case 'show-config':
          deps.showConfig();
          return;
        case 'quit':
          deps.quit();
          return;
        default:
          return assertNever(action, 'tray action');
      }
    },
  };
}
