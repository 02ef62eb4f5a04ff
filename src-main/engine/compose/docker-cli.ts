/**
 * The `docker` command line as a `compose` target uses it: every call is an argument vector run
 * without a shell, bounded in time, with the user's compose file plus Upkeep's pin override.
 * Nothing here talks to a Docker engine directly; the engine is whatever `docker` reaches.
 */
import { OperationError } from '../../../src-shared/errors';
import { runCommand, type CommandResult } from '../hooks';

export interface DockerCliOptions {
  /** The docker executable (default `docker` on PATH). */
  bin: string;
  /** The user's compose file. */
  composeFile: string;
  /** Upkeep's override file pinning images by digest, when it exists. */
  pinFile: string | null;
  /** `-p` project name, when configured. */
  projectName?: string;
  /** Per-command timeout, ms. */
  timeoutMs: number;
  /** Environment for docker (a clean one, see hooks). */
  env?: Record<string, string>;
  signal?: AbortSignal;
}

/** Runs docker commands for one compose stack. */
export class DockerCli {
  constructor(private readonly o: DockerCliOptions) {}

  private composeArgs(): string[] {
    const args = ['compose', '-f', this.o.composeFile];
    if (this.o.pinFile) args.push('-f', this.o.pinFile);
    if (this.o.projectName) args.push('-p', this.o.projectName);
    return args;
  }

  /** Runs `docker ARGS`; throws OperationError ERR_STEP_FAILED (naming `what`) on failure. */
  async run(what: string, args: string[]): Promise<CommandResult> {
    const res = await runCommand({ file: this.o.bin, args }, { timeoutMs: this.o.timeoutMs, ...(this.o.signal ? { signal: this.o.signal } : {}), ...(this.o.env ? { env: this.o.env } : {}) });
    if (res.code !== 0 || res.timedOut) {
      const said = (res.stderr.trim() || res.stdout.trim()).split(/\r?\n/).slice(-5).join('\n');
      throw new OperationError('ERR_STEP_FAILED', `${what} failed: ${res.timedOut ? `timed out after ${Math.round(this.o.timeoutMs / 1000)}s` : `exit code ${res.code ?? res.signal}`}${said ? `\n${said}` : ''}`, {
        step: what, exit_code: res.code, timed_out: res.timedOut, stderr_tail: res.stderr.slice(-4096),
      });
    }
    return res;
  }

  /** `docker compose pull SERVICES` with the pins in force. */
  async pull(services: string[]): Promise<void> {
    await this.run('docker compose pull', [...this.composeArgs(), 'pull', ...services]);
  }

  /** `docker compose up -d SERVICES`: recreates the services whose image changed. */
  async up(services: string[]): Promise<void> {
    await this.run('docker compose up', [...this.composeArgs(), 'up', '-d', ...services]);
  }

  /**
   * The repository digests (`repo@sha256:…`) of the image each running container of `service`
   * was created from; empty when the service runs no container.
   */
  async runningRepoDigests(service: string): Promise<string[]> {
    const ps = await this.run('docker compose ps', [...this.composeArgs(), 'ps', '-q', service]);
    const ids = ps.stdout.split(/\s+/).filter(Boolean);
    if (ids.length === 0) return [];
    const images = (await this.run('docker inspect', ['inspect', '--format', '{{.Image}}', ...ids])).stdout.split(/\s+/).filter(Boolean);
    const out = new Set<string>();
    for (const image of new Set(images)) {
      const text = (await this.run('docker image inspect', ['image', 'inspect', '--format', '{{json .RepoDigests}}', image])).stdout.trim();
      try {
        for (const d of JSON.parse(text || '[]') as unknown[]) if (typeof d === 'string') out.add(d);
      } catch { /* an image without repository digests (built locally) */ }
    }
    return [...out];
  }

  /** Removes an image by reference; an image still in use or already gone is left alone. */
  async removeImage(ref: string): Promise<boolean> {
    try {
      await this.run('docker image rm', ['image', 'rm', ref]);
      return true;
    } catch {
      return false;
    }
  }
}
