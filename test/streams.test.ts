/**
 * Streams as production serves them: Hosting (the gateway's port) buffers the
 * answers of its rewrites, so clients open streams on the function's own URL
 * (the gateway's second port), which streams. Every stream keeps a heartbeat,
 * ends at a deadline (clients resume with Last-Event-ID) and counts against a
 * per-user cap. Provisioning is held (a recording queue), so the events each
 * test sees are the ones it appends.
 */
import test from 'ava';
import { createClient } from '../cli/client.ts';
import { streamEvents } from '../cli/events.ts';
import { recordEvent } from '../shared/store/tenants.ts';
import { readEvents } from '../testing/events.ts';
import { startTestStack, type TestStack } from '../testing/stack.ts';
import { createTestUser, type TestUser } from '../testing/users.ts';
import type { TenantEvent } from '../shared/tenants/types.ts';
import { RecordingQueue } from './signup-harness.ts';

// Long enough that a snapshot listener on a loaded machine delivers well before the stream ends.
const DEADLINE_MS = 4000;
const HEARTBEAT_MS = 200;

let stack: TestStack;
test.before(async () => {
  stack = await startTestStack({
    tasks: false,
    deps: { queue: new RecordingQueue() },
    env: { STREAM_DEADLINE_MS: String(DEADLINE_MS), STREAM_HEARTBEAT_MS: String(HEARTBEAT_MS) },
  });
});
test.after.always(async () => {
  await stack?.close();
});

let names = 0;
async function createTenant(user: TestUser): Promise<string> {
  const res = await stack.fetch('/api/v1/tenants', {
    method: 'POST',
    token: user.token,
    json: { name: `streams-${++names}`, environments: ['demo'] },
  });
  if (res.status !== 202) throw new Error(`creating a tenant answered ${res.status}: ${await res.text()}`);
  return (await res.json()).tenant.id;
}

const eventsPath = (id: string) => `/api/v1/tenants/${id}/events`;
const append = (id: string, message: string) => recordEvent(stack.deps.db, id, { type: 'tenant_updated', message }, () => new Date());

/** Reads a body chunk by chunk, noting when each arrived. */
async function chunksOf(res: Response, onFirst?: () => Promise<unknown>): Promise<{ text: string; at: number }[]> {
  const chunks: { text: string; at: number }[] = [];
  const decoder = new TextDecoder();
  const pending: Promise<unknown>[] = [];
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    chunks.push({ text: decoder.decode(chunk, { stream: true }), at: Date.now() });
    if (chunks.length === 1 && onFirst) pending.push(onFirst());
  }
  await Promise.all(pending);
  return chunks;
}

// Hosting buffers, the function's own URL streams

test('through Hosting an event stream arrives only at its end, whole with a Content-Length; the api function streams it as it is written', async (t) => {
  const owner = await createTestUser(stack.deps);
  const id = await createTenant(owner);
  const headers = { Authorization: `Bearer ${owner.token}`, Accept: 'text/event-stream' };
  const started = Date.now();
  // Headers included: Hosting sends nothing before the function has finished.
  const hostedAnswer = fetch(stack.url + eventsPath(id), { headers }).then((res) => ({ res, at: Date.now() }));
  const direct = await fetch(stack.streamUrl + eventsPath(id), { headers });
  // The event is written once the direct stream has sent its history, so it can only arrive live.
  const directChunks = await chunksOf(direct, () => append(id, 'written while both streams are open'));
  const hosted = await hostedAnswer;
  const whole = directChunks.map((c) => c.text).join('');
  const live = directChunks.findIndex((c) => c.text.includes('written while both streams are open'));
  const end = directChunks.findIndex((c) => c.text.includes(': deadline'));
  t.not(live, -1, whole);
  t.not(end, -1, whole);
  t.true(live < end, 'the event came through while the stream was still open');
  t.is(direct.headers.get('content-length'), null);
  t.regex(whole, /provisioning_requested/);

  t.is(hosted.res.status, 200);
  t.true(hosted.at - started >= DEADLINE_MS - 100, `Hosting answered after ${hosted.at - started} ms, not at the stream's end`);
  const body = await hosted.res.text();
  t.is(Number(hosted.res.headers.get('content-length')), Buffer.byteLength(body));
  t.regex(body, /written while both streams are open[\s\S]*: deadline/);
});

test('a quiet stream carries a heartbeat comment every STREAM_HEARTBEAT_MS until its deadline', async (t) => {
  const owner = await createTestUser(stack.deps);
  const id = await createTenant(owner);
  const res = await fetch(stack.streamUrl + eventsPath(id), { headers: { Authorization: `Bearer ${owner.token}` } });
  const text = (await chunksOf(res)).map((c) => c.text).join('');
  const beats = text.match(/^: heartbeat$/gm)?.length ?? 0;
  t.true(beats >= DEADLINE_MS / HEARTBEAT_MS / 2, `${beats} heartbeats in ${DEADLINE_MS} ms`);
});

test('the pages may open streams on the function from the Hosting origin: the preflight allows the token and Last-Event-ID', async (t) => {
  const owner = await createTestUser(stack.deps);
  const id = await createTenant(owner);
  const res = await fetch(stack.streamUrl + eventsPath(id), {
    method: 'OPTIONS',
    headers: { Origin: stack.url, 'Access-Control-Request-Method': 'GET', 'Access-Control-Request-Headers': 'authorization,last-event-id' },
  });
  t.is(res.status, 204);
  t.is(res.headers.get('access-control-allow-origin'), stack.url);
  t.regex(res.headers.get('access-control-allow-headers') ?? '', /Authorization.*Last-Event-ID/);
});

// The cap on open streams

test('thirty streams opened by one user: ten stream, twenty get 429 with Retry-After; others are not held back, and a closed stream frees its slot', async (t) => {
  const owner = await createTestUser(stack.deps);
  const id = await createTenant(owner);
  const controller = new AbortController();
  const open = () =>
    fetch(stack.streamUrl + eventsPath(id), { headers: { Authorization: `Bearer ${owner.token}` }, signal: controller.signal });
  const answers = await Promise.all(Array.from({ length: 30 }, open));
  const refused = answers.filter((r) => r.status === 429);
  t.is(answers.filter((r) => r.status === 200).length, 10);
  t.is(refused.length, 20);
  const body = await refused[0].json();
  t.is(body.error.code, 'rate_limited');
  t.like(body.error.details, { limit: 10, open: 10 });
  t.regex(body.error.message, /10 streams open/);
  const retryAfter = Number(refused[0].headers.get('retry-after'));
  t.true(retryAfter >= 1 && retryAfter <= Math.ceil(DEADLINE_MS / 1000), `Retry-After ${retryAfter}`);

  const other = await createTestUser(stack.deps);
  const theirs = await fetch(stack.streamUrl + eventsPath(await createTenant(other)), {
    headers: { Authorization: `Bearer ${other.token}` },
  });
  t.is(theirs.status, 200, 'the cap is per user');
  await theirs.body?.cancel();

  controller.abort();
  let again = 429;
  for (const until = Date.now() + 5000; again === 429 && Date.now() < until; ) {
    const res = await fetch(stack.streamUrl + eventsPath(id), { headers: { Authorization: `Bearer ${owner.token}` } });
    again = res.status;
    await res.body?.cancel();
  }
  t.is(again, 200, 'closing streams gives their slots back');
});

// Deadline and resume

test('the CLI reconnects at each deadline and resumes with Last-Event-ID: every event once, in order', async (t) => {
  const owner = await createTestUser(stack.deps);
  const id = await createTenant(owner);
  const connections: (string | null)[] = [];
  const fetchFn = (async (url: string, init?: RequestInit) => {
    if (String(url).endsWith(eventsPath(id))) connections.push(new Headers(init?.headers).get('Last-Event-ID'));
    return fetch(url, init);
  }) as typeof fetch;
  const client = createClient({ url: stack.url, token: async () => owner.token }, fetchFn);
  const controller = new AbortController();
  const seen: TenantEvent[] = [];
  const reading = (async () => {
    for await (const event of streamEvents(client, id, { signal: controller.signal })) {
      seen.push(event);
      if (event.message === 'last') controller.abort();
    }
  })();
  // Events keep coming until the client has reconnected twice (however slow the machine), then a last one.
  for (let i = 1; connections.length < 3 && i <= 200; i++) {
    await append(id, `step ${i}`);
    await new Promise((r) => setTimeout(r, DEADLINE_MS / 5));
  }
  await append(id, 'last');
  let stuck: NodeJS.Timeout | undefined;
  await Promise.race([
    reading,
    new Promise((_, reject) => {
      stuck = setTimeout(() => reject(new Error(`stuck after ${seen.map((e) => e.message).join(', ')}`)), 6 * DEADLINE_MS);
    }),
  ]).finally(() => clearTimeout(stuck));
  const stored = await readEvents(stack.url, id, owner.token);
  t.deepEqual(
    seen.map((e) => e.id),
    stored.map((e) => e.id),
    'no duplicate, no gap',
  );
  t.true(connections.length >= 3, `${connections.length} connections`);
  t.is(connections[0], null);
  // Each reconnect names the last event the one before delivered.
  for (const lastEventId of connections.slice(1))
    t.truthy(
      stored.find((e) => e.id === lastEventId),
      String(lastEventId),
    );
});
