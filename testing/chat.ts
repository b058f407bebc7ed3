/**
 * Helpers for the chat tests (imported only by tests): reading the chat's SSE
 * answer, and serving the chat handler on a free loopback port.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { toNodeHandler } from '../functions/start-function.ts';
import { createChatHandler, type ChatHandlerOptions } from '../functions/chat/handler.ts';
import type { Deps } from '../shared/deps.ts';

export interface ChatEvent {
  event: string;
  data: any;
}

export interface ChatReply {
  status: number;
  headers: Headers;
  /** SSE events in order (empty for a JSON answer). */
  events: ChatEvent[];
  /** The JSON body when the answer was not a stream (errors before streaming). */
  json?: any;
  text: string;
  of(event: string): any[];
  conversationId?: string;
}

/** Posts to the chat and reads the whole answer: the SSE events, or the JSON error. */
export async function postChat(baseUrl: string, token: string | undefined, body: unknown): Promise<ChatReply> {
  const headers: Record<string, string> = { 'Content-Type': 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  const res = await fetch(`${baseUrl}/api/chat`, {
    method: 'POST',
    headers,
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(60_000),
  });
  const raw = await res.text();
  const events: ChatEvent[] = [];
  let json: unknown;
  if ((res.headers.get('content-type') ?? '').includes('text/event-stream')) {
    for (const block of raw.split('\n\n')) {
      const lines = block.split('\n');
      const event = lines.find((l) => l.startsWith('event: '))?.slice(7);
      const data = lines
        .filter((l) => l.startsWith('data: '))
        .map((l) => l.slice(6))
        .join('\n');
      if (event) events.push({ event, data: JSON.parse(data) });
    }
  } else if (raw) {
    json = JSON.parse(raw);
  }
  const of = (name: string) => events.filter((e) => e.event === name).map((e) => e.data);
  return {
    status: res.status,
    headers: res.headers,
    events,
    json,
    text: of('text')
      .map((d) => d.text)
      .join(''),
    of,
    conversationId: of('done')[0]?.conversationId,
  };
}

/** Serves the chat handler alone on 127.0.0.1 and a free port. */
export async function startChatServer(deps: Deps, options: ChatHandlerOptions): Promise<{ url: string; close(): Promise<void> }> {
  const handler = toNodeHandler(createChatHandler(deps, options), deps);
  const server = createServer((req, res) => void handler(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
