import test from 'ava';
import { createHmac } from 'node:crypto';
import { aggregateDay } from '../shared/billing/aggregate.ts';
import { createPaddleProvider } from '../shared/billing/payments/paddle.ts';
import { startPaddleFake, startStripeFake, type StripeFake } from '../testing/fakes/payment-providers-fake.ts';
import type { CostRow } from '../shared/billing/types.ts';
import { startTestStack, type TestStack } from '../testing/stack.ts';
import { createTestUser, type TestUser } from '../testing/users.ts';

const STRIPE_SECRET = 'whsec_test_current';
const PADDLE_SECRET = 'pdl_ntfset_test';

let stack: TestStack;
let stripe: StripeFake;
let owner: TestUser;
let other: TestUser;
let admin: TestUser;
test.before(async () => {
  stripe = await startStripeFake({ apiKey: 'sk_test_fake' });
  stack = await startTestStack({
    env: {
      STRIPE_API_KEY: 'sk_test_fake',
      STRIPE_API_BASE: stripe.url,
      STRIPE_PRICE_STARTER: 'price_starter_monthly',
      STRIPE_WEBHOOK_SECRETS: `whsec_test_previous,${STRIPE_SECRET}`,
      PADDLE_WEBHOOK_SECRET: PADDLE_SECRET,
      PADDLE_TOLERANCE_SECONDS: '30',
    },
  });
  [owner, other, admin] = await Promise.all([
    createTestUser(stack.deps),
    createTestUser(stack.deps),
    createTestUser(stack.deps, { role: 'admin' }),
  ]);
});
/** Tenants the webhooks created; deleted at the end so no workload process outlives the tests. */
const createdTenants: { id: string; token: () => string }[] = [];
test.after.always(async () => {
  for (const { id, token } of createdTenants) {
    await stack.fetch(`/api/v1/tenants/${id}`, { method: 'DELETE', token: token() }).catch(() => undefined);
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      const res = await stack.fetch(`/api/v1/tenants/${id}`, { token: token() }).catch(() => undefined);
      const state = res && res.status === 200 ? (await res.json()).tenant?.state : 'gone';
      if (state === 'deleted' || state === 'gone') break;
      await new Promise((r) => setTimeout(r, 300));
    }
  }
  await stack?.close();
  await stripe?.close();
});

// Signing is done here with node:crypto, independently of the code under test.
function stripeDelivery(event: object, secret = STRIPE_SECRET, at = Math.floor(Date.now() / 1000)) {
  const body = JSON.stringify(event);
  const v1 = createHmac('sha256', secret).update(`${at}.${body}`).digest('hex');
  return stack.fetch('/api/v1/webhooks/stripe', {
    method: 'POST',
    body,
    headers: { 'Content-Type': 'application/json', 'Stripe-Signature': `t=${at},v1=${v1}` },
  });
}

function paddleDelivery(event: object, ts = Math.floor(Date.now() / 1000)) {
  const body = JSON.stringify(event);
  const h1 = createHmac('sha256', PADDLE_SECRET).update(`${ts}:${body}`).digest('hex');
  return stack.fetch('/api/v1/webhooks/paddle', {
    method: 'POST',
    body,
    headers: { 'Content-Type': 'application/json', 'Paddle-Signature': `ts=${ts};h1=${h1}` },
  });
}

let created = 1_717_000_000;
function subscriptionEvent(id: string, type: string, status: string, uid: string, subscription = 'sub_1PqTest') {
  created += 10;
  return {
    id,
    object: 'event',
    type,
    created,
    data: {
      object: {
        id: subscription,
        object: 'subscription',
        status,
        metadata: { uid, plan: 'free' },
        items: { data: [{ price: { id: 'price_free' } }] },
      },
    },
  };
}

async function tenantState(id: string): Promise<string> {
  return (await (await stack.fetch(`/api/v1/tenants/${id}`, { token: owner.token })).json()).tenant?.state;
}

async function waitForState(id: string, states: string[], timeoutMs = 90_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const state = await tenantState(id);
    if (states.includes(state) || Date.now() > deadline) return state;
    await new Promise((r) => setTimeout(r, 300));
  }
}

// Plans and checkout

test('plans are public and say which can be bought', async (t) => {
  const res = await stack.fetch('/api/v1/plans');
  const body = await res.json();
  t.is(res.status, 200);
  t.is(body.provider, 'stripe');
  t.deepEqual(
    body.plans.map((p: { id: string }) => p.id),
    ['free', 'starter', 'pro'],
  );
  t.like(body.plans[1], { id: 'starter', purchasable: true, providerPrices: { stripe: 'price_starter_monthly' } });
  t.like(body.plans[0], { id: 'free', priceMonthly: 0, purchasable: false });
});

test('checkout needs a signed-in user and returns the provider URL carrying the buyer and plan', async (t) => {
  t.is((await stack.fetch('/api/v1/checkout', { method: 'POST', json: { plan: 'starter' } })).status, 401);
  const res = await stack.fetch('/api/v1/checkout', { method: 'POST', token: owner.token, json: { plan: 'starter', name: 'my-shop' } });
  const body = await res.json();
  t.is(res.status, 200, JSON.stringify(body));
  t.regex(body.url, /^https:\/\/checkout\.stripe\.test\/c\/pay\/cs_test_/);
  const session = stripe.sessions.find((s) => s.client_reference_id === owner.uid)!;
  t.like(session, {
    mode: 'subscription',
    'line_items[0][price]': 'price_starter_monthly',
    'metadata[uid]': owner.uid,
    'metadata[plan]': 'starter',
    'subscription_data[metadata][uid]': owner.uid,
    'subscription_data[metadata][name]': 'my-shop',
    customer_email: owner.email,
  });
});

test('checkout refuses unknown plans, free plans and bad names without calling the provider', async (t) => {
  const mine = () => stripe.sessions.filter((s) => s.client_reference_id === other.uid).length;
  for (const json of [{ plan: 'gold' }, { plan: 'free' }, { plan: 'starter', name: 'Bad Name' }, { plan: 'starter', extra: 1 }, {}]) {
    const res = await stack.fetch('/api/v1/checkout', { method: 'POST', token: other.token, json });
    t.is(res.status, 400, JSON.stringify(json));
  }
  t.is(mine(), 0);
});

test('a Paddle checkout is a transaction with custom_data, and its checkout URL is returned', async (t) => {
  const paddle = await startPaddleFake({ apiKey: 'pdl_key' });
  try {
    const driver = createPaddleProvider({ apiKey: 'pdl_key', apiBase: paddle.url, webhookSecret: PADDLE_SECRET });
    const checkout = await driver.createCheckout({ plan: 'pro', priceId: 'pri_pro', uid: 'u-1', name: 'site-one' });
    t.regex(checkout.url, /\?_ptxn=txn_/);
    t.deepEqual(paddle.transactions[0], {
      items: [{ price_id: 'pri_pro', quantity: 1 }],
      collection_mode: 'automatic',
      custom_data: { uid: 'u-1', plan: 'pro', name: 'site-one' },
    });
    const noLink = await startPaddleFake({ apiKey: 'pdl_key', defaultPaymentLink: null });
    const bare = createPaddleProvider({ apiKey: 'pdl_key', apiBase: noLink.url });
    const noUrl = await t.throwsAsync(bare.createCheckout({ plan: 'pro', priceId: 'pri_pro', uid: 'u-1' }));
    t.like(noUrl, { status: 503 });
    t.regex((noUrl!.cause as Error).message, /default payment link/);
    await noLink.close();
  } finally {
    await paddle.close();
  }
});

// Webhooks

let tenantId: string;

test.serial('a paid subscription creates the tenant for the buyer; the same delivery again does nothing', async (t) => {
  const event = subscriptionEvent('evt_created_1', 'customer.subscription.created', 'active', owner.uid);
  const res = await stripeDelivery(event);
  const body = await res.json();
  t.is(res.status, 200, JSON.stringify(body));
  t.like(body, { received: true, action: 'activate', result: 'created' });
  tenantId = body.tenantId;
  createdTenants.push({ id: tenantId, token: () => owner.token });
  const again = await (await stripeDelivery(event)).json();
  t.deepEqual(again, { received: true, duplicate: true });
  const resent = await (await stripeDelivery({ ...event, id: 'evt_created_1_resent' })).json();
  t.deepEqual(resent, { received: true, duplicate: true }, 'the same (object, type) under a new id is a duplicate');
  const { tenants } = await (await stack.fetch('/api/v1/tenants', { token: owner.token })).json();
  t.is(tenants.length, 1);
  t.like(tenants[0], { id: tenantId, ownerId: owner.uid, plan: 'free' });
  t.like((await stack.deps.db.doc('webhookEvents/stripe:evt_created_1').get()).data(), { status: 'done', tenantId });
  t.true((await stack.deps.db.doc('webhookEvents/stripe:evt_created_1').get()).get('expiresAt') instanceof Object);
});

test.serial(
  'a Stripe checkout round trip: what checkout sends comes back in the subscription event, and the webhook creates that tenant for the buyer',
  async (t) => {
    const res = await stack.fetch('/api/v1/checkout', {
      method: 'POST',
      token: admin.token,
      json: { plan: 'starter', name: 'round-trip' },
    });
    t.is(res.status, 200);
    const sessionId = String((await res.json()).url)
      .split('/')
      .pop()!;
    // The customer pays; Stripe sends the subscription it created from the session.
    const event = stripe.subscriptionCreated(sessionId);
    const body = await (await stripeDelivery(event)).json();
    t.like(body, { received: true, action: 'activate', result: 'created' });
    createdTenants.push({ id: body.tenantId, token: () => admin.token });
    const tenant = (await (await stack.fetch(`/api/v1/tenants/${body.tenantId}`, { token: admin.token })).json()).tenant;
    t.like(tenant, { name: 'round-trip', ownerId: admin.uid, plan: 'starter' });
    t.like((await stack.deps.db.doc(`webhookEvents/stripe:${event.id}`).get()).data(), { status: 'done', tenantId: body.tenantId });
    // Let provisioning finish, so deleting it at the end cannot race a starting workload.
    const deadline = Date.now() + 90_000;
    let state = tenant.state;
    while (!['ready', 'failed'].includes(state) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 300));
      state = (await (await stack.fetch(`/api/v1/tenants/${body.tenantId}`, { token: admin.token })).json()).tenant.state;
    }
    t.is(state, 'ready');
  },
);

test.serial('a signature made with the previous secret still passes during rotation; a wrong one is 401 and stores nothing', async (t) => {
  const rotated = await stripeDelivery(subscriptionEvent('evt_rotation', 'invoice.paid', 'paid', owner.uid), 'whsec_test_previous');
  t.is(rotated.status, 200);
  const forged = await stripeDelivery(
    subscriptionEvent('evt_forged', 'customer.subscription.deleted', 'canceled', owner.uid),
    'whsec_attacker',
  );
  t.is(forged.status, 401);
  t.is((await forged.json()).error.code, 'unauthenticated');
  t.false((await stack.deps.db.doc('webhookEvents/stripe:evt_forged').get()).exists);
  const old = await stripeDelivery(
    subscriptionEvent('evt_old', 'customer.subscription.deleted', 'canceled', owner.uid),
    STRIPE_SECRET,
    Math.floor(Date.now() / 1000) - 400,
  );
  t.is(old.status, 401);
  t.regex((await old.json()).error.message, /old/);
});

test('a webhook for an unknown provider is a 404 naming the valid ones', async (t) => {
  const res = await stack.fetch('/api/v1/webhooks/paypal', { method: 'POST', json: { id: 'x' } });
  t.is(res.status, 404);
  t.regex((await res.json()).error.message, /valid providers are "stripe", "paddle"/);
});

test.serial('an unknown event type is answered 200, ignored and recorded', async (t) => {
  const res = await stripeDelivery({
    id: 'evt_unknown',
    object: 'event',
    type: 'invoice.finalized',
    created: 1_717_000_001,
    data: { object: { id: 'in_1', object: 'invoice' } },
  });
  const body = await res.json();
  t.is(res.status, 200);
  t.true(body.ignored);
  t.like((await stack.deps.db.doc('webhookEvents/stripe:evt_unknown').get()).data(), { status: 'ignored', type: 'invoice.finalized' });
});

test.serial('a lapsed subscription suspends the tenant, a paid one resumes it, and an older event arriving late is ignored', async (t) => {
  t.is(await waitForState(tenantId, ['ready', 'failed']), 'ready');
  const lapsedEvent = subscriptionEvent('evt_past_due', 'customer.subscription.updated', 'past_due', owner.uid);
  const activeEvent = subscriptionEvent('evt_active_again', 'customer.subscription.updated', 'active', owner.uid);
  const lapsed = await (await stripeDelivery(lapsedEvent)).json();
  t.like(lapsed, { action: 'suspend', result: 'suspended', tenantId });
  t.is(await waitForState(tenantId, ['suspended']), 'suspended');
  const resumed = await (await stripeDelivery(activeEvent)).json();
  t.like(resumed, { action: 'activate', result: 'resumed', tenantId });
  t.is(await waitForState(tenantId, ['ready']), 'ready');
  const late = await (
    await stripeDelivery({ ...lapsedEvent, id: 'evt_paused_late', type: 'customer.subscription.paused', created: lapsedEvent.created - 5 })
  ).json();
  t.like(late, { ignored: true });
  t.is(await tenantState(tenantId), 'ready');
  t.like((await stack.deps.db.doc('webhookEvents/stripe:evt_paused_late').get()).data(), { status: 'stale' });
});

test.serial('a Paddle subscription.activated creates the tenant from custom_data', async (t) => {
  const event = {
    event_id: 'evt_01hpaddle',
    event_type: 'subscription.activated',
    occurred_at: new Date().toISOString(),
    notification_id: 'ntf_1',
    data: {
      id: 'sub_01hpaddle',
      status: 'active',
      custom_data: { uid: other.uid, plan: 'free', name: 'paddle-site' },
      items: [{ price: { id: 'pri_free' } }],
    },
  };
  const body = await (await paddleDelivery(event)).json();
  t.like(body, { action: 'activate', result: 'created' });
  createdTenants.push({ id: body.tenantId, token: () => other.token });
  const tenant = (await (await stack.fetch(`/api/v1/tenants/${body.tenantId}`, { token: other.token })).json()).tenant;
  t.like(tenant, { name: 'paddle-site', ownerId: other.uid });
  // Let provisioning finish, so deleting it at the end cannot race a starting workload.
  const deadline = Date.now() + 90_000;
  while (
    Date.now() < deadline &&
    !['ready', 'failed'].includes(
      (await (await stack.fetch(`/api/v1/tenants/${body.tenantId}`, { token: other.token })).json()).tenant.state,
    )
  ) {
    await new Promise((r) => setTimeout(r, 300));
  }
  t.deepEqual(await (await paddleDelivery(event)).json(), { received: true, duplicate: true });
});

test.serial(
  'a Paddle delivery signed outside the 30 s window is refused at the route and records nothing; inside it is taken',
  async (t) => {
    const now = Math.floor(Date.now() / 1000);
    const activation = {
      event_id: 'evt_01hreplayed',
      event_type: 'subscription.activated',
      occurred_at: new Date().toISOString(),
      notification_id: 'ntf_replay',
      data: {
        id: 'sub_01hreplayed',
        status: 'active',
        custom_data: { uid: other.uid, plan: 'free', name: 'replayed-site' },
        items: [{ price: { id: 'pri_free' } }],
      },
    };
    for (const [at, words] of [
      [now - 45, 'old'],
      [now + 45, 'in the future'],
    ] as const) {
      const res = await paddleDelivery(activation, at);
      t.is(res.status, 401, words);
      t.regex((await res.json()).error.message, new RegExp(`${words}, more than the 30 s allowed`));
    }
    t.false((await stack.deps.db.doc('webhookEvents/paddle:evt_01hreplayed').get()).exists, 'the replay left no record');
    const { tenants } = await (await stack.fetch('/api/v1/tenants', { token: other.token })).json();
    t.false(
      tenants.some((x: { name: string }) => x.name === 'replayed-site'),
      'and created no tenant',
    );
    // Inside the window (an event that needs no action, so nothing provisions).
    const fresh = {
      event_id: 'evt_01hinwindow',
      event_type: 'transaction.paid',
      occurred_at: new Date().toISOString(),
      notification_id: 'ntf_window',
      data: { id: 'txn_01hinwindow' },
    };
    const inside = await paddleDelivery(fresh, now - 20);
    t.is(inside.status, 200);
    t.like(await inside.json(), { received: true, ignored: true });
  },
);

// The billing endpoint

test.serial('the owner and admins read a tenant’s costs; anyone else gets 404; bad dates are 400', async (t) => {
  const rows: CostRow[] = [
    { day: '2024-10-01', tenantId, service: 'Instance time', currency: 'USD', amount: 1.5 },
    { day: '2024-10-01', tenantId, service: 'Memory', currency: 'USD', amount: 0.25 },
    { day: '2024-10-02', tenantId, service: 'Instance time', currency: 'USD', amount: 2 },
  ];
  const source = {
    name: 'fixture',
    async *rows() {
      yield* rows;
    },
  };
  await aggregateDay({ db: stack.deps.db, now: () => new Date() }, { source, day: '2024-10-01' });
  await aggregateDay({ db: stack.deps.db, now: () => new Date() }, { source, day: '2024-10-02' });
  const path = `/api/v1/tenants/${tenantId}/billing?from=2024-10-01&to=2024-10-31`;
  const mine = await stack.fetch(path, { token: owner.token });
  const body = await mine.json();
  t.is(mine.status, 200, JSON.stringify(body));
  t.deepEqual(body, {
    tenantId,
    currency: 'USD',
    from: '2024-10-01',
    to: '2024-10-31',
    total: 3.75,
    days: [
      { day: '2024-10-01', total: 1.75, services: { 'Instance time': 1.5, Memory: 0.25 } },
      { day: '2024-10-02', total: 2, services: { 'Instance time': 2 } },
    ],
    services: { 'Instance time': 3.5, Memory: 0.25 },
  });
  t.is((await stack.fetch(path, { token: admin.token })).status, 200);
  t.is((await stack.fetch(path, { token: other.token })).status, 404);
  t.is((await stack.fetch(path)).status, 401);
  t.is((await stack.fetch(`/api/v1/tenants/${tenantId}/billing?from=2024-13-01`, { token: owner.token })).status, 400);
  t.is((await stack.fetch(`/api/v1/tenants/${tenantId}/billing?from=2024-01-01&to=2024-12-31`, { token: owner.token })).status, 400);
  t.is((await stack.fetch('/api/v1/tenants/t-zzzzzzzzzz/billing', { token: admin.token })).status, 404);
});

test.serial('a subscription unlocks its paid plan for the buyer, and a cancelled one locks it again', async (t) => {
  const create = () =>
    stack.fetch('/api/v1/tenants', {
      method: 'POST',
      token: other.token,
      json: { name: 'paid-by-api', plan: 'starter', environments: ['live'] },
    });
  const refused = await create();
  t.is(refused.status, 402);
  t.is((await refused.json()).error.code, 'payment_required');
  const event = {
    ...subscriptionEvent('evt_unlock_1', 'customer.subscription.created', 'active', other.uid, 'sub_unlock'),
    data: {
      object: {
        id: 'sub_unlock',
        object: 'subscription',
        status: 'active',
        metadata: { uid: other.uid, plan: 'starter', name: 'bought-site' },
        items: { data: [{ price: { id: 'price_starter_monthly' } }] },
      },
    },
  };
  const applied = await (await stripeDelivery(event)).json();
  t.like(applied, { received: true, action: 'activate', result: 'created' });
  createdTenants.push({ id: applied.tenantId, token: () => other.token });
  t.like((await stack.deps.db.doc('subscriptions/stripe:sub_unlock').get()).data(), { uid: other.uid, plan: 'starter', status: 'active' });
  const allowed = await create();
  t.is(allowed.status, 202);
  createdTenants.push({ id: (await allowed.json()).tenant.id, token: () => other.token });
  const cancelled = {
    ...event,
    id: 'evt_unlock_2',
    type: 'customer.subscription.deleted',
    created: event.created + 5,
    data: { object: { ...event.data.object, status: 'canceled' } },
  };
  // The bought tenant may still be provisioning: then the suspend answers 409 and the provider retries; the subscription is recorded either way.
  t.true([200, 409].includes((await stripeDelivery(cancelled)).status));
  t.is((await stack.deps.db.doc('subscriptions/stripe:sub_unlock').get()).get('status'), 'inactive');
  t.is(
    (await stack.fetch('/api/v1/tenants', { method: 'POST', token: other.token, json: { name: 'paid-again', plan: 'starter' } })).status,
    402,
  );
});

test.serial('an event without an object is deduplicated by its id and never shares state with another such event', async (t) => {
  const event = subscriptionEvent('evt_no_object', 'customer.subscription.created', 'active', owner.uid);
  delete (event.data.object as { id?: string }).id;
  const first = await (await stripeDelivery(event)).json();
  t.like(first, { received: true, action: 'activate' });
  if (first.tenantId) createdTenants.push({ id: first.tenantId, token: () => owner.token });
  t.deepEqual(await (await stripeDelivery(event)).json(), { received: true, duplicate: true });
  t.false((await stack.deps.db.doc('webhookObjects/stripe:undefined').get()).exists, 'no shared "undefined" object');
});
