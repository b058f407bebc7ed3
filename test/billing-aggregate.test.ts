import test from 'ava';
import { aggregateDay, aggregateDays } from '../shared/billing/aggregate.ts';
import { usageCollection } from '../shared/billing/metered.ts';
import type { CostRow, CostSource, DayRange } from '../shared/billing/types.ts';
import { TASK_SECRET_HEADER } from '../shared/queue/client.ts';
import { startTestStack, type TestStack } from '../testing/stack.ts';
import { createTestUser, type TestUser } from '../testing/users.ts';

let stack: TestStack;
let admin: TestUser;
let user: TestUser;
test.before(async () => {
  stack = await startTestStack({ tasks: false });
  [admin, user] = await Promise.all([createTestUser(stack.deps, { role: 'admin' }), createTestUser(stack.deps)]);
});
test.after.always(async () => {
  await stack?.close();
});

/** A source over fixed rows, like a billing export that can change between runs. */
function fixedSource(rows: CostRow[]): CostSource & { rows(range: DayRange): AsyncIterable<CostRow> } {
  return {
    name: 'fixture',
    async *rows(range) {
      for (const row of rows) if (row.day >= range.from && row.day <= range.to) yield row;
    },
  };
}

const cost = (day: string, tenantId: string | null, service: string, amount: number): CostRow => ({
  day,
  tenantId,
  service,
  currency: 'USD',
  amount,
});
const deps = () => ({ db: stack.deps.db, now: () => new Date() });
const read = async (path: string) => (await stack.deps.db.doc(path).get()).data();

// Replacing a day

test.serial('re-running a day replaces it: same totals, never double counted', async (t) => {
  const source = fixedSource([
    cost('2024-06-01', 't-aaaaaaaaaa', 'Cloud Run', 1.25),
    cost('2024-06-01', 't-aaaaaaaaaa', 'Cloud Run', 0.75),
    cost('2024-06-01', 't-aaaaaaaaaa', 'Cloud Storage', 0.5),
    cost('2024-06-01', 't-bbbbbbbbbb', 'Cloud Run', 3),
    cost('2024-06-01', null, 'Networking', 0.1),
  ]);
  const first = await aggregateDay(deps(), { source, day: '2024-06-01' });
  const firstDoc = await read('tenants/t-aaaaaaaaaa/costs/2024-06-01');
  const second = await aggregateDay(deps(), { source, day: '2024-06-01' });
  const secondDoc = await read('tenants/t-aaaaaaaaaa/costs/2024-06-01');
  t.like(firstDoc, {
    day: '2024-06-01',
    currency: 'USD',
    total: 2.5,
    services: { 'Cloud Run': 2, 'Cloud Storage': 0.5 },
    source: 'fixture',
  });
  t.deepEqual({ ...secondDoc, updatedAt: '' }, { ...firstDoc, updatedAt: '' });
  t.is(first.days[0].total, 5.6);
  t.is(second.days[0].total, 5.6);
  t.like(await read('tenants/t-bbbbbbbbbb/costs/2024-06-01'), { total: 3 });
});

test.serial('costs without a tenant label are kept as unattributed, never dropped', async (t) => {
  t.like(await read('billing/unattributed/costs/2024-06-01'), { total: 0.1, services: { Networking: 0.1 } });
  t.like(await read('billingDays/2024-06-01'), { tenants: 2, unattributed: 0.1, total: 5.6 });
});

test.serial('a tenant missing from a re-run loses its cost document for that day', async (t) => {
  const source = fixedSource([cost('2024-06-01', 't-aaaaaaaaaa', 'Cloud Run', 2)]);
  const result = await aggregateDay(deps(), { source, day: '2024-06-01' });
  t.is(result.days[0].removed, 1);
  t.is(await read('tenants/t-bbbbbbbbbb/costs/2024-06-01'), undefined);
  t.is(await read('billing/unattributed/costs/2024-06-01'), undefined);
  t.like(await read('tenants/t-aaaaaaaaaa/costs/2024-06-01'), { total: 2, services: { 'Cloud Run': 2 } });
});

test.serial('a range aggregates every day, and a day without rows is emptied', async (t) => {
  const source = fixedSource([cost('2024-06-02', 't-aaaaaaaaaa', 'Cloud Run', 1), cost('2024-06-03', 't-cccccccccc', 'Cloud Run', 4)]);
  const result = await aggregateDays(deps(), { source, range: { from: '2024-06-01', to: '2024-06-03' } });
  t.deepEqual(
    result.days.map((d) => [d.day, d.tenants, d.total]),
    [
      ['2024-06-01', 0, 0],
      ['2024-06-02', 1, 1],
      ['2024-06-03', 1, 4],
    ],
  );
  t.is(await read('tenants/t-aaaaaaaaaa/costs/2024-06-01'), undefined);
  t.like(await read('tenants/t-cccccccccc/costs/2024-06-03'), { total: 4 });
});

test('a source that mixes currencies in one day is refused before anything is written', async (t) => {
  const source = fixedSource([
    cost('2024-07-01', 't-dddddddddd', 'Cloud Run', 1),
    { ...cost('2024-07-01', 't-dddddddddd', 'Cloud Run', 1), currency: 'EUR' },
  ]);
  await t.throwsAsync(aggregateDay(deps(), { source, day: '2024-07-01' }), { message: /mixes currencies USD and EUR/ });
  t.is(await read('tenants/t-dddddddddd/costs/2024-07-01'), undefined);
});

// The billing-aggregate function

const aggregate = (init: { json?: unknown; token?: string; task?: boolean }) =>
  stack.fetch('/api/billing/aggregate', {
    method: 'POST',
    json: init.json ?? {},
    token: init.token,
    headers: init.task ? { [TASK_SECRET_HEADER]: stack.config.tasks.secret } : {},
  });

test('the function refuses callers that are neither the scheduler nor an admin', async (t) => {
  t.is((await aggregate({})).status, 401);
  t.is((await aggregate({ token: user.token, json: { from: '2024-08-01' } })).status, 403);
  const forged = await stack.fetch('/api/billing/aggregate', { method: 'POST', json: {}, headers: { [TASK_SECRET_HEADER]: 'guess' } });
  t.is(forged.status, 403);
});

test('bad dates are a 400 naming the field, and nothing is stored', async (t) => {
  for (const json of [
    { from: '2024-02-30' },
    { from: '2024-08-05', to: '2024-08-01' },
    { from: '2024-01-01', to: '2024-12-31' },
    { day: '2024-08-01' },
    { from: "2024-08-01' OR 1=1" },
  ]) {
    const res = await aggregate({ task: true, json });
    t.is(res.status, 400, JSON.stringify(json));
    t.is((await res.json()).error.code, 'validation_failed');
  }
  for (const day of ['2024-01-01', '2024-08-01', '2024-08-05']) t.is(await read(`billingDays/${day}`), undefined, day);
});

test('the scheduler aggregates metered usage priced by the price sheet', async (t) => {
  const day = '2024-09-10';
  const records = stack.deps.db.collection(usageCollection(day));
  await records
    .doc('t-eeeeeeeeee-live-1')
    .set({ tenantId: 't-eeeeeeeeee', env: 'live', day, instanceSeconds: 3600, memoryMibSeconds: 3600 * 512, requests: 500_000 });
  await records
    .doc('t-eeeeeeeeee-test-1')
    .set({ tenantId: 't-eeeeeeeeee', env: 'test', day, instanceSeconds: 600, memoryMibSeconds: 600 * 256, requests: 500_000 });
  const res = await aggregate({ task: true, json: { from: day } });
  const body = await res.json();
  t.is(res.status, 200, JSON.stringify(body));
  t.like(body, { source: 'metered', from: day, to: day });
  const sheet = stack.config.billing.priceSheet;
  const expected = {
    'Instance time': 4200 * sheet.instanceSecond,
    Memory: ((3600 * 512 + 600 * 256) / 1024) * sheet.gibSecond,
    Requests: 1 * sheet.millionRequests,
  };
  const doc = (await read(`tenants/t-eeeeeeeeee/costs/${day}`))!;
  for (const [service, amount] of Object.entries(expected)) t.true(Math.abs(doc.services[service] - amount) < 1e-6, service);
  t.true(Math.abs(doc.total - Object.values(expected).reduce((a, b) => a + b, 0)) < 1e-5);
});

test('an admin may run the aggregation on demand; an empty body means yesterday', async (t) => {
  const res = await aggregate({ token: admin.token });
  const body = await res.json();
  t.is(res.status, 200, JSON.stringify(body));
  const yesterday = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
  t.is(body.from, yesterday);
  t.is(body.to, yesterday);
});
