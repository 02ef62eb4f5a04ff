/**
 * Child process for the crash suite: runs one engine command against a sandbox so the parent
 * can SIGKILL it at any instant, then runs `recover` in a fresh process (what the next start of
 * Upkeep does), which the parent may kill too. With UPKEEP_CRASH_FAIL_VERIFY=1 verify() fails, so the
 * transaction undoes itself. Prints `PHASE <name>` the first time each phase is reached, `DONE <json>` at the end.
 *
 * Usage: node --import tsx crash-child.ts <apply|rollback|recover> <config.json>
 */
import { readFileSync } from 'node:fs';
import { applyRelease, recover, rollbackToPoint } from '../../../src-main/engine/apply/index';
import type { ApplyHooks, PlannedFile } from '../../../src-main/engine/apply/index';

interface ChildConfig {
  installDir: string;
  stateDir: string;
  pointsDir: string;
  layout: 'in-place' | 'versioned';
  version: string;
  filesJson: string;
  opId: string;
  /** Rollback points an apply keeps (default 3). */
  retention?: number;
}

async function main(): Promise<void> {
  const [cmd, cfgPath] = process.argv.slice(2);
  const cfg = JSON.parse(readFileSync(cfgPath, 'utf8')) as ChildConfig;
  const seen = new Set<string>();
  const mark = (name: string): void => {
    if (seen.has(name)) return;
    seen.add(name);
    process.stdout.write(`PHASE ${name}\n`);
  };
  const hooks: ApplyHooks = {
    onProgress: (p) => mark(p.phase),
    verify: async () => {
      mark('verify');
      // Simulates a slow health check, so the parent can kill the child while it verifies.
      if (process.env.UPKEEP_CRASH_HOLD_VERIFY === '1') await new Promise((r) => setTimeout(r, 120_000));
      // A failed health check: the transaction undoes the switch itself (phase `rollback`).
      if (process.env.UPKEEP_CRASH_FAIL_VERIFY === '1') throw new Error('health check failed (crash suite)');
    },
  };
  let result: unknown;
  if (cmd === 'apply') {
    const files = JSON.parse(readFileSync(cfg.filesJson, 'utf8')) as PlannedFile[];
    result = await applyRelease(
      { opId: cfg.opId, target: 'app', installDir: cfg.installDir, layout: cfg.layout, stateDir: cfg.stateDir, pointsDir: cfg.pointsDir, toVersion: cfg.version, files, retention: cfg.retention ?? 3 },
      hooks,
    );
  } else if (cmd === 'rollback') {
    result = await rollbackToPoint({ target: 'app', installDir: cfg.installDir, stateDir: cfg.stateDir, pointsDir: cfg.pointsDir, opId: cfg.opId }, hooks);
  } else if (cmd === 'recover') {
    // `start`: recovery begins; `work`: its journal is read and the undo or finish begins (the
    // parent kills at random instants after it).
    mark('start');
    result = await recover(cfg, { onProgress: (p) => (mark('work'), mark(p.phase)) });
  } else {
    throw new Error(`unknown command ${cmd}`);
  }
  process.stdout.write(`DONE ${JSON.stringify(result)}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
