import test from 'ava';
import { startTestStack, type TestStack } from '../testing/stack.ts';
import { createTestUser, type TestUser } from '../testing/users.ts';
import { waitForEvent } from '../testing/events.ts';

let stack: TestStack;
let owner: TestUser;
let other: TestUser;
test.before(async () => {
  stack = await startTestStack();
  owner = await createTestUser(stack.deps);
  other = await createTestUser(stack.deps);
});
test.after.always(async () => {
  await stack?.close();
});

const post = (path: string, token: string, json: unknown = {}) => stack.fetch(path, { method: 'POST', token, json });

async function launch(name: string, environments = ['live']) {
  const res = await post('/api/v1/tenants', owner.token, { name, environments });
  const body = await res.json();
  if (res.status !== 202) throw new Error(`create answered ${res.status}: ${JSON.stringify(body)}`);
  return body as { tenant: { id: string }; links: { credentials: string } };
}

// Launch

test.serial('launching a tenant gives a working environment at its own URL, with every step as an event', async (t) => {
  const { tenant } = await launch('shop');
  const events = await waitForEvent(stack.streamUrl, tenant.id, owner.token, ['tenant_ready', 'provisioning_failed']);
  const types = events.map((e) => e.type);
  t.deepEqual(
    types.filter((x) =>
      ['provisioning_started', 'infrastructure_ready', 'secrets_stored', 'deploy_started', 'environment_ready', 'tenant_ready'].includes(x),
    ),
    ['provisioning_started', 'secrets_stored', 'infrastructure_ready', 'deploy_started', 'environment_ready', 'tenant_ready'],
  );
  const got = await (await stack.fetch(`/api/v1/tenants/${tenant.id}`, { token: owner.token })).json();
  t.is(got.tenant.state, 'ready');
  const page = await fetch(got.tenant.urls.live);
  t.is(page.status, 200);
  t.regex(await page.text(), new RegExp(tenant.id));
});

test.serial('the event stream resumes after Last-Event-ID and misses nothing', async (t) => {
  const { tenants } = await (await stack.fetch('/api/v1/tenants', { token: owner.token })).json();
  const read = async (headers: Record<string, string> = {}) => {
    const res = await stack.fetch(`/api/v1/tenants/${tenants[0].id}/events?follow=false`, { token: owner.token, headers });
    t.regex(res.headers.get('content-type') ?? '', /text\/event-stream/);
    return [...(await res.text()).matchAll(/^id: (\d+)$/gm)].map((m) => m[1]);
  };
  const all = await read();
  t.true(all.length >= 6);
  t.deepEqual(await read({ 'Last-Event-ID': all[2] }), all.slice(3));
  t.deepEqual(await read({ 'Last-Event-ID': all.at(-1)! }), []);
});

test.serial('another user can neither read nor operate the tenant', async (t) => {
  const { tenants } = await (await stack.fetch('/api/v1/tenants', { token: owner.token })).json();
  const id = tenants[0].id;
  t.is((await stack.fetch(`/api/v1/tenants/${id}`, { token: other.token })).status, 404);
  t.is((await post(`/api/v1/tenants/${id}/suspend`, other.token)).status, 404);
  const theirs = await (await stack.fetch('/api/v1/tenants', { token: other.token })).json();
  t.deepEqual(theirs.tenants, []);
});

test.serial('a second tenant with the same name is a conflict, and bad input changes nothing', async (t) => {
  const dup = await post('/api/v1/tenants', owner.token, { name: 'shop' });
  t.is(dup.status, 409);
  for (const bad of [
    { name: 'X' },
    { name: 'ok-name', environments: ['prod'] },
    { name: 'ok-name', memoryMb: 300 },
    { name: 'ok-name', extra: 1 },
    { name: 42 },
  ]) {
    const res = await post('/api/v1/tenants', owner.token, bad);
    t.is(res.status, 400, JSON.stringify(bad));
    t.is((await res.json()).error.code, 'validation_failed');
  }
  const { tenants } = await (await stack.fetch('/api/v1/tenants', { token: owner.token })).json();
  t.is(tenants.length, 1);
});

test.serial('suspend stops the environment, resume brings it back at the same URL', async (t) => {
  const { tenants } = await (await stack.fetch('/api/v1/tenants', { token: owner.token })).json();
  const { id, urls } = tenants[0];
  t.is((await post(`/api/v1/tenants/${id}/suspend`, owner.token)).status, 202);
  await waitForEvent(stack.streamUrl, id, owner.token, ['tenant_suspended']);
  const pausedPage = await fetch(urls.live);
  t.is(pausedPage.status, 503);
  t.regex(await pausedPage.text(), /paused/);
  t.is((await post(`/api/v1/tenants/${id}/suspend`, owner.token)).status, 409);
  t.is((await post(`/api/v1/tenants/${id}/resume`, owner.token)).status, 202);
  await waitForEvent(stack.streamUrl, id, owner.token, ['tenant_resumed']);
  t.is((await fetch(urls.live)).status, 200);
});

test.serial('credentials are retrievable once, then gone', async (t) => {
  const { tenant, links } = await launch('creds');
  await waitForEvent(stack.streamUrl, tenant.id, owner.token, ['tenant_ready']);
  const first = await stack.fetch(links.credentials, { token: owner.token });
  t.is(first.status, 200);
  const { credentials } = await first.json();
  t.is(credentials.APP_SECRET.length, 64);
  t.truthy(credentials.JWT_SECRET);
  t.is((await stack.fetch(links.credentials, { token: owner.token })).status, 410);
});

test.serial('the tenant list pages with a token, newest first, and a bad token is a 400', async (t) => {
  const first = await (await stack.fetch('/api/v1/tenants?pageSize=1', { token: owner.token })).json();
  t.is(first.tenants.length, 1);
  t.is(first.tenants[0].name, 'creds');
  t.truthy(first.nextPageToken);
  const second = await (await stack.fetch(`/api/v1/tenants?pageSize=1&pageToken=${first.nextPageToken}`, { token: owner.token })).json();
  t.deepEqual(
    second.tenants.map((x: { name: string }) => x.name),
    ['shop'],
  );
  t.is(second.nextPageToken, undefined);
  const bad = await stack.fetch('/api/v1/tenants?pageToken=garbage', { token: owner.token });
  t.is(bad.status, 400);
  t.is((await stack.fetch('/api/v1/tenants?pageSize=lots', { token: owner.token })).status, 400);
});

test.serial('parallel reads of one credentials link: exactly one gets the values, the others are told they are gone', async (t) => {
  const { tenant, links } = await launch('creds-race');
  await waitForEvent(stack.streamUrl, tenant.id, owner.token, ['tenant_ready']);
  const answers = await Promise.all(Array.from({ length: 8 }, () => stack.fetch(links.credentials, { token: owner.token })));
  t.deepEqual(answers.map((r) => r.status).sort(), [200, 410, 410, 410, 410, 410, 410, 410]);
  const bodies = await Promise.all(answers.map((r) => r.json()));
  t.is(bodies.filter((b) => b.credentials?.JWT_SECRET).length, 1, 'the values went out once');
  for (const b of bodies.filter((x) => x.error)) t.is(b.error.code, 'gone');
});

test.serial('deleting removes the environment and is safe to repeat', async (t) => {
  const { tenants } = await (await stack.fetch('/api/v1/tenants', { token: owner.token })).json();
  for (const tenant of tenants) {
    t.is((await stack.fetch(`/api/v1/tenants/${tenant.id}`, { method: 'DELETE', token: owner.token })).status, 202);
    await waitForEvent(stack.streamUrl, tenant.id, owner.token, ['tenant_deleted']);
    await t.throwsAsync(fetch(tenant.urls.live));
    const again = await stack.fetch(`/api/v1/tenants/${tenant.id}`, { method: 'DELETE', token: owner.token });
    t.is(again.status, 202);
    t.is((await again.json()).tenant.state, 'deleted');
  }
  const { tenants: left } = await (await stack.fetch('/api/v1/tenants', { token: owner.token })).json();
  t.deepEqual(left, []);
});
