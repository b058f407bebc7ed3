/**
 * Plumbing shared by the fake cloud API servers: a real HTTP server on a free
 * loopback port, JSON bodies, and a record of every request so tests can check
 * the paths, verbs and bodies a driver sends.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request as the fake received it. */
export interface RecordedRequest {
  method: string;
  /** Path without the query string. */
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  /** Parsed JSON body, the raw text when not JSON, or undefined when empty. */
  body: unknown;
}

/** What a route handler answers: a status, a JSON (or text) body and optional headers. */
export interface FakeResponse {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
  /** Instead of `body`: writes a streamed body (e.g. a watch) until it resolves or the client goes away (`signal`). */
  stream?: (write: (chunk: string) => void, signal: AbortSignal) => Promise<void>;
}

export type FakeHandler = (request: RecordedRequest) => Promise<FakeResponse> | FakeResponse;

/** A running fake: its base URL, the requests it saw, and a way to stop it. */
export interface RunningFake {
  url: string;
  port: number;
  requests: RecordedRequest[];
  /** An outage: stops listening and drops open connections (callers get ECONNREFUSED); state is kept. */
  pause(): Promise<void>;
  /** Ends the outage: listens again on the same port, with the state it had. */
  resume(): Promise<void>;
  close(): Promise<void>;
}

/** Where a fake listens: `port` on 127.0.0.1 (default 0, a free port). */
export interface FakeListenOptions {
  port?: number;
}

/** Starts `handler` on 127.0.0.1 on a free port. Unhandled exceptions answer 500 with the message. */
export async function startFakeServer(handler: FakeHandler, listen: FakeListenOptions = {}): Promise<RunningFake> {
  const requests: RecordedRequest[] = [];
  const server = createServer((req, res) => {
    void serve(req, res);
  });
  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    let body: unknown;
    if (text) {
      try {
        body = JSON.parse(text);
      } catch {
        body = text;
      }
    }
    const url = new URL(req.url ?? '/', 'http://fake.invalid');
    const recorded: RecordedRequest = {
      method: req.method ?? 'GET',
      path: decodeURIComponent(url.pathname),
      query: url.searchParams,
      headers: req.headers,
      body,
    };
    requests.push(recorded);
    let answer: FakeResponse;
    try {
      answer = await handler(recorded);
    } catch (error) {
      answer = { status: 500, body: { error: { code: 500, message: String(error), status: 'INTERNAL' } } };
    }
    if (answer.stream) {
      const gone = new AbortController();
      res.once('close', () => gone.abort());
      res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
      res.flushHeaders();
      await answer.stream((chunk) => void res.write(chunk), gone.signal).catch(() => undefined);
      res.end();
      return;
    }
    const payload = answer.body === undefined ? '' : typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body);
    res.writeHead(answer.status, {
      'content-type': typeof answer.body === 'string' ? 'text/plain; charset=utf-8' : 'application/json',
      ...answer.headers,
    });
    res.end(payload);
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port ?? 0, '127.0.0.1', resolve);
  });
  const port = (server.address() as AddressInfo).port;
  const stop = () =>
    new Promise<void>((resolve) => {
      if (!server.listening) return resolve();
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    pause: stop,
    resume: () =>
      new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, '127.0.0.1', () => resolve());
      }),
    close: stop,
  };
}

/** A set of timers that can all be cancelled when the fake closes, so tests leave nothing behind. */
export function createTimerSet(): { after(ms: number, fn: () => void): void; clear(): void } {
  const timers = new Set<NodeJS.Timeout>();
  return {
    after(ms, fn) {
      const timer = setTimeout(() => {
        timers.delete(timer);
        fn();
      }, ms);
      timers.add(timer);
    },
    clear() {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
    },
  };
}

/** Short random lowercase hex id. */
export function randomHex(length: number): string {
  let out = '';
  while (out.length < length) out += Math.floor(Math.random() * 16).toString(16);
  return out;
}
