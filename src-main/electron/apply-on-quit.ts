/**
 * "Apply when I quit": the (target, version) pairs the user picked in the tray, and the quit
 * sequence that applies them through the core before the app exits.
 *
 * Quitting is held only when there is work (chosen updates, or an operation still running):
 * holding every quit makes macOS treat the app as refusing to log out or shut down. The work is
 * bounded by a timeout. Windows sends no before-quit at logoff and a shutdown leaves little time,
 * so the choices are also kept in a file: whatever was not applied when the session ended is
 * applied at the next start.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { ApplyResult, TargetView } from '../../src-shared/api';
import type { QuitApplyEntry } from './tray-model';

/** The chosen updates: at most one version per target, saved to `file` (JSON) when given. */
export class ApplyOnQuitList {
  private readonly byTarget = new Map<string, string>();

  constructor(private readonly file?: string) {
    if (!file) return;
    try {
      const saved = JSON.parse(fs.readFileSync(file, 'utf8')) as unknown;
      if (Array.isArray(saved)) {
        for (const e of saved as QuitApplyEntry[]) if (typeof e?.target === 'string' && typeof e?.version === 'string') this.byTarget.set(e.target, e.version);
      }
    } catch {
      // no saved choices (or an unreadable file): start empty
    }
  }

  private save(): void {
    if (!this.file) return;
    fs.mkdirSync(path.dirname(this.file), { recursive: true });
    const tmp = `${this.file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(this.entries()));
    fs.renameSync(tmp, this.file);
  }

  /** Forgets every choice (after they were applied). */
  clear(): void {
    this.byTarget.clear();
    this.save();
  }

  /** Selects (target, version), replacing another version of that target; selecting it again unselects it. Returns whether it is now selected. */
  toggle(target: string, version: string): boolean {
    const selected = this.byTarget.get(target) !== version;
    if (selected) this.byTarget.set(target, version);
    else this.byTarget.delete(target);
    this.save();
    return selected;
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
    let changed = false;
    for (const [target, version] of [...this.byTarget]) {
      const t = byId.get(target);
      if (!t || t.current_version === version) {
        this.byTarget.delete(target);
        changed = true;
      }
    }
    if (changed) this.save();
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
      // A rolled-back or failed apply rejects with its error: a result is always a success.
      await apply(e.target, e.version);
      out.push({ ...e, ok: true });
    } catch (err) {
      const code = err && typeof err === 'object' && 'code' in err && typeof (err as { code: unknown }).code === 'string' ? (err as { code: string }).code : 'ERR_INTERNAL';
      out.push({ ...e, ok: false, code, message: err instanceof Error ? err.message : String(err) });
    }
  }
  return out;
}

/** Longest wait for work before quitting (an apply-on-quit or a running operation). */
export const QUIT_WORK_TIMEOUT_MS = 5 * 60 * 1000;

export interface QuitSequenceDeps {
  /** True when quitting must wait: chosen updates to apply, or an operation still running. Default: always. */
  needsWork?(): boolean;
  /** Work to finish before exiting (apply the chosen updates, close the core). Errors are logged, never block quitting. */
  beforeExit(): Promise<void>;
  /** Quits for real (app.quit()); the handler lets that second quit through. */
  quit(): void;
  /** Shown while the quit waits (tray tooltip). */
  onWaiting?(): void;
  /** Default QUIT_WORK_TIMEOUT_MS; after it the app quits anyway (a running apply is journaled). */
  timeoutMs?: number;
  log?: { error(...a: unknown[]): void };
}

/**
 * The app's before-quit handler. Without work the quit proceeds at once (returns true, nothing
 * prevented). With work the first quit is prevented while `beforeExit` runs, at most `timeoutMs`
 * (further quit requests meanwhile are also held), then `quit` is called and let through.
 */
export function createBeforeQuitHandler(deps: QuitSequenceDeps): (event: { preventDefault(): void }) => boolean {
  let phase: 'running' | 'finishing' | 'done' = 'running';
  return (event) => {
    if (phase === 'done') return true;
    if (phase === 'running' && deps.needsWork && !deps.needsWork()) {
      phase = 'done';
      return true;
    }
    event.preventDefault();
    if (phase === 'finishing') return false;
    phase = 'finishing';
    deps.onWaiting?.();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        deps.log?.error('work before quit took too long; quitting anyway');
        resolve();
      }, deps.timeoutMs ?? QUIT_WORK_TIMEOUT_MS);
    });
    void Promise.race([deps.beforeExit().catch((err: unknown) => deps.log?.error('work before quit failed', err)), timeout]).finally(() => {
      clearTimeout(timer);
      phase = 'done';
      deps.quit();
    });
    return false;
  };
}
