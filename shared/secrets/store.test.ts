import test from 'ava';
import { randomBytes } from 'node:crypto';
import type { Firestore } from '@google-cloud/firestore';
import { createFirestore } from '../store/db.ts';
import { createSecretStore } from './store.ts';

// Secrets at rest, read back from the Firestore emulator as anyone with database access would see them.

const host = process.env.FIRESTORE_EMULATOR_HOST;
let db: Firestore;
const key = randomBytes(32);
const now = new Date('2026-11-30T12:00:00Z');
const plaintext = 'sk-live-7f3a9c1e-very-secret';

test.before(() => {
  if (!host) throw new Error('These tests need the Firestore emulator: run them through `npm test -- shared/secrets/store.test.ts`.');
  db = createFirestore({ projectId: `demo-secrets-${randomBytes(4).toString('hex')}`, emulators: { firestore: host } });
});
test.after.always(async () => {
  await db?.terminate();
});

/** The plaintext and the encodings a lazy "encryption" would leave it in. */
const disguises = (text: string) => [
  text,
  Buffer.from(text).toString('base64'),
  Buffer.from(text).toString('base64url'),
  Buffer.from(text).toString('hex'),
];

test('the stored document holds no trace of the value, only a sealed v1 string', async (t) => {
  const store = createSecretStore(db, key);
  await store.put('t-atrestaaaa', 'STRIPE_KEY', plaintext, 'user', now);
  const raw = (await db.doc('tenants/t-atrestaaaa/secrets/STRIPE_KEY').get()).data()!;
  t.like(raw, { key: 'STRIPE_KEY', origin: 'user', version: 1 });
  t.regex(raw.value, /^v1\.[\w-]{16}\.[\w-]{22}\.[\w-]+$/);
  const json = JSON.stringify(raw);
  for (const form of disguises(plaintext)) t.false(json.includes(form), `the stored document contains ${form}`);
  await store.put('t-atrestaaaa', 'OTHER', plaintext, 'user', now);
  const other = (await db.doc('tenants/t-atrestaaaa/secrets/OTHER').get()).get('value');
  t.not(other.split('.')[2], raw.value.split('.')[2], 'the same value seals differently each time');
});

test('with the key the value comes back; with another key it does not', async (t) => {
  await createSecretStore(db, key).put('t-atrestbbbb', 'API_TOKEN', plaintext, 'user', now);
  t.is((await createSecretStore(db, key).get('t-atrestbbbb', 'API_TOKEN'))?.value, plaintext);
  t.deepEqual(await createSecretStore(db, key).values('t-atrestbbbb'), { API_TOKEN: plaintext });
  await t.throwsAsync(createSecretStore(db, randomBytes(32)).get('t-atrestbbbb', 'API_TOKEN'));
});

test('a document moved to another key or another tenant fails to decrypt', async (t) => {
  const store = createSecretStore(db, key);
  await store.put('t-atrestcccc', 'DATABASE_URL', plaintext, 'user', now);
  const raw = (await db.doc('tenants/t-atrestcccc/secrets/DATABASE_URL').get()).data()!;
  await db.doc('tenants/t-atrestcccc/secrets/PUBLIC_NOTE').set({ ...raw, key: 'PUBLIC_NOTE' });
  await db.doc('tenants/t-atrestdddd/secrets/DATABASE_URL').set(raw);
  await t.throwsAsync(store.get('t-atrestcccc', 'PUBLIC_NOTE'));
  await t.throwsAsync(store.get('t-atrestdddd', 'DATABASE_URL'));
  t.is((await store.get('t-atrestcccc', 'DATABASE_URL'))?.value, plaintext, 'the original still opens');
});
