/**
 * Builds the command line once before the tests, so tests run the real `bin/upkeep.js`.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';

export default function setup(): void {
  const root = path.resolve(__dirname, '..');
  execFileSync(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(root, 'tsconfig.node.json')], { cwd: root, stdio: 'inherit' });
}
