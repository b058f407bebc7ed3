/**
 * Tenant data on My tenants in a real browser (issue 21): a deleted tenant in
 * its grace period is listed with the date its data goes and a Restore button,
 * which brings it back running with its data; backups are made, listed and
 * restored (after a confirmation naming what is replaced); an export downloads
 * as a .tar.gz holding the database dump.
 */
import test from 'ava';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { x as extract } from 'tar';
import { startTestStack, type TestStack } from '../testing/stack.ts';
import { waitForEvent } from '../testing/events.ts';
import { createTestUser, type TestUser } from '../testing/users.ts';
import { signInAs, startBrowser, streamsThroughHosting, type TestBrowser } from './web-browser.ts';

let stack: TestStack;
let web: TestBrowser;
let owner: TestUser;
let tenantId = '';
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
  tenantId = tenant.id;
});

test.serial('backups are made, listed and restored after a confirmation, and an export downloads with the database dump', async (t) => {
  t.truthy(tenantId, 'needs the restored tenant of the test before');
  const { page } = web;
  const live = (await (await stack.fetch(`/api/v1/tenants/${tenantId}`, { token: owner.token })).json()).tenant.urls.live;
  await page.goto(`${stack.url}/tenants.html?id=${tenantId}`);
  const data = page.getByRole('region', { name: 'Data: backups and export' });
  await data.getByText('No backups yet').waitFor();
  await data.getByRole('button', { name: 'Back up now' }).click();
  const list = data.getByRole('list', { name: 'Backups of lazarus' });
  const restoreButton = list.getByRole('button', { name: /^Restore Live from backup / });
  await restoreButton.waitFor({ timeout: 90_000 });

  // After the backup (2 visits) the counter moves on; the restore takes it back.
  t.deepEqual(await (await fetch(`${live}/data/visits`, { method: 'POST' })).json(), { visits: 3 });
  await restoreButton.click();
  const dialog = page.getByRole('dialog', { name: 'Restore Live from this backup?' });
  await dialog.getByText(/Every change to the live database since/).waitFor();
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  await dialog.waitFor({ state: 'hidden' });
  t.deepEqual(await (await fetch(`${live}/data/visits`, { method: 'POST' })).json(), { visits: 4 }, 'cancel changes nothing');
  await restoreButton.click();
  await dialog.getByRole('button', { name: "Replace Live's data" }).click();
  await data.getByText(/was restored from backup/).waitFor({ timeout: 90_000 });
  const after = (await (await stack.fetch(`/api/v1/tenants/${tenantId}`, { token: owner.token })).json()).tenant.urls.live;
  t.deepEqual(
    await (await fetch(`${after}/data/visits`, { method: 'POST' })).json(),
    { visits: 3 },
    'back to the 2 visits of the backup, plus this one',
  );

  await data.getByRole('button', { name: 'Export data' }).click();
  const link = data.getByRole('link', { name: /^Download lazarus-all-x\d{14}-[0-9a-f]{4}\.tar\.gz$/ });
  await link.waitFor({ timeout: 90_000 });
  const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
  const dir = mkdtempSync(join(tmpdir(), 'tp-web-export-'));
  try {
    const file = join(dir, 'export.tar.gz');
    await download.saveAs(file);
    await extract({ file, cwd: dir });
    t.regex(readFileSync(join(dir, 'live', 'database.sql'), 'utf8'), /COPY public\.app_visits/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
