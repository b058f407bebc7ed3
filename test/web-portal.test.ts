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
import { seedTenants, seedUsers } from '../testing/portal-seed.ts';
import { axeAtBothWidths } from './axe.ts';
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

test.serial(
  'the tenants table searches, filters, sorts and pages on the server, keeps its view in the URL and works by keyboard',
  async (t) => {
    const { page } = web;
    // Owned by made-up users: the member's own tenant list must stay empty for the chat test below.
    const owners = [
      { uid: 'seed-owner-a', email: 'seed-owner-a@example.com' },
      { uid: 'seed-owner-b', email: 'seed-owner-b@example.com' },
    ];
    const seeded = await seedTenants(stack.deps.db, 60, 'shop', owners);
    await stack.deps.db.doc(`tenants/${seeded[4].id}/environments/live`).set({
      tenantId: seeded[4].id,
      env: 'live',
      status: 'failed',
      error: { code: 'not_ready', message: 'did not answer its health check' },
      updatedAt: new Date().toISOString(),
    });
    await page.goto(`${stack.url}/portal.html?tab=tenants`);
    const table = page.getByRole('table', { name: 'Tenants' });
    await page.getByText('60 in all').waitFor();
    t.is(await table.locator('tbody tr').count(), 25, 'one page of 25');

    await page.getByLabel('Search tenants').fill('shop-0001');
    await page.getByText('10 in all').waitFor();
    t.regex(page.url(), /q=shop-0001/);
    await page.getByLabel('Search tenants').fill('');
    await page.getByLabel('State').selectOption('failed');
    await page.getByText('10 in all').waitFor();
    t.true((await table.locator('tbody').innerText()).includes('failed'));
    t.regex(page.url(), /state=failed/);

    // A reload (or the link shared) shows the same view.
    await page.reload();
    await page.getByText('10 in all').waitFor();
    t.is(await page.getByLabel('State').inputValue(), 'failed');

    // Sorting by name, from the keyboard: the header's button, then Enter.
    await page.getByLabel('State').selectOption('');
    await page.getByText('60 in all').waitFor();
    const sortByName = page.getByRole('button', { name: /^Sort by Name/ });
    await sortByName.focus();
    await page.keyboard.press('Enter');
    await table.locator('th[aria-sort="ascending"]').waitFor();
    // shop-00000 is also first by the default sort (newest first): wait for the sorted page itself.
    await page.waitForFunction(() => !document.querySelector('table[aria-busy]'));
    await page.waitForFunction(() => document.querySelector('tbody tr a')?.textContent === 'shop-00000');
    // Next page by keyboard: Tab reaches it, Enter pages; rows continue where the first page ended.
    const next = page.getByRole('button', { name: 'Next page' });
    await next.focus();
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => document.querySelector('tbody tr a')?.textContent === 'shop-00025');
    t.regex(page.url(), /page=/);
    await page.getByRole('button', { name: 'Previous page' }).click();
    await page.waitForFunction(() => document.querySelector('tbody tr a')?.textContent === 'shop-00000');
    t.deepEqual(await axeAtBothWidths(page), [], 'axe finds nothing on the tenants table');
    t.true((await screenshotBothWidths(page, 'portal-tenants')).phoneOverflow <= 0);
  },
);

test.serial('the users table searches by email prefix and filters by role; the fleet and audit tabs pass axe too', async (t) => {
  const { page } = web;
  await seedUsers(await stack.deps.auth(), stack.deps.db, 40, `pt${Date.now().toString(36)}`);
  await page.goto(`${stack.url}/portal.html`);
  const table = page.getByRole('table', { name: 'Users' });
  await page.getByText('42 in all').waitFor();
  await page.getByLabel('Role', { exact: true }).selectOption('admin');
  await page.getByText('5 in all').waitFor(); // the seeded 4 (every tenth) and our admin
  await page.getByLabel('Search users').fill(member.email.slice(0, 8).toUpperCase());
  await page.getByLabel('Role', { exact: true }).selectOption('');
  await page.getByText('1 in all').waitFor();
  t.true((await table.innerText()).includes(member.email));
  t.deepEqual(await axeAtBothWidths(page), [], 'axe finds nothing on the users table');

  await page.getByRole('link', { name: 'Fleet' }).click();
  const failing = page.getByRole('region', { name: 'Failing now' });
  await failing.getByRole('link').first().waitFor();
  t.regex((await failing.getByRole('link').first().getAttribute('href')) ?? '', /^\/tenants\.html\?id=t-/);
  t.true(await page.locator('.recharts-surface').first().isVisible(), 'the charts are drawn');
  t.regex(await page.getByRole('region', { name: 'Tenants by state' }).innerText(), /Tenants by state/);
  t.deepEqual(await axeAtBothWidths(page, () => page.waitForTimeout(300)), [], 'axe finds nothing on the fleet overview');
  await screenshotBothWidths(page, 'portal-fleet');

  await page.getByRole('link', { name: 'Audit' }).click();
  const audit = page.getByRole('table', { name: 'Audit entries' });
  await audit.getByText('PATCH /api/v1/users/:uid').first().waitFor();
  await page.getByLabel('Actor').fill(admin.email);
  await page.getByLabel('Actor').press('Enter');
  await page.waitForURL(/actor=/);
  await audit.getByText('PATCH /api/v1/users/:uid').first().waitFor();
  t.deepEqual(await axeAtBothWidths(page), [], 'axe finds nothing on the audit trail');
  await screenshotBothWidths(page, 'portal-audit');
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
