/**
 * The Releases page in a real browser: an admin rolls a release out to every
 * tenant, watches the wave's progress bar fill from the rollout's event stream
 * (on the api function's own URL), rolls it back, and the owner's page shows
 * the release each environment runs.
 */
import test from 'ava';
import { waitForEvent } from '../testing/events.ts';
import { createRelease, pushImage } from '../testing/rollouts.ts';
import { startTestStack, type TestStack } from '../testing/stack.ts';
import { makeNodeApp } from '../testing/tar.ts';
import { createTestUser, type TestUser } from '../testing/users.ts';
import { signInAs, startBrowser, streamsThroughHosting, type TestBrowser } from './web-browser.ts';

let stack: TestStack;
let web: TestBrowser;
let admin: TestUser;
let tenantId: string;
let brokenImage: string;

test.before(async () => {
  [stack, web] = await Promise.all([startTestStack(), startBrowser()]);
  admin = await createTestUser(stack.deps, { role: 'admin' });
  await createRelease(
    stack,
    admin.token,
    'web-v1',
    await pushImage(stack, admin.token, makeNodeApp({ name: 'web-app', version: '1.0.0' })),
  );
  brokenImage = await pushImage(stack, admin.token, makeNodeApp({ name: 'web-app', version: '9.0.0', healthy: false }));
  const res = await stack.fetch('/api/v1/tenants', {
    method: 'POST',
    token: admin.token,
    json: { name: 'web-fleet', environments: ['live'] },
  });
  tenantId = (await res.json()).tenant.id;
  await waitForEvent(stack.streamUrl, tenantId, admin.token, ['tenant_ready', 'provisioning_failed'], 90_000);
});
test.after.always(async () => {
  if (tenantId) {
    await stack.fetch(`/api/v1/tenants/${tenantId}`, { method: 'DELETE', token: admin.token });
    await waitForEvent(stack.streamUrl, tenantId, admin.token, ['tenant_deleted'], 60_000).catch(() => undefined);
  }
  await web?.close();
  await stack?.close();
});

test.serial('an admin rolls a release out from the Releases page, follows its wave live, and rolls it back', async (t) => {
  const { page } = web;
  await signInAs(page, stack.url, stack.deps, admin);
  await page.goto(`${stack.url}/releases.html`);
  await page.getByRole('heading', { name: 'Releases', level: 1 }).waitFor();
  await page.getByRole('listitem').getByText('web-v1', { exact: true }).waitFor();
  await page.getByLabel('Soak (seconds)').fill('1');
  await page.getByRole('button', { name: 'Roll out to all tenants…' }).click();
  await page.getByRole('button', { name: 'Start the rollout' }).click();
  const panel = page.getByRole('region', { name: /^Rollout ro-/ });
  await panel.getByText('succeeded', { exact: true }).waitFor({ timeout: 90_000 });
  t.is(await panel.getByRole('progressbar', { name: 'Wave 1' }).getAttribute('aria-valuenow'), '100');
  t.regex((await panel.textContent()) ?? '', /1\/1 healthy/);

  await page.goto(`${stack.url}/tenants.html?id=${tenantId}`);
  await page.getByText('release web-v1').waitFor({ timeout: 30_000 });

  await page.goto(`${stack.url}/releases.html`);
  await page.getByRole('button', { name: 'Show' }).first().click();
  await panel.getByRole('button', { name: 'Roll back' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Roll back' }).click();
  await panel.getByText('rolled_back', { exact: true }).waitFor({ timeout: 90_000 });
  t.regex((await panel.textContent()) ?? '', /1 rolled back/);
  t.deepEqual(streamsThroughHosting(web, stack.url), [], 'the rollout stream opened on the api function, not through Hosting');
});

test.serial(
  "an admin creates a release in the form, rolls it out to chosen tenants, and reads a failed environment's logs in one click",
  async (t) => {
    const { page } = web;
    await signInAs(page, stack.url, stack.deps, admin);
    await page.goto(`${stack.url}/releases.html`);
    const create = page.getByRole('form', { name: 'Create a release' });
    await create.getByLabel('Release name').fill('web-broken');
    await create.getByLabel('Image').fill(brokenImage);
    await create.getByLabel('Notes').fill('health check fails');
    await create.getByRole('button', { name: 'Create release' }).click();
    await page.getByRole('listitem').getByText('web-broken', { exact: true }).waitFor();

    const form = page.getByRole('form', { name: 'Start a rollout' });
    await form.getByLabel('Release to roll out').selectOption('web-broken');
    await form.getByRole('combobox', { name: /^Target/ }).selectOption({ value: 'ids' });
    await form.getByPlaceholder('t-abc…, t-def…').fill(tenantId);
    await form.getByLabel('Waves').fill('100%');
    await form.getByLabel('Soak (seconds)').fill('1');
    t.is(await form.getByLabel('At most updating at once').inputValue(), '5', 'the API defaults are filled in');
    await form.getByRole('button', { name: 'Roll out…' }).click();
    await page.getByRole('dialog').getByText(tenantId).waitFor();
    await page.getByRole('button', { name: 'Start the rollout' }).click();
    const panel = page.getByRole('region', { name: /^Rollout ro-/ });
    await panel.getByText('paused', { exact: true }).waitFor({ timeout: 90_000 });
    await panel.getByRole('button', { name: `Logs of ${tenantId} live` }).click();
    const logs = panel.getByRole('log', { name: `Logs of ${tenantId} live` });
    await logs.getByText(/did not come up/).waitFor({ timeout: 30_000 });
    t.regex((await logs.textContent()) ?? '', /keeps serving/);
    // The owner's page shows the environment still serving, with the failed update beside it.
    await page.goto(`${stack.url}/tenants.html?id=${tenantId}`);
    const live = page.getByRole('list', { name: 'Environments of web-fleet' }).getByRole('listitem');
    await live.getByText(/Update failed, the previous version still serves/).waitFor({ timeout: 30_000 });
    t.regex((await live.textContent()) ?? '', /ready/);
    await page.goto(`${stack.url}/releases.html`);
    await page.getByRole('button', { name: 'Show' }).first().click();
    await panel.getByRole('button', { name: 'Roll back' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Roll back' }).click();
    await panel.getByText('rolled_back', { exact: true }).waitFor({ timeout: 90_000 });
  },
);

test.serial("an admin pins a tenant and sets its labels on the tenant's page; a malformed label changes nothing", async (t) => {
  const { page } = web;
  await signInAs(page, stack.url, stack.deps, admin);
  await page.goto(`${stack.url}/tenants.html?id=${tenantId}`);
  // The page opened on one tenant shows its manage sections.
  const form = page.getByRole('form', { name: 'Release settings of web-fleet' });
  await form.getByLabel('Labels').fill('ring');
  await form.getByRole('button', { name: 'Save release settings' }).click();
  await form.getByText(/"ring" is not one/).waitFor();
  const stored = async () =>
    (await (await stack.fetch(`/api/v1/tenants/${tenantId}/release-settings`, { token: admin.token })).json()).settings;
  t.deepEqual(await stored(), {}, 'nothing stored for a malformed label');

  await form.getByLabel('Pinned to release').selectOption('web-v1');
  await form.getByLabel('Labels').fill('ring=early, region=eu');
  await form.getByRole('button', { name: 'Save release settings' }).click();
  await page.getByText('Pinned to web-v1; rollouts skip it.').waitFor();
  t.like(await stored(), { pin: 'web-v1', labels: { ring: 'early', region: 'eu' } });

  await form.getByLabel('Pinned to release').selectOption('');
  await form.getByLabel('Labels').fill('');
  await form.getByRole('button', { name: 'Save release settings' }).click();
  await page.getByText('Saved; rollouts reach it.').waitFor();
  t.falsy((await stored()).pin);
});
