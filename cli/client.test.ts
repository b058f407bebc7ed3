import test from 'ava';
import { PassThrough } from 'node:stream';
import { createClient } from './client.ts';
import { createOutput, visibleLength } from './output.ts';

// Tokens

test('a token the API rejects is refreshed once, and the request repeated', async (t) => {
  const sent: string[] = [];
  const fetchFn = (async (_url: string, init: RequestInit) => {
    const auth = new Headers(init.headers).get('Authorization') ?? '';
    sent.push(auth);
    return auth === 'Bearer fresh'
      ? new Response('{"tenants":[]}', { status: 200 })
      : new Response('{"error":{"code":"unauthenticated","message":"The sign-in token is not valid."}}', { status: 401 });
  }) as typeof fetch;
  const client = createClient({ url: 'http://x', canRefresh: true, token: async (force) => (force ? 'fresh' : 'stale') }, fetchFn);
  t.deepEqual(await client.request('GET', '/api/v1/tenants'), { tenants: [] });
  t.deepEqual(sent, ['Bearer stale', 'Bearer fresh']);
});

test('without a way to refresh, a rejected token asks to log in again', async (t) => {
  let calls = 0;
  const fetchFn = (async () => (
    calls++, new Response('{"error":{"code":"unauthenticated","message":"The sign-in token is not valid."}}', { status: 401 })
  )) as typeof fetch;
  const client = createClient({ url: 'http://x', token: async () => 'stale' }, fetchFn);
  const error = await t.throwsAsync(client.request('GET', '/api/v1/tenants'));
  t.regex(error!.message, /tenantplane login/);
  t.is(calls, 1);
});

// Streams

test("streams open on the api function's own URL that GET /api/config names, asked once; other calls stay on the platform's URL", async (t) => {
  const sent: string[] = [];
  const fetchFn = (async (url: string) => {
    sent.push(String(url));
    if (String(url).endsWith('/api/config'))
      return Response.json({ streams: { api: 'https://fn.example/api', chat: 'https://fn.example/chat' } });
    return new Response('data: {}\n\n', { status: 200, headers: { 'Content-Type': 'text/event-stream' } });
  }) as typeof fetch;
  const client = createClient({ url: 'https://hosting.example', token: async () => 'tok' }, fetchFn);
  await client.open('/api/v1/tenants/t-aaaaaaaaaa/events');
  await client.open('/api/v1/tenants/t-aaaaaaaaaa/events?follow=false');
  t.deepEqual(sent, [
    'https://hosting.example/api/config',
    'https://fn.example/api/api/v1/tenants/t-aaaaaaaaaa/events',
    'https://fn.example/api/api/v1/tenants/t-aaaaaaaaaa/events?follow=false',
  ]);
});

test('a platform whose config names no stream URL is streamed from its own URL', async (t) => {
  const sent: string[] = [];
  const fetchFn = (async (url: string) => {
    sent.push(String(url));
    return String(url).endsWith('/api/config') ? Response.json({ mode: 'production' }) : new Response('', { status: 200 });
  }) as typeof fetch;
  await createClient({ url: 'https://old.example', token: async () => 'tok' }, fetchFn).open('/api/v1/tenants/t-aaaaaaaaaa/events');
  t.deepEqual(sent, ['https://old.example/api/config', 'https://old.example/api/v1/tenants/t-aaaaaaaaaa/events']);
});

// Tables

test('table columns line up when cells are colored', (t) => {
  const stdout = Object.assign(new PassThrough(), { isTTY: true });
  let text = '';
  stdout.on('data', (d) => (text += d));
  const out = createOutput(stdout, new PassThrough(), { json: false, env: {} });
  out.table(
    [
      { name: 'n1', state: out.color('green', 'ready') },
      { name: 'n2', state: out.color('yellow', 'suspended') },
    ],
    ['state', 'name'],
  );
  const rows = text
    .trim()
    .split('\n')
    .map((l) => l.replace(/\x1b\[[0-9;]*m/g, ''));
  t.is(rows[1].indexOf('n1'), rows[2].indexOf('n2'));
  t.is(visibleLength(out.color('red', 'abc')), 3);
});
