/**
 * The operator portal and the chat in a real browser against the real local
 * stack: an admin changes a user's role and runs that user's project
 * (activate, a streamed /messages reply, deactivate); a tenant user is kept
 * out of the portal and drives the chat, confirming a deletion with its button.
 */
import test from 'ava';
import { functionHandlers } from '../functions/registry.ts';
import { startTestStack, type TestStack } from '../testing/stack.ts';
import { readEvents } from '../testing/events.ts';
import { createTestUser, idTokenFor, type TestUser } from '../testing/users.ts';
import { screenshotBothWidths, signInAs, startBrowser, streamsThroughHosting, type TestBrowser } from './web-browser.ts';

let stack: TestStack;
let web: TestBrowser;
let admin: TestUser;
let member: TestUser;
test.before(async () => {
  [stack, web] = await Promise.all([startTestStack(), startBrowser()]);
  [admin, member] = await Promise.all([createTestUser(stack.deps, { role: 'admin' }), createTestUser(stack.deps)]);
});
test.after.always(async () => {
  await web?.close();
  await stack?.close();
});
test.afterEach('no page opened a stream through Hosting, which would deliver it only at its end', (t) => {
  t.deepEqual(streamsThroughHosting(web, stack.url), []);
  web.streams.length = 0;
});

// Portal (admin)

test.serial("an admin changes a user's role in the portal and the claim changes in Auth", async (t) => {
  const { page } = web;
  await signInAs(page, stack.url, stack.deps, admin);
  await page.goto(`${stack.url}/portal.html`);
  await page.getByRole('heading', { name: 'Portal' }).waitFor();
  const role = page.getByLabel(`Role of ${member.email}`, { exact: true });
  await role.selectOption('admin');
  await page.getByRole('button', { name: `Save role of ${member.email}` }).click();
  await page.getByText(`Saved: ${member.email} is now admin`).waitFor();
  const auth = await stack.deps.auth();
  t.is((await auth.getUser(member.uid)).customClaims?.role, 'admin');
  await role.selectOption('tenant');
  await page.getByRole('button', { name: `Save role of ${member.email}` }).click();
  await page.getByText(`Saved: ${member.email} is now tenant`).waitFor();
  t.is((await auth.getUser(member.uid)).customClaims?.role, 'tenant');
});

test.serial("an admin activates a user's project, talks to its agent as the answer streams in, and deactivates it", async (t) => {
  const { page } = web;
  await page.getByRole('button', { name: `Projects of ${member.email}` }).click();
  const panel = page.getByRole('region', { name: `Projects of ${member.email}` });
  await panel.getByText('No projects yet.').waitFor();
  await panel.getByLabel('New project name').fill('Support agent');
  await panel.getByRole('button', { name: 'Create project' }).click();
  const row = panel.getByRole('listitem').filter({ hasText: 'Support agent' });
  await row.getByText('Inactive').waitFor();
  await row.getByRole('button', { name: 'Activate' }).click();
  await row.getByText('Active', { exact: true }).waitFor({ timeout: 90_000 });
  await row.getByRole('button', { name: 'Console' }).click();
  await row.getByLabel("Message to Support agent's agent").fill('hello from the portal');
  await row.getByRole('button', { name: 'Send' }).click();
  const reply = row.getByRole('log', { name: 'Agent reply' });
  await row.getByText('Reply complete.').waitFor();
  t.regex(await reply.innerText(), /You said: hello from the portal/);
  t.true(
    web.streams.some((url) => url.startsWith(stack.streamUrl) && url.endsWith('/messages')),
    "the reply streamed from the api function's own URL",
  );
  t.true((await screenshotBothWidths(page, 'portal')).phoneOverflow <= 0);
  await row.getByRole('button', { name: 'Deactivate' }).click();
  await row.getByText('Inactive').waitFor({ timeout: 60_000 });
  t.pass();
});

test.serial('a tenant user is told the portal is for admins only', async (t) => {
  const { page } = web;
  await signInAs(page, stack.url, stack.deps, member);
  await page.goto(`${stack.url}/portal.html`);
  await page.getByText('Admins only').waitFor();
  t.false(await page.getByRole('link', { name: 'Portal' }).isVisible(), 'the navigation offers no portal to tenants');
});

// Chat

const chatTest = 'chat' in functionHandlers ? test.serial : test.serial.skip;

chatTest('the chat creates a site from plain words and deletes it, each only after the confirmation button', async (t) => {
  const { page } = web;
  await page.goto(`${stack.url}/chat.html`);
  const message = page.getByLabel('Message');
  await message.fill('create a site called webby');
  await page.getByRole('button', { name: 'Send' }).click();
  const log = page.getByRole('log', { name: 'Conversation' });
  // Creating changes state, so it asks first too; nothing exists until the button is pressed.
  const createConfirm = log.getByRole('button', { name: 'Confirm' });
  await createConfirm.waitFor();
  t.regex(await log.innerText(), /webby/);
  // The role changes above revoked the member's earlier tokens.
  const token = await idTokenFor(stack.deps, member.uid);
  t.deepEqual((await (await stack.fetch('/api/v1/tenants', { token })).json()).tenants, [], 'nothing is created before the confirmation');
  await createConfirm.click();
  // The Send button may not have turned busy yet when looked at: wait for the tenant itself.
  const listed = async () => (await (await stack.fetch('/api/v1/tenants', { token })).json()).tenants as { id: string; name: string }[];
  let tenants = await listed();
  for (const deadline = Date.now() + 30_000; tenants.length === 0 && Date.now() < deadline; tenants = await listed())
    await page.waitForTimeout(200);
  t.deepEqual(
    tenants.map((x) => x.name),
    ['webby'],
  );
  await log.getByText('Confirmed.').first().waitFor();

  await message.fill('delete webby');
  await page.getByRole('button', { name: 'Send' }).click();
  const confirm = log.getByRole('button', { name: 'Confirm' }).last();
  await log
    .getByText(/Delete webby/)
    .first()
    .waitFor();
  const before = await (await stack.fetch(`/api/v1/tenants/${tenants[0].id}`, { token })).json();
  // Not "anything but deleting": deleted would pass that too. The site is as created, and no deletion was asked for.
  t.true(['provisioning', 'ready'].includes(before.tenant.state), `nothing is deleted before the confirmation (${before.tenant.state})`);
  t.false(
    (await readEvents(stack.url, tenants[0].id, token)).some((e) => e.type === 'delete_requested'),
    'no deletion was requested',
  );
  t.true((await screenshotBothWidths(page, 'chat')).phoneOverflow <= 0);
  await confirm.click();
  await log.getByText('Confirmed.').nth(1).waitFor();
  await page.getByRole('button', { name: 'Send' }).and(page.locator(':not([aria-busy])')).waitFor();
  const after = await (await stack.fetch(`/api/v1/tenants/${tenants[0].id}`, { token })).json();
  t.true(['deleting', 'deleted'].includes(after.tenant.state));
  t.false((await log.innerText()).includes('{"error"'), 'errors, if any, are shown in words');
});
