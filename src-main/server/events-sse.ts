/**
 * GET /api/events: the core's event stream as server-sent events. A client first gets one `state`
 * event per target (so it never starts from nothing), then every UpkeepEvent as
 * `event: <type>\ndata: <json>\n\n`, and a `: ping` comment every heartbeat so proxies and dead
 * peers are noticed. Hand-written rather than a plugin: the format is four lines and the stream
 * must honour backpressure and close with the server.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { UpkeepEvent } from '../../src-shared/api';
import type { DaemonCore } from '../engine/daemon-types';

export interface EventStreamOptions {
  /** Milliseconds between `: ping` comments. Default 15 000. */
  heartbeatMs?: number;
  /** A client further behind than this many buffered bytes is dropped (it reconnects and gets fresh state). */
  maxBufferedBytes?: number;
  /** Reconnect delay suggested to clients (`retry:`). Default 3000 ms. */
  retryMs?: number;
}

export interface EventStreams {
  /** Serves one event-stream request until the client or the server closes it. */
  handle(request: FastifyRequest, reply: FastifyReply): void;
  /** Number of open streams. */
  count(): number;
  /** Ends every open stream (called when the server closes). */
  closeAll(): void;
}

/** One UpkeepEvent in the wire format. */
export function formatEvent(event: UpkeepEvent): string {
  // JSON.stringify never emits raw newlines, so the data fits on one `data:` line.
  return `event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
}

/** Creates the event-stream handler of a server for `core`. */
export function createEventStreams(core: DaemonCore, opts: EventStreamOptions = {}): EventStreams {
  const heartbeatMs = opts.heartbeatMs ?? 15_000;
  const maxBuffered = opts.maxBufferedBytes ?? 4 * 1024 * 1024;
  const retryMs = opts.retryMs ?? 3_000;
  const open = new Set<() => void>();

  function handle(request: FastifyRequest, reply: FastifyReply): void {
    const res = reply.raw;
    // Headers set by hooks (CORS, security) must survive hijacking.
    const headers: Record<string, string | number | string[]> = {};
    for (const [k, v] of Object.entries(reply.getHeaders())) if (v !== undefined) headers[k] = v as string | number | string[];
    reply.hijack();
    res.writeHead(200, {
      ...headers,
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
      'x-content-type-options': 'nosniff',
    });
    res.flushHeaders();

    let closed = false;
    let ready = false;
    const pending: UpkeepEvent[] = [];

    function write(chunk: string): void {
      if (closed) return;
      res.write(chunk);
      if (res.writableLength > maxBuffered) {
        // A client that does not read: drop it and its buffer at once (end() would wait to drain).
        cleanup();
        res.destroy();
      }
    }

    const unsubscribe = core.subscribe((event) => {
      if (closed) return;
      if (!ready) pending.push(event);
      else write(formatEvent(event));
    });
    const timer = setInterval(() => write(': ping\n\n'), heartbeatMs);
    timer.unref();

    function cleanup(): void {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      unsubscribe();
      open.delete(cleanup);
      if (!res.writableEnded) res.end();
    }
    open.add(cleanup);
    request.raw.on('close', cleanup);
    res.on('close', cleanup);
    res.on('error', cleanup);

    write(`retry: ${retryMs}\n\n`);
    core.listTargets().then(
      (targets) => {
        for (const target of targets) write(formatEvent({ type: 'state', target }));
      },
      (err: unknown) => {
        const message = err instanceof Error ? err.message : String(err);
        write(`: targets unavailable: ${message.replace(/[\r\n]+/g, ' ')}\n\n`);
      },
    ).finally(() => {
      ready = true;
      for (const event of pending.splice(0)) write(formatEvent(event));
    });
  }

  return {
    handle,
    count: () => open.size,
    closeAll() {
      for (const close of [...open]) close();
    },
  };
}
