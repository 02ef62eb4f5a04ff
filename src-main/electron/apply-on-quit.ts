/**
 * "Apply when I quit": the (target, version) pairs the user picked in the tray, and the quit
 * sequence that applies them through the core before the app exits. The before-quit handler
 * prevents the first quit once, runs the work, then quits for real.
 */
import type { ApplyResult, TargetView } from '../../src-shared/api';
import type { QuitApplyEntry } from './tray-model';

/** The chosen updates: at most one version per target. */
export class ApplyOnQuitList {
  private readonly byTarget = new Map<string, string>();

  /** Selects (target, version), replacing another version of that target; selecting it again unselects it. Returns whether it is now selected. */
  toggle(target: string, version: string): boolean {
    if (this.byTarget.get(target) === version) {
      this.byTarget.delete(target);
      return false;
    }
    this.byTarget.set(target, version);
    return true;
  }

  has(target: string, version: string): boolean {
    return this.byTarget.get(target) === version;
  }

  entries(): QuitApplyEntry[] {
    return [...this.byTarget].map(([target, version]) => ({ target, version }));
  }

  /** Drops entries whose target is gone or already runs the chosen version. */
  prune(targets: readonly TargetView[]): void {
    const byId = new Map(targets.map((t) => [t.id, t]));
    for (const [target, version] of [...this.byTarget]) {
      const t = byId.get(target);
      if (!t || t.current_version === version) this.byTarget.delete(target);
    }
  }
}

export interface QuitApplyOutcome {
  target: string;
  version: string;
  ok: boolean;
  /** The engine's stable code when it failed. */
  code?: string;
  message?: string;
}

/** Applies each entry in turn (one failure does not stop the others) and reports every outcome. */
export async function runApplyOnQuit(
  entries: readonly QuitApplyEntry[],
  apply: (target: string, version: string) => Promise<ApplyResult>,
): Promise<QuitApplyOutcome[]> {
  const out: QuitApplyOutcome[] = [];
  for (const e of entries) {
    try {
      const r = await apply(e.target, e.version);
      out.push(r.success ? { ...e, ok: true } : { ...e, ok: false, code: r.error?.code ?? 'ERR_APPLY_FAILED', message: r.error?.message ?? 'apply failed' });
    } catch (err) {
      const code = err && typeof err === 'object' && 'code' in err && typeof (err as { code: unknown }).code === 'string' ? (err as { code: string }).code : 'ERR_INTERNAL';
      out.push({ ...e, ok: false, code, message: err instanceof Error ? err.message : String(err) });
    }
  }
  return out;
}

export interface QuitSequenceDeps {
  /** Work to finish before exiting (apply the chosen updates, close the core). Errors are logged, never block quitting. */
  beforeExit(): Promise<void>;
  /** Quits for real (app.quit()); the handler lets that second quit through. */
  quit(): void;
  log?: { error(...a: unknown[]): void };
}

/**
 * The app's before-quit handler: the first quit is prevented while `beforeExit` runs (further
 * quit requests meanwhile are also held), then `quit` is called and let through. Returns true
 * from the handler when the quit proceeds.
 */
export function createBeforeQuitHandler(deps: QuitSequenceDeps): (event: { preventDefault(): void }) => boolean {
  let phase: 'running' | 'finishing' | 'done' = 'running';
  return (event) => {
    if (phase === 'done') return true;
    event.preventDefault();
    if (phase === 'finishing') return false;
    phase = 'finishing';
    void deps
      .beforeExit()
      .catch((err: unknown) => deps.log?.error('work before quit failed', err))
      .finally(() => {
        phase = 'done';
        deps.quit();
      });
    return false;
  };
}
