/**
 * Child process for the cache-pruning crash suite: prunes the download cache of the config it
 * is given (what every commit does), so the parent can SIGKILL it at any instant. Prints
 * `PHASE prune` right before pruning starts and `DONE <bytes freed>` at the end.
 *
 * Usage: node -r tsx/cjs cache-crash-child.ts <upkeep.yaml>
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { pruneDownloadCache } from '../../../src-main/engine/apply/cache-prune';
import { parseConfig } from '../../../src-main/engine/config/load';

async function main(): Promise<void> {
  const file = path.resolve(process.argv[2]);
  const loaded = parseConfig(readFileSync(file, 'utf8'), { file, dir: path.dirname(file), env: {} });
  process.stdout.write('PHASE prune\n');
  const freed = await pruneDownloadCache(loaded.config);
  process.stdout.write(`DONE ${freed}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
