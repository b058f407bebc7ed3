import type { ServerResponse } from 'node:http';

export interface SseEvent {
  id?: string;
  event?: string;
  data: unknown;
}

export interface SseStream {
  send(event: SseEvent): void;
  comment(text: string): void;
  close(): void;
  /** Resolves when the client goes away or close() is called. */
  readonly closed: Promise<void>;
  readonly isClosed: boolean;
}

export interface SseOptions {
  /** A comment line this often, so proxies and clients do not take a quiet stream for a dead one (default 15 s). */
  heartbeatMs?: number;
  /** The reconnection delay clients are told (`retry:`), default 2 s. */
  retryMs?: number;
  /**
   * Ends the stream after this long. A stream held for hours pins an instance
   * and outlives the function's timeout; clients reconnect (event streams with
   * Last-Event-ID), which also spreads them over instances again.
   */
  deadlineMs?: number;
}

/** Streams open in this process, for a shutdown that finds one still open to say which. */
const open = new Map<ServerResponse, { path: string; openedAt: number }>();

/** The open streams: path, age, and whether their connection is already gone (then nobody saw it close). */
export function describeOpenStreams(): string[] {
  return [...open].map(
    ([res, s]) =>
      `${s.path} open ${Math.round((Date.now() - s.openedAt) / 1000)} s; destroyed ${res.destroyed}, socket ${res.socket ? (res.socket.destroyed ? 'destroyed' : 'open') : 'none'}, ended ${res.writableEnded}`,
  );
}

/**
 * Starts a Server-Sent Events response with heartbeats (comment lines) so
 * proxies keep the connection open, and without buffering so each event
 * reaches the client as soon as it is written.
 */
export function openSse(res: ServerResponse, options: SseOptions = {}): SseStream {
  res.statusCode = 200;
  res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
  res.setHeader('Cache-Control', 'no-cache, no-transform');
  res.setHeader('Connection', 'keep-alive');
  res.setHeader('X-Accel-Buffering', 'no');
  res.flushHeaders();
  res.socket?.setNoDelay(true);
  let isClosed = false;
  let resolveClosed!: () => void;
  const closed = new Promise<void>((resolve) => (resolveClosed = resolve));
  open.set(res, { path: res.req?.url ?? '?', openedAt: Date.now() });
  const finish = () => {
    if (isClosed) return;
    isClosed = true;
    open.delete(res);
    clearInterval(heartbeat);
    clearTimeout(deadline);
    resolveClosed();
  };
  const heartbeat = setInterval(() => write(': heartbeat\n\n'), options.heartbeatMs ?? 15_000);
  heartbeat.unref();
  const deadline =
    options.deadlineMs === undefined
      ? undefined
      : setTimeout(() => {
          write(': deadline reached; reconnect (with Last-Event-ID) to continue\n\n');
          if (!res.writableEnded) res.end();
          finish();
        }, options.deadlineMs);
  deadline?.unref();
  res.on('close', finish);
  // A caller who left while the stream was being prepared (history read, auth) has closed it already:
  // waiting for a 'close' that was emitted before would hold its listener and its slot forever.
  if (res.destroyed || res.closed || res.socket?.destroyed) finish();
  const write = (text: string) => {
    if (!isClosed && !res.writableEnded) res.write(text);
  };
  write(`retry: ${options.retryMs ?? 2000}\n\n`);
  return {
    send(event) {
      let text = '';
      if (event.id !== undefined) text += `id: ${event.id}\n`;
      if (event.event) text += `event: ${event.event}\n`;
      const data = typeof event.data === 'string' ? event.data : JSON.stringify(event.data);
      for (const line of data.split('\n')) text += `data: ${line}\n`;
      write(text + '\n');
    },
    comment: (text) => write(`: ${text.replace(/\n/g, ' ')}\n\n`),
    close() {
      if (!res.writableEnded) res.end();
      finish();
    },
    closed,
    get isClosed() {
      return isClosed;
    },
  };
}
