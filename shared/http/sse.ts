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

/**
 * Starts a Server-Sent Events response with heartbeats (comment lines) so
 * proxies keep the connection open, and without buffering so each event
 * reaches the client as soon as it is written.
 */
/** Streams open in this process, for a shutdown that finds one still open to say which. */
const open = new Map<ServerResponse, { path: string; openedAt: number }>();

/** The open streams: path, age, and whether their connection is already gone (then nobody saw it close). */
export function describeOpenStreams(): string[] {
  return [...open].map(([res, s]) => `${s.path} open ${Math.round((Date.now() - s.openedAt) / 1000)} s; destroyed ${res.destroyed}, socket ${res.socket ? (res.socket.destroyed ? 'destroyed' : 'open') : 'none'}, ended ${res.writableEnded}`);
}

export function openSse(res: ServerResponse, options: { heartbeatMs?: number; retryMs?: number } = {}): SseStream {
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
    resolveClosed();
  };
  const heartbeat = setInterval(() => write(': heartbeat\n\n'), options.heartbeatMs ?? 15_000);
  heartbeat.unref();
  res.on('close', finish);
  // The client may have gone while the handler was still reading (history, authorization): its 'close'
  // came before anyone listened, and a stream waiting for it would hold its Firestore listener for ever.
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
