/**
 * My tenants in a real browser (issue 21): a deleted tenant in its grace
 * period is listed with the date its data goes and a Restore button, which
 * brings it back running with its data.
 */
import test from 'ava';
import { startTestStack, type TestStack } from '../testing/stack.ts';
import { waitForEvent } from '../testing/events.ts';
import { createTestUser, type TestUser } from '../testing/users.ts';
import { signInAs, startBrowser, streamsThroughHosting, type TestBrowser } from './web-browser.ts';

let stack: TestStack;
let web: TestBrowser;
let owner: TestUser;
test.before(async () => {
  [stack, web] = await Promise.all([startTestStack({ env: { TENANT_DATA_GRACE_DAYS: '7' } }), startBrowser()]);
  owner = await createTestUser(stack.deps);
});
test.after.always(async () => {
  await web?.close();
  await stack?.close();
});

test.serial('a deleted tenant is listed with the date its data goes and restored from My tenants with its data', async (t) => {
  const res = await stack.fetch('/api/v1/tenants', {
    method: 'POST',
    token: owner.token,
    json: { name: 'lazarus', environments: ['live'] },
  });
  const { tenant } = await res.json();
  await waitForEvent(stack.streamUrl, tenant.id, owner.token, ['tenant_ready', 'provisioning_failed'], 90_000);
  const live = (await (await stack.fetch(`/api/v1/tenants/${tenant.id}`, { token: owner.token })).json()).tenant.urls.live;
  t.deepEqual(await (await fetch(`${live}/data/visits`, { method: 'POST' })).json(), { visits: 1 });
  t.is((await stack.fetch(`/api/v1/tenants/${tenant.id}`, { method: 'DELETE', token: owner.token })).status, 202);
  await waitForEvent(stack.streamUrl, tenant.id, owner.token, ['tenant_deleted'], 90_000);

  const { page } = web;
  await signInAs(page, stack.url, stack.deps, owner);
  await page.goto(`${stack.url}/tenants.html`);
  const section = page.getByRole('region', { name: 'Deleted — can still be restored' });
  const card = section.getByRole('article', { name: 'lazarus' });
  await card.getByText(/Data kept until/).waitFor();
  await card.getByRole('button', { name: 'Restore lazarus' }).click();
  // The restored tenant joins the live ones and leaves the deleted section.
  await page.getByRole('heading', { level: 2, name: /^lazarus/ }).waitFor({ timeout: 90_000 });
  await section.waitFor({ state: 'detached' });
  const restored = (await (await stack.fetch(`/api/v1/tenants/${tenant.id}`, { token: owner.token })).json()).tenant;
  t.is(restored.state, 'ready');
  t.deepEqual(await (await fetch(`${restored.urls.live}/data/visits`, { method: 'POST' })).json(), { visits: 2 }, 'its data came back');
  t.deepEqual(streamsThroughHosting(web, stack.url), [], 'the restore was followed on the api function’s own URL');
});
