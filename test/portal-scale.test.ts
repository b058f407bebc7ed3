/**
 * The portal stays usable at 10,000 users and 10,000 tenants (issue #22):
 * seeded through the Auth emulator's batch import and Firestore batches, then
 * the admin list calls and the portal's tabs in headless Chromium are timed
 * (bench/portal.ts's measurement) and printed. The checks are about
 * correctness (totals, one page of rows, search and filters narrow) with
 * deadlines generous enough for a loaded machine; the figures are for reading
 * (and `npm run bench portal` compares them with a bare Firestore query).
 */
import test from 'ava';
import { measurePortal, seedPortal } from '../bench/portal.ts';
import { startTestStack, type TestStack } from '../testing/stack.ts';
import { createTestUser, type TestUser } from '../testing/users.ts';
import { startBrowser, type TestBrowser } from './web-browser.ts';

const USERS = 10_000;
const TENANTS = 10_000;
let stack: TestStack;
let web: TestBrowser;
let admin: TestUser;
const prefix = `ps${Date.now().toString(36)}`;

test.before(async () => {
  [stack, web] = await Promise.all([startTestStack({ tasks: false }), startBrowser()]);
  admin = await createTestUser(stack.deps, { role: 'admin' });
});
test.after.always(async () => {
  await web?.close();
  await stack?.close();
});

test.serial('10,000 users and 10,000 tenants: the list calls and the portal tables answer with one page and the totals', async (t) => {
  t.timeout(15 * 60_000);
  const seedSeconds = await seedPortal(stack, USERS, TENANTS, prefix);
  const f = await measurePortal(stack, admin, web.page, { requests: 5, pageLoads: 2, prefix });
  const p50 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)].toFixed(0);
  const figures = [
    `seeded ${USERS} users and ${TENANTS} tenants in ${seedSeconds.toFixed(1)} s`,
    `GET /api/v1/users?pageSize=25 p50 ${p50(f.usersApi)} ms (bare Firestore page ${p50(f.bareUsersPage)} ms)`,
    `GET /api/v1/users (search + role) p50 ${p50(f.usersSearchApi)} ms`,
    `GET /api/v1/tenants?pageSize=25 p50 ${p50(f.tenantsApi)} ms (bare Firestore page ${p50(f.bareTenantsPage)} ms)`,
    `GET /api/v1/tenants (state + plan, by name) p50 ${p50(f.tenantsFilteredApi)} ms`,
    `portal Users tab until its count shows p50 ${p50(f.usersPageMs)} ms; Tenants tab ${p50(f.tenantsPageMs)} ms`,
  ];
  for (const line of figures) console.log(`  portal at scale: ${line}`);
  t.is(f.usersTotal, USERS + 1, 'the seeded users and our admin');
  t.is(f.tenantsTotal, TENANTS, 'no seeded tenant is deleted, so every one is listed');
  // Generous: a page must not take anything like the time of reading everything on a loaded 2-core machine.
  for (const xs of [f.usersApi, f.tenantsApi, f.usersPageMs, f.tenantsPageMs]) t.true(Math.min(...xs) < 30_000);
  const table = web.page.getByRole('table', { name: 'Tenants' });
  t.is(await table.locator('tbody tr').count(), 25);
});
