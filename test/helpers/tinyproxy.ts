/**
 * Debian's tinyproxy as a real forward proxy on 127.0.0.1 for tests: started in the foreground
 * with its own config file on a free port, its log read back to see which requests went through.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import net, { type AddressInfo } from 'node:net';
import path from 'node:path';

export interface Tinyproxy {
  url: string;
  port: number;
  /** Request lines tinyproxy logged so far (`CONNECT 127.0.0.1:1234 HTTP/1.1`, `GET http://… HTTP/1.1`). */
  requests(): Promise<string[]>;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as AddressInfo;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

async function waitForPort(port: number, deadline: number): Promise<void> {
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`tinyproxy did not listen on ${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Starts tinyproxy in `dir` (config, log and pid file live there). */
export async function startTinyproxy(dir: string, extraConfig: string[] = []): Promise<Tinyproxy> {
  await fsp.mkdir(dir, { recursive: true });
  const port = await freePort();
  const log = path.join(dir, 'tinyproxy.log');
  const conf = path.join(dir, 'tinyproxy.conf');
  await fsp.writeFile(
    conf,
    [
      `Port ${port}`,
      'Listen 127.0.0.1',
      'Timeout 30',
      `LogFile "${log}"`,
      'LogLevel Info',
      `PidFile "${path.join(dir, 'tinyproxy.pid')}"`,
      'MaxClients 50',
      'Allow 127.0.0.1',
      'DisableViaHeader Yes',
      ...extraConfig,
    ].join('\n') + '\n',
  );
  const child: ChildProcess = spawn('tinyproxy', ['-d', '-c', conf], { stdio: 'ignore' });
  await waitForPort(port, Date.now() + 10_000);
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests: async () => {
      const text = await fsp.readFile(log, 'utf8').catch(() => '');
      return [...text.matchAll(/Request \(file descriptor \d+\): (.*)$/gm)].map((m) => m[1]!.trim());
    },
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGTERM');
      await exited;
    },
  };
}
