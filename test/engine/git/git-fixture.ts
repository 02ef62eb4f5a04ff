/**
 * Real git repositories for tests: a bare "remote", a publisher clone that commits and tags
 * releases, and the deployed work tree (the install dir) cloned from the remote.
 */
import { execFileSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { tempDir, writeTree } from '../../helpers/tree';

export function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, {
    cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, GIT_AUTHOR_NAME: 'Release Bot', GIT_AUTHOR_EMAIL: 'bot@example.test', GIT_COMMITTER_NAME: 'Release Bot', GIT_COMMITTER_EMAIL: 'bot@example.test', GIT_CONFIG_NOSYSTEM: '1', HOME: cwd },
  }).trim();
}

export interface GitFixture {
  root: string;
  remote: string;
  publisher: string;
  installDir: string;
  /** Commits `files` (written over the publisher tree) and tags it (annotated, with `message`). */
  release(tag: string, files: Record<string, string>, message?: string, extraTagArgs?: string[], gitConfig?: string[]): Promise<string>;
}

/** A remote with no releases yet, a publisher clone and an empty deployment dir path. */
export async function gitFixture(): Promise<GitFixture> {
  const root = await tempDir('upkeep-git-');
  const remote = path.join(root, 'remote.git');
  const publisher = path.join(root, 'publisher');
  const installDir = path.join(root, 'app');
  git(root, 'init', '-q', '--bare', '-b', 'main', remote);
  git(root, 'clone', '-q', remote, publisher);
  git(publisher, 'checkout', '-q', '-b', 'main');
  return {
    root, remote, publisher, installDir,
    async release(tag, files, message = `Release ${tag}`, extraTagArgs = [], gitConfig = []) {
      await writeTree(publisher, files);
      git(publisher, 'add', '-A');
      git(publisher, 'commit', '-q', '--allow-empty', '-m', `build ${tag}`);
      git(publisher, ...gitConfig.flatMap((c) => ['-c', c]), 'tag', ...extraTagArgs, '-a', tag, '-m', message);
      git(publisher, 'push', '-q', 'origin', 'main', tag);
      return git(publisher, 'rev-parse', 'HEAD');
    },
  };
}

/** Clones the remote into the install dir and checks out `tag` detached (the deployed state). */
export async function deploy(fx: GitFixture, tag: string): Promise<void> {
  git(fx.root, 'clone', '-q', fx.remote, fx.installDir);
  git(fx.installDir, '-c', 'advice.detachedHead=false', 'checkout', '-q', '--detach', tag);
  await fsp.mkdir(path.join(fx.installDir, 'node_modules'), { recursive: true });
}
