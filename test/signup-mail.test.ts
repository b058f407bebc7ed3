import test from 'ava';
import { claimOutboxMessage } from '../shared/store/outbox.ts';
import { TASK_SECRET_HEADER } from '../shared/queue/client.ts';
import { startHarness, uniqueEmail, type Harness } from './signup-harness.ts';

let h: Harness;
test.before(async () => {
  h = await startHarness({ env: { RATE_LIMIT_PER_HOUR: '1000' } });
});
test.after.always(async () => {
  h.mail.setFailing(false);
  await h?.close();
});

/** Every task answered 200 (a window's flush; signups made one after another may span windows). */
const allOk = (statuses: number[]) => statuses.length > 0 && statuses.every((s) => s === 200);
const mailsTo = (email: string) => h.mail.messagesTo(email);
const outboxFor = async (email: string) => (await h.deps.db.collection('outbox').where('to', '==', email).get()).docs;

function task(path: string, payload: unknown, secret = h.config.tasks.secret) {
  return fetch(h.url + path, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', [TASK_SECRET_HEADER]: secret },
    body: JSON.stringify(payload),
  });
}

// Only the queue

test.serial('the mail endpoints refuse requests that do not come from the task queue', async (t) => {
  for (const path of ['/tasks/mail', '/tasks/mail-flush', '/tasks/mail-sweep']) {
    const res = await task(path, { id: 'x' }, 'wrong-secret');
    t.is(res.status, 403, path);
    t.is((await res.json()).error.code, 'forbidden');
  }
});

// Delivery

test.serial('signups of one window share one flush task, which sends each mail', async (t) => {
  // A second instance of the same platform with a 2 s window, its signups sent just after a window opened.
  const windowMs = 2000;
  const wide = await startHarness({ env: { MAIL_BATCH_MS: String(windowMs) }, projectId: h.config.projectId, mail: h.mail });
  try {
    // A loaded machine can take longer than the window for three signups; such a try spans two windows
    // (two tasks, as it should), so its mail is delivered and the claim is tried again, up to three times.
    for (let attempt = 1; ; attempt++) {
      await new Promise((r) => setTimeout(r, windowMs - (Date.now() % windowMs) + 20));
      const opened = Math.floor(Date.now() / windowMs);
      const emails = [uniqueEmail('window-a'), uniqueEmail('window-b'), uniqueEmail('window-c')];
      await Promise.all(emails.map((email) => wide.post('/api/signup', { email })));
      if (Math.floor(Date.now() / windowMs) !== opened && attempt < 3) {
        t.true(allOk(await wide.deliverMail()));
        continue;
      }
      t.is(wide.queue.pending.length, 1, 'one task for the window');
      t.regex(wide.queue.pending[0].options.name ?? '', /^mail-flush-2000-\d+$/);
      t.deepEqual(await wide.deliverMail(), [200]);
      for (const email of emails) {
        t.is((await mailsTo(email)).length, 1);
        const [doc] = await outboxFor(email);
        t.is(doc.get('status'), 'sent');
        t.is(doc.get('flushPending'), undefined);
      }
      return;
    }
  } finally {
    // Nothing of this instance's may be left for the next test's flush to find.
    await wide.deliverMail();
    await wide.close();
  }
});

test.serial(
  'a provider outage delays mail and loses none; each failed message goes to its own task, delivered when the provider is back',
  async (t) => {
    const emails = [uniqueEmail('outage-a'), uniqueEmail('outage-b'), uniqueEmail('outage-c')];
    for (const email of emails) t.is((await h.post('/api/signup', { email })).status, 202);
    h.mail.setFailing(true);
    t.true(allOk(await h.deliverMail()), 'the flushes end: nothing stays with them');
    t.deepEqual(
      h.queue.pending.map((task) => task.options.path),
      ['/tasks/mail', '/tasks/mail', '/tasks/mail'],
      'each failed message has its own task, retried with the queue backoff',
    );
    t.truthy(h.logs.find((l) => l.includes('mail flush handed messages to their own tasks')));
    t.deepEqual(await h.deliverMail(), [503, 503, 503], 'retries keep failing while the provider is down');
    for (const email of emails) {
      t.is((await mailsTo(email)).length, 0);
      const [doc] = await outboxFor(email);
      t.is(doc.get('status'), 'pending');
      t.regex(doc.get('lastError'), /451|unavailable/i);
      t.is(doc.get('attempts'), 2);
    }
    t.deepEqual(await (await task('/tasks/mail-flush', {})).json(), { sent: 0, handedOver: 0 }, 'a later flush leaves them to their tasks');
    h.mail.setFailing(false);
    t.deepEqual(await h.deliverMail(), [200, 200, 200]);
    for (const email of emails) {
      t.is((await mailsTo(email)).length, 1);
      t.is((await outboxFor(email))[0].get('status'), 'sent');
    }
  },
);

test.serial('a redelivered task for a sent message sends nothing', async (t) => {
  const email = uniqueEmail('redelivered');
  await h.post('/api/signup', { email });
  t.true(allOk(await h.deliverMail()));
  const [doc] = await outboxFor(email);
  const again = await task('/tasks/mail', { id: doc.id });
  t.is(again.status, 200);
  t.is((await again.json()).status, 'sent');
  t.deepEqual(await (await task('/tasks/mail-flush', {})).json(), { sent: 0, handedOver: 0 });
  t.is((await mailsTo(email)).length, 1);
});

test.serial(
  'a message another worker is sending is not sent twice; if that worker dies the sweeper sends it once its lease lapsed',
  async (t) => {
    const email = uniqueEmail('leased');
    await h.post('/api/signup', { email });
    const [doc] = await outboxFor(email);
    t.is((await claimOutboxMessage(h.deps.db, doc.id, h.deps.now(), 60_000)).outcome, 'claimed');
    t.true(allOk(await h.deliverMail()));
    t.is((await task('/tasks/mail', { id: doc.id })).status, 503, 'its own task waits for the lease');
    t.is((await mailsTo(email)).length, 0);
    h.advance(61_000);
    t.is((await (await task('/tasks/mail-sweep', {})).json()).enqueued, 1);
    t.deepEqual(await h.deliverMail(), [200]);
    t.is((await mailsTo(email)).length, 1);
  },
);

test.serial('a task for an unknown message is dropped (200), and a malformed one is a 400', async (t) => {
  const missing = await task('/tasks/mail', { id: 'no-such-message' });
  t.is(missing.status, 200);
  t.is((await missing.json()).status, 'missing');
  t.is((await task('/tasks/mail', { id: '../etc' })).status, 400);
  t.is((await task('/tasks/mail', {})).status, 400);
});

// Sweeping

test.serial('the sweeper re-enqueues a message whose task was never created, once', async (t) => {
  const email = uniqueEmail('swept');
  h.queue.failing = true;
  try {
    t.is((await h.post('/api/signup', { email })).status, 202, 'the visitor is answered as usual');
  } finally {
    h.queue.failing = false;
  }
  t.is(h.queue.pending.length, 0);
  t.truthy(h.logs.find((l) => l.includes('mail task not created')));

  const early = await (await task('/tasks/mail-sweep', {})).json();
  t.is(early.enqueued, 0, 'a message younger than a minute is left to its own task');
  h.advance(61_000);
  const swept = await (await task('/tasks/mail-sweep', {})).json();
  t.is(swept.enqueued, 1);
  t.deepEqual(await h.deliverMail(), [200]);
  t.is((await mailsTo(email)).length, 1);
  const after = await (await task('/tasks/mail-sweep', {})).json();
  t.deepEqual(after, { pending: 0, enqueued: 0 });
});
