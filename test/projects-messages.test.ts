/**
 * The `/messages` proxy against an agent this test controls, so "not
 * buffered" is proven step by step instead of by timing: the agent writes its
 * second chunk only after the caller has received the first.
 */
import test from 'ava';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLogger } from '../shared/log.ts';
import { proxyMessages, type ProxyOptions } from '../shared/projects/messages.ts';
import { wrap } from '../shared/http/wrap.ts';

type AgentHandler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** An agent whose behaviour each test decides, and a control plane edge (wrap) proxying to it. */
async function setUp(agent: AgentHandler, endpoint?: string, options: ProxyOptions = {}) {
  const agentServer = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => agent(req, res, body));
  });
  const agentUrl = await listen(agentServer);
  const edge = createServer(
    wrap(
      async (ctx) =>
        proxyMessages(ctx.res, endpoint ?? agentUrl, await ctx.json(), { requestId: ctx.requestId, headersTimeoutMs: 5000, ...options }),
      {
        log: createLogger({ level: 'error' }),
        corsOrigins: [],
        allowLocalhost: true,
        bodyLimitBytes: 65536,
      },
    ),
  );
  const url = await listen(edge);
  return {
    url,
    close: async () => {
      edge.closeAllConnections();
      agentServer.closeAllConnections();
      await Promise.all([new Promise((r) => edge.close(r)), new Promise((r) => agentServer.close(r))]);
    },
  };
}

const post = (url: string, json: unknown, signal?: AbortSignal) =>
  fetch(`${url}/messages`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(json), signal });

/** Fails the test instead of hanging when something never arrives. */
function within<T>(ms: number, what: string, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    work,
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms))),
  ]).finally(() => clearTimeout(timer));
}

// Streaming

test('the first chunk reaches the caller while the agent has not written the next one yet', async (t) => {
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  let received = '';
  const { url, close } = await setUp((_req, res, body) => {
    received = body;
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write('data: {"delta":"first"}\n\n');
    void released.then(() => res.end('data: {"delta":"second"}\n\nevent: done\ndata: {}\n\n'));
  });
  t.teardown(close);
  const res = await within(10_000, 'the response headers', post(url, { message: 'hi' }));
  t.is(res.status, 200);
  t.regex(res.headers.get('content-type') ?? '', /^text\/event-stream/);
  t.is(res.headers.get('x-accel-buffering'), 'no');
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  const first = decoder.decode((await within(10_000, 'the first chunk', reader.read())).value);
  t.is(first, 'data: {"delta":"first"}\n\n');
  release();
  let rest = '';
  for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) rest += decoder.decode(chunk.value);
  t.is(rest, 'data: {"delta":"second"}\n\nevent: done\ndata: {}\n\n');
  t.deepEqual(JSON.parse(received), { message: 'hi' });
});

test('a caller who leaves mid-stream makes the proxy abort its request to the agent', async (t) => {
  let agentSawClose!: () => void;
  const closed = new Promise<void>((r) => (agentSawClose = r));
  const { url, close } = await setUp((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write('data: {"delta":"one"}\n\n');
    res.on('close', () => agentSawClose());
  });
  t.teardown(close);
  const controller = new AbortController();
  const res = await within(10_000, 'the response headers', post(url, { message: 'hi' }, controller.signal));
  await within(10_000, 'the first chunk', res.body!.getReader().read());
  controller.abort();
  await within(10_000, 'the agent seeing its request closed', closed);
  t.pass();
});

test('a quiet agent gets heartbeat comments between its events, never inside one', async (t) => {
  const { url, close } = await setUp(
    (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: {"delta":"a"}\n\n');
      setTimeout(() => res.write('data: {"delta":'), 300);
      setTimeout(() => res.write('"b"}\n\n'), 700);
      setTimeout(() => res.end('event: done\ndata: {}\n\n'), 1000);
    },
    undefined,
    { heartbeatMs: 50 },
  );
  t.teardown(close);
  const text = await within(10_000, 'the end of the stream', (await post(url, { message: 'hi' })).text());
  t.true((text.match(/^: heartbeat$/gm)?.length ?? 0) >= 4, text);
  t.true(text.includes('data: {"delta":"b"}\n\n'), 'the event the agent was writing arrived in one piece');
  t.is(text.replace(/: heartbeat\n\n/g, ''), 'data: {"delta":"a"}\n\ndata: {"delta":"b"}\n\nevent: done\ndata: {}\n\n');
});

test('an answer still running at the deadline is cut, and the request to the agent ends', async (t) => {
  let agentSawClose!: () => void;
  const closed = new Promise<void>((r) => (agentSawClose = r));
  const { url, close } = await setUp(
    (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: {"delta":"endless"}\n\n');
      res.on('close', () => agentSawClose());
    },
    undefined,
    { deadlineMs: 400 },
  );
  t.teardown(close);
  const text = await within(10_000, 'the end of the stream', (await post(url, { message: 'hi' })).text());
  t.regex(text, /^data: \{"delta":"endless"\}\n\n: deadline reached/);
  await within(10_000, 'the agent seeing its request closed', closed);
});

// Failures

test("an agent that dies mid-stream ends the caller's stream instead of leaving it hanging", async (t) => {
  const { url, close } = await setUp((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write('data: {"delta":"partial"}\n\n', () => setTimeout(() => res.socket?.destroy(), 50));
  });
  t.teardown(close);
  const res = await within(10_000, 'the response headers', post(url, { message: 'hi' }));
  t.is(res.status, 200);
  // The proxy ends the caller's stream cleanly with what the agent sent before it died: no hang, no torn connection.
  const text = await within(10_000, 'the end of the stream', res.text());
  t.is(text, 'data: {"delta":"partial"}\n\n');
});

test('an agent that is not listening is a 502 with a SPEC error body', async (t) => {
  const probe = createServer();
  const deadUrl = await listen(probe);
  await new Promise((r) => probe.close(r));
  const { url, close } = await setUp(() => undefined, deadUrl);
  t.teardown(close);
  const res = await post(url, { message: 'hi' });
  t.is(res.status, 502);
  const body = await res.json();
  t.is(body.error.code, 'unavailable');
  t.regex(body.error.message, /not reachable/);
});

test("the agent's refusal of a bad message reaches the caller as a 400 in its own words", async (t) => {
  const { url, close } = await setUp((_req, res) => {
    res
      .writeHead(400, { 'content-type': 'application/json' })
      .end(JSON.stringify({ error: { code: 'validation_failed', message: 'expected JSON {"message": "<non-empty text>"}' } }));
  });
  t.teardown(close);
  const res = await post(url, { text: 'wrong field' });
  t.is(res.status, 400);
  const body = await res.json();
  t.is(body.error.code, 'validation_failed');
  t.regex(body.error.message, /non-empty text/);
});

test('an agent failing with a 500 is a 502, not our own 500', async (t) => {
  const { url, close } = await setUp((_req, res) => res.writeHead(500, { 'content-type': 'text/plain' }).end('boom'));
  t.teardown(close);
  const res = await post(url, { message: 'hi' });
  t.is(res.status, 502);
  t.regex((await res.json()).error.message, /answered 500/);
});
