import test from 'ava';
import { randomBytes } from 'node:crypto';
import { createFirestore } from './db.ts';
import { runKeyedTransaction, settleTransactions } from './transact.ts';

const host = process.env.FIRESTORE_EMULATOR_HOST;
/** Needs the Firestore emulator `npm test` starts. */
const emulatorTest = host ? test : test.skip;

emulatorTest('settleTransactions waits for a running transaction before the client goes, and gives up at its limit', async (t) => {
  const db = createFirestore({ projectId: 'demo-tenantplane', emulators: { firestore: host } } as never);
  t.teardown(() => db.terminate());
  const path = `settle/${randomBytes(6).toString('hex')}`;
  const run = (ms: number) =>
    runKeyedTransaction(db, path, async (tx) => {
      await tx.get(db.doc(path));
      await new Promise((r) => setTimeout(r, ms));
      tx.set(db.doc(path), { at: Date.now() });
    });
  let done = false;
  void run(400).then(() => (done = true));
  await settleTransactions(db, 10_000);
  t.true(done, 'the transaction ended first');
  await settleTransactions(db, 1_000); // nothing running: at once

  let late = false;
  void run(1_500).then(() => (late = true));
  const started = Date.now();
  await settleTransactions(db, 100);
  t.false(late, 'gave up before the transaction ended');
  t.true(Date.now() - started < 1_000);
  await settleTransactions(db, 10_000);
  t.true(late);
});
