/**
 * The `git` command line as a `git` target uses it: argument vectors run without a shell, never
 * prompting (GIT_TERMINAL_PROMPT=0), in the C locale, each bounded in time. Only plumbing-stable
 * output formats are parsed (`for-each-ref --format`, `status --porcelain=v1 -z`, `rev-parse`).
 */
import { OperationError, UpkeepError } from '../../../src-shared/errors';
import { runCommand, type CommandResult } from '../hooks';

export interface GitOptions {
  /** The work tree. */
  cwd: string;
  /** Per-command timeout, ms. */
  timeoutMs: number;
  /** The git executable (default `git`). */
  bin?: string;
  env?: Record<string, string>;
  signal?: AbortSignal;
}

export interface GitTag {
  /** Tag name without `refs/tags/`. */
  name: string;
  /** The commit the tag points at (peeled). */
  commit: string;
  /** True for an annotated (or signed) tag object. */
  annotated: boolean;
  /** The annotation message (empty for lightweight tags). */
  message: string;
}

/** One path with local changes, from `git status --porcelain=v1`. */
export interface GitChange {
  /** Two-letter status (`' M'`, `'M '`, `'D '`, `'??'` …). */
  status: string;
  path: string;
}

/** Runs git commands in one work tree. */
export class GitCli {
  constructor(private readonly o: GitOptions) {}

  /**
   * Runs `git ARGS`; throws OperationError ERR_GIT naming the command and git's own message
   * when it exits non-zero or times out (ERR_CANCELLED when cancelled).
   */
  async run(args: string[], o: { timeoutMs?: number; env?: Record<string, string> } = {}): Promise<CommandResult> {
    const timeoutMs = o.timeoutMs ?? this.o.timeoutMs;
    const res = await runCommand({ file: this.o.bin ?? 'git', args }, {
      cwd: this.o.cwd,
      timeoutMs,
      env: { GIT_TERMINAL_PROMPT: '0', GIT_OPTIONAL_LOCKS: '0', LC_ALL: 'C', ...this.o.env, ...o.env },
      ...(this.o.signal ? { signal: this.o.signal } : {}),
    });
    if (res.code !== 0 || res.timedOut) {
      const said = (res.stderr.trim() || res.stdout.trim()).split(/\r?\n/).slice(-4).join('\n');
      throw new OperationError('ERR_GIT', `git ${args[0] ?? ''} failed: ${res.timedOut ? `timed out after ${Math.round(timeoutMs / 1000)}s` : `exit code ${res.code ?? res.signal}`}${said ? `\n${said}` : ''}`, {
        command: `git ${args.join(' ')}`, exit_code: res.code, timed_out: res.timedOut, stderr_tail: res.stderr.slice(-4096),
      });
    }
    return res;
  }

  /** Throws UsageError-kind ERR_CONFIG_INVALID unless the directory is a git work tree. */
  async assertWorkTree(): Promise<void> {
    try {
      const r = await this.run(['rev-parse', '--is-inside-work-tree']);
      if (r.stdout.trim() === 'true') return;
    } catch { /* reported below */ }
    throw new UpkeepError('ERR_CONFIG_INVALID', `${this.o.cwd} is not a git work tree`, { install_dir: this.o.cwd });
  }

  /** `git fetch --tags --prune REMOTE`, bounded by `timeoutMs`. */
  async fetch(remote: string, timeoutMs?: number): Promise<void> {
    await this.run(['fetch', '--tags', '--prune', '--no-recurse-submodules', remote], timeoutMs !== undefined ? { timeoutMs } : {});
  }

  /** The commit a revision names (`HEAD`, a tag, `origin/main`). */
  async commitOf(rev: string): Promise<string> {
    return (await this.run(['rev-parse', '--verify', '--end-of-options', `${rev}^{commit}`])).stdout.trim();
  }

  /** Tags matching a glob (`v*`), peeled to commits, with their annotation messages. */
  async tags(glob: string): Promise<GitTag[]> {
    const fmt = '%(refname:strip=2)%00%(objecttype)%00%(objectname)%00%(*objectname)%00%(contents)%00%00';
    const out = (await this.run(['for-each-ref', `--format=${fmt}`, `refs/tags/${glob}`])).stdout;
    const tags: GitTag[] = [];
    for (const rec of out.split('\0\0')) {
      const [name, type, obj, peeled, message] = rec.replace(/^\n/, '').split('\0');
      if (!name) continue;
      const annotated = type === 'tag';
      tags.push({ name, commit: (annotated ? peeled : obj) ?? '', annotated, message: annotated ? (message ?? '').trim() : '' });
    }
    return tags.filter((t) => /^[0-9a-f]{40,64}$/.test(t.commit));
  }

  /** Tracked paths with local changes (staged or not); untracked files are not listed. */
  async changes(): Promise<GitChange[]> {
    const out = (await this.run(['status', '--porcelain=v1', '-z', '--untracked-files=no'])).stdout;
    const parts = out.split('\0');
    const changes: GitChange[] = [];
    for (let i = 0; i < parts.length; i++) {
      const rec = parts[i] ?? '';
      if (rec.length < 4) continue;
      const status = rec.slice(0, 2);
      changes.push({ status, path: rec.slice(3) });
      // A rename or copy is followed by its source path.
      if (status[0] === 'R' || status[0] === 'C') i++;
    }
    return changes;
  }

  /** Checks out `commit` detached, discarding changes to tracked files when `force`. */
  async checkoutDetached(commit: string, o: { force?: boolean } = {}): Promise<void> {
    await this.run(['-c', 'advice.detachedHead=false', 'checkout', ...(o.force ? ['--force'] : []), '--detach', commit, '--']);
  }

  /** Stashes tracked local changes; returns the stash commit (null when there was nothing to stash). */
  async stash(message: string): Promise<string | null> {
    const before = await this.run(['rev-parse', '--verify', '--quiet', 'refs/stash']).then((r) => r.stdout.trim(), () => '');
    await this.run(['stash', 'push', '--message', message]);
    const after = await this.run(['rev-parse', '--verify', '--quiet', 'refs/stash']).then((r) => r.stdout.trim(), () => '');
    return after && after !== before ? after : null;
  }

  /** Re-applies a stash commit made by `stash` (and drops it from the stash list when it is on top). */
  async unstash(stashCommit: string): Promise<void> {
    await this.run(['stash', 'apply', stashCommit]);
    const top = await this.run(['rev-parse', '--verify', '--quiet', 'refs/stash']).then((r) => r.stdout.trim(), () => '');
    if (top === stashCommit) await this.run(['stash', 'drop', '--quiet']);
  }

  /**
   * Verifies a tag's signature: SSH signatures against an allowed-signers file (`ssh-keygen -Y`
   * through git), OpenPGP ones against a GnuPG home holding the trusted keys. Throws
   * VerificationError-kind ERR_SIGNATURE_INVALID naming the tag when it is unsigned or the
   * signature does not verify with a trusted key.
   */
  async verifyTag(tag: string, trust: { sshAllowedSigners?: string; gnupgHome?: string }): Promise<void> {
    const cfg: string[] = [];
    const env: Record<string, string> = {};
    if (trust.sshAllowedSigners) cfg.push('-c', `gpg.ssh.allowedSignersFile=${trust.sshAllowedSigners}`);
    if (trust.gnupgHome) env.GNUPGHOME = trust.gnupgHome;
    try {
      await this.run([...cfg, 'verify-tag', '--end-of-options', tag], { env });
    } catch (err) {
      const detail = (err as OperationError).details?.stderr_tail;
      throw new UpkeepError('ERR_SIGNATURE_INVALID', `Tag ${tag} has no valid signature from a trusted key${typeof detail === 'string' && detail.trim() ? `: ${detail.trim().split('\n').slice(-1)[0]}` : ''}`, { tag });
    }
  }
}

/** The dependency install command for a work tree, from its lockfile (null: nothing to install). */
export function detectInstallCommand(files: Set<string>): string | null {
  if (files.has('pnpm-lock.yaml')) return 'pnpm install --frozen-lockfile';
  if (files.has('yarn.lock')) return files.has('.yarnrc.yml') ? 'yarn install --immutable' : 'yarn install --frozen-lockfile';
  if (files.has('package-lock.json') || files.has('npm-shrinkwrap.json')) return 'npm ci';
  if (files.has('package.json')) return 'npm install';
  return null;
}
