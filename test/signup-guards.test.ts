import test from 'ava';
import { hashToken } from '../shared/store/signups.ts';
import { startHarness, uniqueEmail, type Harness } from './signup-harness.ts';

const started: Harness[] = [];
async function instance(options: Parameters<typeof startHarness>[0] = {}) {
  const h = await startHarness(options);
  started.push(h);
  return h;
}
test.after.always(async () => {
  await Promise.all(started.map((h) => h.close()));
});

/** Every collection in the project with its document count: bad input must leave this empty. */
async function storedCollections(h: Harness): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const collection of await h.deps.db.listCollections()) out[collection.id] = (await collection.get()).size;
  return out;
}

// Bad input stores nothing

test('bad inputs all answer 4xx with a SPEC §9 error and store nothing at all', async (t) => {
  const h = await instance({ env: { BODY_LIMIT_BYTES: '4096' } });
  const email = uniqueEmail('bad');
  const cases: Array<{
    title: string;
    body?: unknown;
    raw?: string;
    path?: string;
    headers?: Record<string, string>;
    status: number;
    code: string;
    field?: string;
  }> = [
    { title: 'no body', raw: '', status: 400, code: 'validation_failed', field: 'email' },
    { title: 'email is a number', body: { email: 42 }, status: 400, code: 'validation_failed', field: 'email' },
    { title: 'email is not an address', body: { email: 'ada-at-example.com' }, status: 400, code: 'validation_failed', field: 'email' },
    { title: 'email too long', body: { email: `${'a'.repeat(250)}@example.com` }, status: 400, code: 'validation_failed', field: 'email' },
    { title: 'name is an object', body: { email, name: { first: 'Ada' } }, status: 400, code: 'validation_failed', field: 'name' },
    {
      title: 'name with a line break',
      body: { email, name: 'Ada\r\nBcc: x@example.com' },
      status: 400,
      code: 'validation_failed',
      field: 'name',
    },
    { title: 'company too long', body: { email, company: 'x'.repeat(101) }, status: 400, code: 'validation_failed', field: 'company' },
    { title: 'plan with spaces', body: { email, plan: 'Gold Plan' }, status: 400, code: 'validation_failed', field: 'plan' },
    { title: 'migration unknown', body: { email, migration: 'partial' }, status: 400, code: 'validation_failed', field: 'migration' },
    {
      title: 'migration query unknown',
      body: { email },
      path: '/api/signup?migration=all',
      status: 400,
      code: 'validation_failed',
      field: 'migration',
    },
    {
      title: 'migration twice, disagreeing',
      body: { email, migration: 'fresh' },
      path: '/api/signup?migration=full',
      status: 400,
      code: 'validation_failed',
      field: 'migration',
    },
    { title: 'an unknown field', body: { email, emial: email }, status: 400, code: 'validation_failed', field: 'emial' },
    { title: 'a JSON array', raw: '[]', status: 400, code: 'invalid_json' },
    { title: 'broken JSON', raw: '{"email": ', status: 400, code: 'invalid_json' },
    { title: 'a huge body', raw: JSON.stringify({ email, name: 'x'.repeat(10_000) }), status: 413, code: 'payload_too_large' },
    {
      title: 'a form post',
      raw: `email=${email}`,
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      status: 415,
      code: 'unsupported_media_type',
    },
  ];
  for (const c of cases) {
    const res = await h.post(c.path ?? '/api/signup', c.body, { raw: c.raw, headers: c.headers });
    const body = await res.json();
    t.is(res.status, c.status, c.title);
    t.is(body.error?.code, c.code, c.title);
    t.is(typeof body.error?.message, 'string', c.title);
    if (c.field) t.is(typeof body.error.details?.fields?.[c.field], 'string', `${c.title}: names the field`);
  }
  const wrongMethod = await h.get('/api/signup');
  t.is(wrongMethod.status, 405);
  t.deepEqual(await storedCollections(h), {});
  t.is(h.queue.pending.length, 0);
});

// Rate limiting

test('the per-address limit is shared by two instances and answers 429 with Retry-After', async (t) => {
  const a = await instance({ env: { RATE_LIMIT_PER_HOUR: '3' } });
  const b = await instance({ env: { RATE_LIMIT_PER_HOUR: '3' }, projectId: a.config.projectId, mail: a.mail });
  const ip = '203.0.113.9';
  t.is((await a.post('/api/signup', { email: uniqueEmail() }, { ip })).status, 202);
  t.is((await b.post('/api/signup', { email: uniqueEmail() }, { ip })).status, 202);
  t.is((await a.post('/api/signup', { email: uniqueEmail() }, { ip })).status, 202);
  const refused = await b.post('/api/signup', { email: uniqueEmail() }, { ip });
  t.is(refused.status, 429);
  t.is((await refused.json()).error.code, 'rate_limited');
  const retryAfter = Number(refused.headers.get('retry-after'));
  t.true(retryAfter > 0 && retryAfter <= 3600, `Retry-After ${retryAfter}`);
  t.is((await a.post('/api/signup', { email: uniqueEmail() }, { ip })).status, 429);
  t.is((await a.post('/api/signup', { email: uniqueEmail() }, { ip: '203.0.113.10' })).status, 202, 'another address is not affected');
  t.is((await b.post('/api/activate', { token: 'f'.repeat(64) }, { ip })).status, 400, 'activation is counted apart from signup');
  a.advance(3_600_000);
  t.is((await a.post('/api/signup', { email: uniqueEmail() }, { ip })).status, 202, 'a new hour opens a new window');
});

test('a client that writes its own X-Forwarded-For does not escape the per-address limit', async (t) => {
  const h = await instance({ env: { RATE_LIMIT_PER_HOUR: '3' } });
  // The trusted front end (one hop) appends the address it saw; whatever the client wrote stands to its left.
  const real = '203.0.113.77';
  const spoofed = (i: number) => ({ headers: { 'X-Forwarded-For': `10.${i}.0.1, 198.18.${i}.9, ${real}` } });
  const statuses = [];
  for (let i = 0; i < 5; i++) statuses.push((await h.post('/api/signup', { email: uniqueEmail('spoof') }, spoofed(i))).status);
  t.deepEqual(statuses, [202, 202, 202, 429, 429]);
  t.is(
    (await h.post('/api/signup', { email: uniqueEmail('spoof') }, { ip: '10.0.0.1' })).status,
    202,
    'the spoofed address itself has its own, untouched budget',
  );
});

test('activation is rate limited per address too', async (t) => {
  const h = await instance({ env: { RATE_LIMIT_PER_HOUR: '2' } });
  const ip = '203.0.113.20';
  for (let i = 0; i < 2; i++) t.is((await h.post('/api/activate', { token: `${i}`.repeat(64) }, { ip })).status, 400);
  const refused = await h.get(`/api/activate?token=${'e'.repeat(64)}`, { ip });
  t.is(refused.status, 429);
  t.truthy(refused.headers.get('retry-after'));
});

// Concurrency

test('50 parallel signups for one address leave exactly one valid token', async (t) => {
  const h = await instance({ env: { RATE_LIMIT_PER_HOUR: '1000', MAIL_PER_MINUTE: '1000', MAIL_PER_DAY: '1000' } });
  const email = uniqueEmail('parallel');
  const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => h.post('/api/signup', { email }, { ip: `198.51.100.${i + 1}` })));
  t.deepEqual([...new Set(answers.map((r) => r.status))], [202]);
  const messages = (await h.deps.db.collection('outbox').get()).docs;
  t.is(messages.length, 50);
  const tokens = messages.map((m) => /token=([0-9a-f]{64})/.exec(String(m.get('text')))?.[1] ?? '');
  const stored = (await h.deps.db.collection('signups').get()).docs;
  t.is(stored.length, 1);
  const valid = tokens.filter((token) => hashToken(token) === stored[0].get('tokenHash'));
  t.is(valid.length, 1);
  const stale = tokens.find((token) => token !== valid[0]) ?? '';
  t.is((await h.post('/api/activate', { token: stale })).status, 400);
  t.is((await h.post('/api/activate', { token: valid[0] })).status, 200);
});

test('parallel activations of one token: exactly one succeeds, the others are told it was used', async (t) => {
  const h = await instance({ env: { RATE_LIMIT_PER_HOUR: '1000' } });
  const email = uniqueEmail('race');
  t.is((await h.post('/api/signup', { email })).status, 202);
  const token = /token=([0-9a-f]{64})/.exec(String((await h.deps.db.collection('outbox').get()).docs[0].get('text')))?.[1];
  const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => h.post('/api/activate', { token }, { ip: `192.0.2.${i + 1}` })));
  const statuses = answers.map((r) => r.status).sort();
  t.deepEqual(statuses, [200, 409, 409, 409, 409, 409, 409, 409]);
});

test('two instances activating one token at once: exactly one succeeds', async (t) => {
  const a = await instance({ env: { RATE_LIMIT_PER_HOUR: '1000' } });
  const b = await instance({ env: { RATE_LIMIT_PER_HOUR: '1000' }, projectId: a.config.projectId, mail: a.mail });
  t.is((await a.post('/api/signup', { email: uniqueEmail('race2') })).status, 202);
  const token = /token=([0-9a-f]{64})/.exec(String((await a.deps.db.collection('outbox').get()).docs[0].get('text')))?.[1];
  const answers = await Promise.all([a.post('/api/activate', { token }), b.post('/api/activate', { token })]);
  t.deepEqual(answers.map((r) => r.status).sort(), [200, 409]);
});
