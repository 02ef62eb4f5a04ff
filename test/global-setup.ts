/**
 * Builds the command line once before the tests (tsc, then the one-file bundle), so tests run the
 * real `bin/upkeep.js`.
 * Type errors do not stop the build here (tsc still emits); `npm run typecheck` reports them.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';

export default function setup(): void {
  const root = path.resolve(__dirname, '..');
  const r = spawnSync(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(root, 'tsconfig.node.json')], { cwd: root, encoding: 'utf8' });
  if (!existsSync(path.join(root, 'dist', 'node', 'src-main', 'cli', 'main.js'))) {
    throw new Error(`Building the CLI failed:\n${r.stdout}${r.stderr}`);
  }
  // The one-file bundle bin/upkeep.js runs (npm run build:node does the same two steps).
  const b = spawnSync(process.execPath, [path.join(root, 'scripts', 'bundle-cli.mjs')], { cwd: root, encoding: 'utf8' });
  if (b.status !== 0) throw new Error(`Bundling the CLI failed:\n${b.stdout}${b.stderr}`);
}
