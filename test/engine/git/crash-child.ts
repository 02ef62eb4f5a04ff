/**
 * Child process for the git crash test: applies `version` to the git target described by the
 * JSON in argv[2]. The test kills this process with SIGKILL from inside a hook.
 */
import path from 'node:path';
import { GitTargetSchema } from '../../../src-main/engine/config/schema';
import { GitDriver } from '../../../src-main/engine/git/git-driver';
import { GitFeed } from '../../../src-main/engine/git/git-feed';
import { GitCli } from '../../../src-main/engine/git/git-cli';
import { systemClock } from '../../../src-main/engine/clock';
import { DEFAULT_LIMITS } from '../../../src-main/engine/limits';

async function main(): Promise<void> {
  const { target, state, version } = JSON.parse(process.argv[2] ?? '{}') as { target: unknown; state: string; version: string };
  const t = GitTargetSchema.parse(target);
  const d = new GitDriver(t, { paths: { stateDir: path.join(state, 'targets', t.id), pointsDir: path.join(state, 'points', t.id), cacheDir: path.join(state, 'blobs'), releasesDir: path.join(state, 'releases') }, reservedDirs: [], clock: systemClock, limits: DEFAULT_LIMITS });
  const feed = new GitFeed(t, { git: new GitCli({ cwd: t.install_dir, timeoutMs: 30_000 }), channel: 'stable', verifyTag: null });
  const release = await feed.release(version);
  const out = await d.apply({ opId: 'op', from: await d.currentVersion(), to: version, release, artifacts: new Map(), retention: 3 }, new AbortController().signal, () => undefined);
  process.stdout.write(JSON.stringify(out));
}
void main();
