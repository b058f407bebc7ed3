/**
 * Server-Sent Events over fetch: native EventSource cannot send an
 * Authorization header, so this reads the response body as a stream and
 * parses it as the HTML standard's event-stream format describes. Streams are
 * opened on a function's own URL (`via`), never through this page's origin:
 * Hosting would deliver them only once they are complete.
 */
import { send, type RequestOptions } from './api.ts';
import { errorFromResponse } from './errors.ts';

export interface SseMessage {
  id?: string;
  event: string;
  data: string;
}

/** Parses an event stream chunk by chunk, calling `onMessage` as soon as each event is complete. */
export async function readEventStream(
  body: ReadableStream<Uint8Array>,
  onMessage: (m: SseMessage) => void,
  onRetry?: (ms: number) => void,
): Promise<void> {
  // The DOM and Node typings disagree on the decoder stream's input type; at run time they match.
  const reader = body.pipeThrough(new TextDecoderStream() as unknown as TransformStream<Uint8Array, string>).getReader();
  let buffer = '';
  let data: string[] = [];
  let event = '';
  let id: string | undefined;
  const line = (text: string) => {
    if (text === '') {
      if (data.length > 0) onMessage({ id, event: event || 'message', data: data.join('\n') });
      data = [];
      event = '';
      id = undefined;
      return;
    }
    if (text.startsWith(':')) return; // a comment: heartbeats
    const colon = text.indexOf(':');
    const field = colon === -1 ? text : text.slice(0, colon);
    let value = colon === -1 ? '' : text.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') data.push(value);
    else if (field === 'event') event = value;
    else if (field === 'id' && !value.includes('\0')) id = value;
    else if (field === 'retry' && /^\d+$/.test(value)) onRetry?.(Number(value));
  };
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    const lines = buffer.split(/\r\n|\r|\n/);
    // A trailing "\r" may be the first half of "\r\n": keep it for the next chunk.
    buffer = lines.pop() ?? '';
    for (const text of lines) line(text);
  }
  if (buffer) line(buffer);
  line('');
}

/** POSTs JSON and streams the SSE answer; an error answer (JSON) throws before any event. */
export async function postEventStream(
  path: string,
  json: unknown,
  onMessage: (m: SseMessage) => void,
  options: Omit<RequestOptions, 'json'> & { via: 'api' | 'chat' },
): Promise<void> {
  const res = await send(path, { ...options, method: 'POST', json, headers: { Accept: 'text/event-stream' } });
  if (!res.ok || !res.body) throw await errorFromResponse(res);
  if (!(res.headers.get('Content-Type') ?? '').includes('text/event-stream')) {
    // Some endpoints answer a plain body; show it as one message.
    onMessage({ event: 'message', data: await res.text() });
    return;
  }
  await readEventStream(res.body, onMessage);
}

export interface FollowOptions {
  /** The function whose own URL serves the stream. */
  via: 'api' | 'chat';
  signal: AbortSignal;
  /** Resume after this id (the first request sends it as `Last-Event-ID`). */
  lastEventId?: string;
  onMessage: (m: SseMessage) => void;
  /** `live` while connected, `reconnecting` while waiting to reconnect. */
  onConnection?: (state: 'live' | 'reconnecting') => void;
}

/**
 * Follows a GET event stream until aborted, reconnecting after a drop and
 * resending `Last-Event-ID`, so nothing is missed or shown twice. The server
 * ends every stream at a deadline: a stream that ran a while and ended cleanly
 * is reopened at once; a drop waits the server's `retry:` delay, a 429 (too
 * many streams open) its Retry-After. Errors the server states (403, 404…) end
 * it by throwing; network drops never do.
 */
export async function followEventStream(path: string, options: FollowOptions): Promise<void> {
  let lastId = options.lastEventId;
  let retryMs = 2000;
  while (!options.signal.aborted) {
    let res: Response | undefined;
    let waitMs = retryMs;
    try {
      res = await send(path, {
        via: options.via,
        signal: options.signal,
        headers: { Accept: 'text/event-stream', ...(lastId ? { 'Last-Event-ID': lastId } : {}) },
      });
    } catch (err) {
      if (options.signal.aborted) return;
      if ((err as { status?: number }).status !== 0) throw err;
    }
    if (res?.status === 429) {
      const error = await errorFromResponse(res);
      waitMs = (error.retryAfter ?? retryMs / 1000) * 1000;
      res = undefined;
    }
    if (res && (!res.ok || !res.body)) throw await errorFromResponse(res);
    if (res?.body) {
      options.onConnection?.('live');
      const opened = Date.now();
      try {
        await readEventStream(
          res.body,
          (m) => {
            if (m.id) lastId = m.id;
            options.onMessage(m);
          },
          (ms) => (retryMs = ms),
        );
        // The server's deadline: pick up at once where it stopped. A stream that keeps ending at once waits instead.
        if (Date.now() - opened >= 1000) waitMs = 0;
      } catch {
        // The connection dropped mid-stream: reconnect below.
      }
    }
    if (options.signal.aborted) return;
    if (waitMs > 0) {
      options.onConnection?.('reconnecting');
      await new Promise((r) => setTimeout(r, waitMs));
    }
  }
}
