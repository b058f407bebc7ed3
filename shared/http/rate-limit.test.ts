import { randomBytes } from 'node:crypto';
import test from 'ava';
import type { Firestore } from '@google-cloud/firestore';
import { AppError } from '../errors.ts';
import { createFirestore } from '../store/db.ts';
import { enforceRateLimit, hashRateLimitKey, RATE_LIMITS } from './rate-limit.ts';

const HOUR = 3_600_000;
const clients: Firestore[] = [];

function openClient(projectId: string): Firestore {
  const host = process.env.FIRESTORE_EMULATOR_HOST;
  if (!host) throw new Error('Run through `npm test -- shared/http/rate-limit.test.ts`, which starts the Firestore emulator.');
  const db = createFirestore({ projectId, emulators: { firestore: host } });
  clients.push(db);
  return db;
}

const freshProject = () => `demo-rl${randomBytes(4).toString('hex')}`;

test.after.always(async () => {
  await Promise.all(clients.map((db) => db.terminate()));
});

async function refusal(promise: Promise<unknown>): Promise<AppError> {
  const error = await promise.then(
    () => undefined,
    (err: unknown) => err,
  );
  if (!(error instanceof AppError)) throw new Error(`expected an AppError, got ${String(error)}`);
  return error;
}

// Counting

test('the limit is allowed, the next request is refused with 429 and Retry-After', async (t) => {
  const db = openClient(freshProject());
  const now = new Date('2030-01-01T10:00:00Z');
  for (let i = 0; i < 3; i++) {
    const state = await enforceRateLimit(db, { key: 'signup:10.0.0.1', limit: 3, windowMs: HOUR, now });
    t.is(state.remaining, 2 - i);
  }
  const later = new Date(now.getTime() + 15 * 60_000);
  const error = await refusal(enforceRateLimit(db, { key: 'signup:10.0.0.1', limit: 3, windowMs: HOUR, now: later }));
  t.is(error.status, 429);
  t.is(error.code, 'rate_limited');
  t.is(error.headers['Retry-After'], String(45 * 60));
  t.deepEqual(error.toBody().error.details, { retryAfterSeconds: 2700 });
});

test('a refused request writes nothing, and a new window opens when the old one ends', async (t) => {
  const db = openClient(freshProject());
  const now = new Date('2030-01-01T10:00:00Z');
  const options = { key: 'activate:10.0.0.2', limit: 1, windowMs: HOUR };
  await enforceRateLimit(db, { ...options, now });
  const ref = db.collection(RATE_LIMITS).doc(hashRateLimitKey(options.key));
  const before = await ref.get();
  await refusal(enforceRateLimit(db, { ...options, now: new Date(now.getTime() + 1000) }));
  t.deepEqual((await ref.get()).updateTime, before.updateTime);
  const next = await enforceRateLimit(db, { ...options, now: new Date(now.getTime() + HOUR) });
  t.is(next.remaining, 0);
  t.is((await ref.get()).get('count'), 1);
});

test('keys are counted apart and stored under their hash with a TTL field', async (t) => {
  const db = openClient(freshProject());
  const now = new Date('2030-01-01T10:00:00Z');
  await enforceRateLimit(db, { key: 'signup:10.0.0.3', limit: 1, windowMs: HOUR, now });
  await enforceRateLimit(db, { key: 'signup:10.0.0.4', limit: 1, windowMs: HOUR, now });
  const docs = (await db.collection(RATE_LIMITS).get()).docs;
  t.is(docs.length, 2);
  for (const doc of docs) {
    t.regex(doc.id, /^[0-9a-f]{64}$/);
    t.false(JSON.stringify(doc.data()).includes('10.0.0'));
    t.is(doc.get('expiresAt').toMillis(), now.getTime() + HOUR);
  }
});

// Sharing and concurrency

test('two instances (separate clients) share one count', async (t) => {
  const project = freshProject();
  const [a, b] = [openClient(project), openClient(project)];
  const now = new Date('2030-01-01T10:00:00Z');
  const options = { key: 'signup:10.0.0.5', limit: 2, windowMs: HOUR, now };
  await enforceRateLimit(a, options);
  await enforceRateLimit(b, options);
  t.is((await refusal(enforceRateLimit(a, options))).status, 429);
  t.is((await refusal(enforceRateLimit(b, options))).status, 429);
});

test('parallel requests are counted exactly: 25 at once against a limit of 10 let 10 through', async (t) => {
  const db = openClient(freshProject());
  const now = new Date('2030-01-01T10:00:00Z');
  const results = await Promise.allSettled(
    Array.from({ length: 25 }, () => enforceRateLimit(db, { key: 'signup:10.0.0.6', limit: 10, windowMs: HOUR, now })),
  );
  t.is(results.filter((r) => r.status === 'fulfilled').length, 10);
  const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  t.true(refused.every((r) => r.reason instanceof AppError && r.reason.status === 429));
});
