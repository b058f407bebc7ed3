import test from 'ava';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AppError, DriverError } from '../errors.ts';
import { createLogger } from '../log.ts';
import { createRouter } from './router.ts';
import { openSse } from './sse.ts';
import { wrap, type Handler } from './wrap.ts';

const lines: string[] = [];
const log = createLogger({ level: 'debug', write: (line) => lines.push(line) });

async function serve(handler: Handler, t: { teardown(fn: () => void): void }, corsOrigins = ['https://app.example.com']) {
  const server: Server = createServer(wrap(handler, { log, corsOrigins, allowLocalhost: false, bodyLimitBytes: 1024 }));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => server.close());
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const echo = createRouter([
  { method: 'POST', path: '/echo', handler: async (ctx) => ({ status: 201, body: await ctx.json() }) },
  { method: 'GET', path: '/items/:id', handler: async (ctx) => ({ body: { id: ctx.params.id } }) },
  {
    method: 'GET',
    path: '/boom',
    handler: async () => {
      throw new Error('database password is hunter2');
    },
  },
  {
    method: 'GET',
    path: '/limited',
    handler: async () => {
      throw new AppError('rate_limited', 'Slow down.').withHeader('Retry-After', '60');
    },
  },
]);

// Request ids and logs

test('every answer carries a request id, and a well-formed incoming one is kept', async (t) => {
  const url = await serve(echo, t);
  const fresh = await fetch(`${url}/items/1`);
  t.regex(fresh.headers.get('x-request-id') ?? '', /^[\w-]{8,}$/);
  const kept = await fetch(`${url}/items/1`, { headers: { 'X-Request-Id': 'trace-12345678' } });
  t.is(kept.headers.get('x-request-id'), 'trace-12345678');
  const bogus = await fetch(`${url}/items/1`, { headers: { 'X-Request-Id': 'x y<script>' } });
  t.not(bogus.headers.get('x-request-id'), 'x y<script>');
});

test('a bug answers a generic 500 with the request id, and the cause is logged but never returned', async (t) => {
  const url = await serve(echo, t);
  const res = await fetch(`${url}/boom`);
  t.is(res.status, 500);
  const body = await res.json();
  t.is(body.error.code, 'internal');
  t.false(JSON.stringify(body).includes('hunter2'));
  const logged = lines.map((l) => JSON.parse(l)).find((l) => l.requestId === res.headers.get('x-request-id') && l.severity === 'ERROR');
  t.truthy(logged);
  t.regex(JSON.stringify(logged), /hunter2/);
});

test('log lines are Cloud Logging JSON and redact secret-looking fields', (t) => {
  const out: string[] = [];
  createLogger({ write: (l) => out.push(l) }).info('hello', { token: 'abc', nested: { apiKey: 'k', name: 'n' } });
  const entry = JSON.parse(out[0]);
  t.is(entry.severity, 'INFO');
  t.is(entry.message, 'hello');
  t.is(entry.token, '[redacted]');
  t.is(entry.nested.apiKey, '[redacted]');
  t.is(entry.nested.name, 'n');
});

// Bodies

test('a JSON body is parsed and answered', async (t) => {
  const url = await serve(echo, t);
  const res = await fetch(`${url}/echo`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"a":1}' });
  t.is(res.status, 201);
  t.deepEqual(await res.json(), { a: 1 });
});

test('bad JSON, a non-object body, a wrong content type and a huge body are clear 4xx errors', async (t) => {
  const url = await serve(echo, t);
  const post = (body: string, type = 'application/json') =>
    fetch(`${url}/echo`, { method: 'POST', headers: { 'Content-Type': type }, body });
  const bad = await post('{"a":');
  t.is(bad.status, 400);
  t.is((await bad.json()).error.code, 'invalid_json');
  t.is((await post('[1,2]')).status, 400);
  t.is((await post('a=1', 'application/x-www-form-urlencoded')).status, 415);
  const huge = await post(JSON.stringify({ a: 'x'.repeat(5000) }));
  t.is(huge.status, 413);
  t.is((await huge.json()).error.code, 'payload_too_large');
});

// Routing

test('an unknown path is a JSON 404 and a wrong method a 405 naming the allowed ones', async (t) => {
  const url = await serve(echo, t);
  const missing = await fetch(`${url}/nope`, { method: 'POST' });
  t.is(missing.status, 404);
  t.is((await missing.json()).error.code, 'not_found');
  const wrong = await fetch(`${url}/echo`);
  t.is(wrong.status, 405);
  t.is(wrong.headers.get('allow'), 'POST');
});

test('errors carry their extra headers, such as Retry-After', async (t) => {
  const url = await serve(echo, t);
  const res = await fetch(`${url}/limited`);
  t.is(res.status, 429);
  t.is(res.headers.get('retry-after'), '60');
});

// CORS

test('an allowed origin gets CORS headers and its preflight is answered', async (t) => {
  const url = await serve(echo, t);
  const pre = await fetch(`${url}/echo`, {
    method: 'OPTIONS',
    headers: { Origin: 'https://app.example.com', 'Access-Control-Request-Method': 'POST' },
  });
  t.is(pre.status, 204);
  t.is(pre.headers.get('access-control-allow-origin'), 'https://app.example.com');
  t.regex(pre.headers.get('access-control-allow-headers') ?? '', /Authorization/);
});

test('another origin gets no CORS headers at all', async (t) => {
  const url = await serve(echo, t);
  const res = await fetch(`${url}/items/1`, { headers: { Origin: 'https://evil.example.com' } });
  t.is(res.status, 200);
  t.is(res.headers.get('access-control-allow-origin'), null);
  const pre = await fetch(`${url}/echo`, {
    method: 'OPTIONS',
    headers: { Origin: 'https://evil.example.com', 'Access-Control-Request-Method': 'POST' },
  });
  t.is(pre.headers.get('access-control-allow-origin'), null);
});

// Server-Sent Events

test('SSE events reach the client one by one, with heartbeats in between', async (t) => {
  const url = await serve(async (ctx) => {
    const sse = openSse(ctx.res, { heartbeatMs: 30 });
    sse.send({ id: '1', event: 'step', data: { n: 1 } });
    await new Promise((r) => setTimeout(r, 120));
    sse.send({ id: '2', event: 'step', data: 'two\nlines' });
    sse.close();
  }, t);
  const res = await fetch(url);
  t.is(res.headers.get('content-type'), 'text/event-stream; charset=utf-8');
  const reader = res.body!.getReader();
  const first = new TextDecoder().decode((await reader.read()).value);
  t.false(first.includes('id: 2'));
  let rest = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    rest += new TextDecoder().decode(value);
  }
  const all = first + rest;
  t.regex(all, /id: 1\nevent: step\ndata: {"n":1}\n\n/);
  t.regex(all, /: heartbeat/);
  t.regex(all, /data: two\ndata: lines\n\n/);
});

test('tokens carried in a path never reach the logs', async (t) => {
  const url = await serve(
    createRouter([{ method: 'GET', path: '/api/v1/tenants/:id/credentials/:token', handler: async () => ({ body: {} }) }]),
    t,
  );
  const token = 'f'.repeat(64);
  lines.length = 0;
  await fetch(`${url}/api/v1/tenants/t-abcdefghij/credentials/${token}`);
  t.true(lines.length > 0);
  t.false(lines.some((line) => line.includes(token)));
  t.true(lines.some((line) => line.includes('/credentials/[redacted]')));
});

test('a driver error reaches the caller by its kind: 501 lacking, 503 naming a failing outside system, 500 for our misconfiguration', async (t) => {
  const throwing = (code: DriverError['code']) => async () => {
    throw new DriverError('cloud-run', code, 'PERMISSION_DENIED: projects/secret-project/locations/x');
  };
  const url = await serve(
    createRouter(
      ['not_supported', 'failed', 'timeout', 'not_found', 'not_configured'].map((code) => ({
        method: 'GET' as const,
        path: `/${code}`,
        handler: throwing(code as DriverError['code']),
      })),
    ),
    t,
  );
  const answer = async (code: string) => {
    const res = await fetch(`${url}/${code}`);
    return { status: res.status, retryAfter: res.headers.get('retry-after'), error: (await res.json()).error };
  };
  t.like(await answer('not_supported'), { status: 501, error: { code: 'not_supported', details: { driver: 'cloud-run' } } });
  for (const code of ['failed', 'timeout']) {
    const got = await answer(code);
    t.like(got, { status: 503, retryAfter: '30', error: { code: 'unavailable', details: { driver: 'cloud-run' } } });
    t.notRegex(got.error.message, /secret-project/, "the outside system's own message stays in the logs");
  }
  t.like(await answer('not_found'), { status: 404, error: { code: 'not_found' } });
  const misconfigured = await answer('not_configured');
  t.is(misconfigured.status, 500);
  t.notRegex(misconfigured.error.message, /secret-project/);
});
