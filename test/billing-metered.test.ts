import test from 'ava';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Firestore } from '@google-cloud/firestore';
import { aggregateDay } from '../shared/billing/aggregate.ts';
import { DEFAULT_PRICE_SHEET } from '../shared/billing/config.ts';
import { createMeteredSource, readUsageFromFirestore, usageCollection } from '../shared/billing/metered.ts';
import { createUsageSampler, type UsageMeter } from '../shared/billing/sampler.ts';
import { toDay } from '../shared/billing/types.ts';
import { createFirestore } from '../shared/store/db.ts';
import { createLocalDriver } from '../shared/runtime/local/index.ts';
import { waitFor } from '../scripts/dev/processes.ts';
import { allocatePorts } from '../testing/ports.ts';

const host = process.env.FIRESTORE_EMULATOR_HOST;
let db: Firestore;
test.before(() => {
  if (!host) throw new Error('These tests need the Firestore emulator: run them through `npm test -- test/billing-metered.test.ts`.');
  db = createFirestore({ projectId: `demo-metered-${randomBytes(4).toString('hex')}`, emulators: { firestore: host } });
});
test.after.always(async () => {
  await db?.terminate();
});

async function records(day: string, tenantId: string) {
  const snap = await db.collection(usageCollection(day)).where('tenantId', '==', tenantId).get();
  return snap.docs.map((d) => d.data());
}

/** A meter whose counters the test moves by hand. */
function handMeter(counters: { runningSeconds: number; memoryMb: number; requests: number }): UsageMeter {
  return { usage: async () => ({ ...counters }) };
}

// The sampler

test('each sample records only what was added since the previous one', async (t) => {
  const counters = { runningSeconds: 100, memoryMb: 512, requests: 40 };
  const ref = { ownerId: 'u1', tenantId: 't-sampleaaaa', env: 'live' };
  const sampler = createUsageSampler({ db, meter: handMeter(counters), environments: async () => [ref], intervalSeconds: 60 });
  t.deepEqual(await sampler.sampleOnce(), { environments: 1, written: 1 });
  t.deepEqual(await sampler.sampleOnce(), { environments: 1, written: 0 }, 'nothing new, nothing written');
  counters.runningSeconds = 160;
  counters.requests = 50;
  await sampler.sampleOnce();
  const day = toDay(new Date());
  const rows = await records(day, 't-sampleaaaa');
  t.deepEqual(
    rows.map((r) => r.instanceSeconds).sort((a, b) => a - b),
    [60, 100],
  );
  t.is(
    rows.reduce((s, r) => s + r.requests, 0),
    50,
  );
  t.is(
    rows.reduce((s, r) => s + r.memoryMibSeconds, 0),
    160 * 512,
  );
});

test('two samplers at once never count the same seconds twice', async (t) => {
  const meter = handMeter({ runningSeconds: 300, memoryMb: 256, requests: 7 });
  const ref = { ownerId: 'u1', tenantId: 't-concurrent', env: 'test' };
  const make = () => createUsageSampler({ db, meter, environments: async () => [ref], intervalSeconds: 60 });
  await Promise.all([make().sampleOnce(), make().sampleOnce(), make().sampleOnce()]);
  const rows = await records(toDay(new Date()), 't-concurrent');
  t.is(
    rows.reduce((s, r) => s + r.instanceSeconds, 0),
    300,
  );
  t.is(
    rows.reduce((s, r) => s + r.requests, 0),
    7,
  );
});

test('counters that went down (the environment was created again) count from zero', async (t) => {
  const counters = { runningSeconds: 500, memoryMb: 256, requests: 0 };
  const ref = { ownerId: 'u1', tenantId: 't-recreated', env: 'live' };
  const sampler = createUsageSampler({ db, meter: handMeter(counters), environments: async () => [ref], intervalSeconds: 60 });
  await sampler.sampleOnce();
  counters.runningSeconds = 20;
  await sampler.sampleOnce();
  const rows = await records(toDay(new Date()), 't-recreated');
  t.is(
    rows.reduce((s, r) => s + r.instanceSeconds, 0),
    520,
  );
});

// End to end with the real local runtime

test('usage of a real local environment is sampled, priced and stored as that tenant’s daily cost', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'tp-billing-local-'));
  const driver = createLocalDriver({ dataDir, portRange: await allocatePorts(100), stopTimeoutMs: 3000 });
  const ref = { ownerId: 'u-metered', tenantId: 't-metereddd1', env: 'live' };
  const spec = {
    ...ref,
    image: 'sample',
    memoryMb: 512,
    vars: {},
    secrets: {},
    labels: { 'tenantplane-tenant-id': ref.tenantId, 'tenantplane-env': 'live' },
  };
  try {
    const { url } = await driver.ensureInfrastructure(spec);
    await driver.deploy(spec);
    await driver.waitReady(ref, { timeoutMs: 60_000 });
    for (let i = 0; i < 5; i++) t.is((await fetch(`${url}/`)).status, 200);
    // Sample once the runtime has counted a second of running time and the five requests, not after a guessed pause.
    await waitFor(
      'usage of a second and five requests',
      async () => {
        const usage = await driver.usage(ref);
        return usage.runningSeconds >= 1 && usage.requests >= 5;
      },
      30_000,
    );
    const sampler = createUsageSampler({ db, meter: driver, environments: async () => [ref], intervalSeconds: 1 });
    t.is((await sampler.sampleOnce()).written, 1);
    const day = toDay(new Date());
    const [record] = await records(day, ref.tenantId);
    t.true(record.instanceSeconds >= 1, `ran ${record.instanceSeconds} s`);
    t.true(record.requests >= 5, `served ${record.requests} requests`);
    t.is(record.memoryMibSeconds, record.instanceSeconds * 512);

    const source = createMeteredSource({ priceSheet: DEFAULT_PRICE_SHEET, read: readUsageFromFirestore(db) });
    await aggregateDay({ db, now: () => new Date() }, { source, day });
    const cost = (await db.doc(`tenants/${ref.tenantId}/costs/${day}`).get()).data()!;
    t.is(cost.source, 'metered');
    t.true(Math.abs(cost.services['Instance time'] - record.instanceSeconds * DEFAULT_PRICE_SHEET.instanceSecond) < 1e-6);
    t.true(Math.abs(cost.services.Memory - record.instanceSeconds * 0.5 * DEFAULT_PRICE_SHEET.gibSecond) < 1e-6);
    t.true(cost.services.Requests > 0);
  } finally {
    await driver.destroy(ref).catch(() => undefined);
    await driver.close?.();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
