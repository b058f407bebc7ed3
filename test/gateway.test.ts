import test from 'ava';
import { startTestStack, type TestStack } from '../testing/stack.ts';
import { createTestUser } from '../testing/users.ts';

let stack: TestStack;
test.before(async () => {
  stack = await startTestStack();
});
test.after.always(async () => {
  await stack?.close();
});

test('health reports every dependency up to an admin', async (t) => {
  const admin = await createTestUser(stack.deps, { role: 'admin' });
  const res = await stack.fetch('/api/health', { token: admin.token });
  const body = await res.json();
  t.is(res.status, 200, JSON.stringify(body));
  t.is(body.status, 'ok');
  for (const name of ['store', 'queue', 'auth', 'mail']) t.is(body.dependencies[name].status, 'up', name);
});

test('an unknown API path is a SPEC §9 JSON error, not HTML', async (t) => {
  const res = await stack.fetch('/api/nope', { method: 'POST' });
  t.is(res.status, 404);
  t.regex(res.headers.get('content-type') ?? '', /application\/json/);
  t.is((await res.json()).error.code, 'not_found');
});

test('the gateway serves static pages and a 404 page for unknown files', async (t) => {
  t.is((await stack.fetch('/no-such-page.html')).status, 404);
  t.is((await stack.fetch('/../package.json')).status, 404);
});

test('a function is reachable directly under /__fn/<name>, as Cloud Tasks reaches it', async (t) => {
  const res = await stack.fetch('/__fn/api/api/health');
  t.is(res.status, 200);
});

test("the functions' own origin serves /<name>/… as cloudfunctions.net does, and names the functions for a bare path", async (t) => {
  const origin = new URL(stack.streamUrl).origin;
  const health = await fetch(`${origin}/api/api/health`);
  t.is(health.status, 200);
  t.is((await health.json()).status, 'ok');
  const bare = await fetch(`${origin}/`);
  t.is(bare.status, 404);
  t.regex((await bare.json()).error.message, /api.*chat/);
});

test('a rewritten answer arrives whole with a Content-Length, as Hosting sends it', async (t) => {
  const res = await stack.fetch('/api/health');
  const text = await res.text();
  t.is(res.status, 200);
  t.is(Number(res.headers.get('content-length')), Buffer.byteLength(text));
  t.is(res.headers.get('transfer-encoding'), null);
  const preflight = await stack.fetch('/api/v1/tenants', {
    method: 'OPTIONS',
    headers: { Origin: 'http://localhost:3000', 'Access-Control-Request-Method': 'POST' },
  });
  t.is(preflight.status, 204);
  t.is(preflight.headers.get('content-length'), null, 'a 204 has no body, so no length');
});

test('hosting globs route deep API paths to their function, which answers in JSON', async (t) => {
  const unknown = await stack.fetch('/api/v1/some/deep/path');
  t.is(unknown.status, 404);
  t.is((await unknown.json()).error.code, 'not_found');
  const known = await stack.fetch('/api/v1/tenants/t-aaaaaaaaaa/status');
  t.is(known.status, 401);
  t.is((await known.json()).error.code, 'unauthenticated');
});

test('the activation link of the specification, /activate?token=…, leads to the activation page with its token', async (t) => {
  const res = await stack.fetch('/activate?token=abc123', { redirect: 'manual' });
  t.is(res.status, 302);
  t.is(res.headers.get('location'), '/activate.html?token=abc123');
});
