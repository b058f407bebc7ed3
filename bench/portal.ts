/**
 * The portal at scale (issue #22): 10,000 users and 10,000 tenants seeded
 * (Auth emulator batch import, Firestore batches), then
 * - the admin list calls (`GET /api/v1/users`, `GET /api/v1/tenants`, a page
 *   of 25 with the total, as the portal asks), unfiltered and searched/filtered,
 *   against a baseline in the same run: the bare Firestore page query of the
 *   same size, read directly;
 * - the portal page in headless Chromium: from navigation until the table
 *   shows its count (`portalUsersPageMs`, `portalTenantsPageMs`).
 * test/portal-scale.test.ts runs the same measurement with generous checks.
 *
 * Run directly: `npx tsx bench/portal.ts [users] [tenants] [requests]`.
 */
import type { Page } from 'playwright-core';
import { seedTenants, seedUsers } from '../testing/portal-seed.ts';
import type { TestStack } from '../testing/stack.ts';
import { createTestUser, type TestUser } from '../testing/users.ts';
import { signInAs, startBrowser } from '../test/web-browser.ts';
import { ensureEmulators, startBenchPlatform } from './lib/platform.ts';
import type { BenchReport } from './lib/report.ts';
import { summarize, timeMs } from './lib/stats.ts';

export interface PortalFigures {
  seedSeconds: number;
  usersApi: number[];
  usersSearchApi: number[];
  tenantsApi: number[];
  tenantsFilteredApi: number[];
  bareUsersPage: number[];
  bareTenantsPage: number[];
  usersPageMs: number[];
  tenantsPageMs: number[];
  usersTotal: number;
  tenantsTotal: number;
}

const ok = async (res: Response, what: string) => {
  if (res.status !== 200) throw new Error(`${what} answered ${res.status}: ${await res.text()}`);
  return res.json() as Promise<{ total: number }>;
};

/** Seeds the users and tenants (prefix keeps them apart from others on a shared Auth emulator). */
export async function seedPortal(stack: TestStack, users: number, tenants: number, prefix: string): Promise<number> {
  const started = performance.now();
  const seeded = await seedUsers(await stack.deps.auth(), stack.deps.db, users, prefix);
  await seedTenants(stack.deps.db, tenants, prefix, seeded);
  return (performance.now() - started) / 1000;
}

/** `requests` rounds of each API call and its bare baseline, interleaved; then `pageLoads` loads of each portal tab. */
export async function measurePortal(
  stack: TestStack,
  admin: TestUser,
  page: Page,
  options: { requests: number; pageLoads: number; prefix: string },
): Promise<Omit<PortalFigures, 'seedSeconds'>> {
  const f: Omit<PortalFigures, 'seedSeconds'> = {
    usersApi: [],
    usersSearchApi: [],
    tenantsApi: [],
    tenantsFilteredApi: [],
    bareUsersPage: [],
    bareTenantsPage: [],
    usersPageMs: [],
    tenantsPageMs: [],
    usersTotal: 0,
    tenantsTotal: 0,
  };
  const get = (path: string) => stack.fetch(path, { token: admin.token });
  const db = stack.deps.db;
  for (let i = 0; i < options.requests; i++) {
    f.usersApi.push(await timeMs(async () => (f.usersTotal = (await ok(await get('/api/v1/users?pageSize=25'), 'users')).total)));
    f.usersSearchApi.push(
      await timeMs(() => get(`/api/v1/users?pageSize=25&q=${options.prefix}-01&role=tenant`).then((r) => ok(r, 'users search'))),
    );
    f.tenantsApi.push(await timeMs(async () => (f.tenantsTotal = (await ok(await get('/api/v1/tenants?pageSize=25'), 'tenants')).total)));
    f.tenantsFilteredApi.push(
      await timeMs(() => get('/api/v1/tenants?pageSize=25&state=ready&plan=pro&sort=name').then((r) => ok(r, 'tenants filtered'))),
    );
    f.bareUsersPage.push(await timeMs(() => db.collection('users').orderBy('emailLower').limit(26).get()));
    f.bareTenantsPage.push(await timeMs(() => db.collection('tenants').orderBy('createdAt', 'desc').limit(26).get()));
  }
  await signInAs(page, stack.url, stack.deps, admin);
  const total = (n: number) => `${n.toLocaleString('en-US')} in all`;
  for (let i = 0; i < options.pageLoads; i++) {
    f.usersPageMs.push(
      await timeMs(async () => {
        await page.goto(`${stack.url}/portal.html?tab=users`);
        await page.getByText(total(f.usersTotal)).waitFor({ timeout: 120_000 });
      }),
    );
    f.tenantsPageMs.push(
      await timeMs(async () => {
        await page.goto(`${stack.url}/portal.html?tab=tenants`);
        await page.getByText(total(f.tenantsTotal)).waitFor({ timeout: 120_000 });
      }),
    );
  }
  return f;
}

export async function benchPortal(
  opts: { users?: number; tenants?: number; requests?: number; pageLoads?: number } = {},
): Promise<BenchReport> {
  const users = opts.users ?? 10_000;
  const tenants = opts.tenants ?? 10_000;
  const requests = opts.requests ?? 20;
  const stopEmulators = await ensureEmulators();
  const platform = await startBenchPlatform();
  const web = await startBrowser();
  try {
    const { stack } = platform;
    const admin = await createTestUser(stack.deps, { role: 'admin' });
    const prefix = `bp${Date.now().toString(36)}`;
    const seedSeconds = await seedPortal(stack, users, tenants, prefix);
    const f = await measurePortal(stack, admin, web.page, { requests, pageLoads: opts.pageLoads ?? 5, prefix });
    const s = (xs: number[]) => summarize(xs).p50;
    return {
      name: `portal (${users} users, ${tenants} tenants)`,
      figures: {
        portalUsersApiP50: { value: s(f.usersApi), unit: 'ms', baseline: s(f.bareUsersPage), baselineLabel: 'bare Firestore page query' },
        portalUsersSearchApiP50: {
          value: s(f.usersSearchApi),
          unit: 'ms',
          baseline: s(f.bareUsersPage),
          baselineLabel: 'bare Firestore page query',
        },
        portalTenantsApiP50: {
          value: s(f.tenantsApi),
          unit: 'ms',
          baseline: s(f.bareTenantsPage),
          baselineLabel: 'bare Firestore page query',
        },
        portalTenantsFilteredApiP50: {
          value: s(f.tenantsFilteredApi),
          unit: 'ms',
          baseline: s(f.bareTenantsPage),
          baselineLabel: 'bare Firestore page query',
        },
        portalUsersPageMs: { value: s(f.usersPageMs), unit: 'ms' },
        portalTenantsPageMs: { value: s(f.tenantsPageMs), unit: 'ms' },
        portalSeedSeconds: { value: seedSeconds, unit: 's' },
      },
      notes: [
        `${requests} calls of each kind, one at a time, each with its total count; a page is 25 rows`,
        'page figures: navigation until the table shows its count, signed in, pages built and cached by the browser',
      ],
    };
  } finally {
    await web.close();
    await platform.close();
    await stopEmulators();
  }
}

if (process.argv[1] && import.meta.url === `file://${process.argv[1]}`) {
  const { formatTable } = await import('./lib/report.ts');
  const report = await benchPortal({
    users: process.argv[2] ? Number(process.argv[2]) : undefined,
    tenants: process.argv[3] ? Number(process.argv[3]) : undefined,
    requests: process.argv[4] ? Number(process.argv[4]) : undefined,
  });
  console.log(formatTable([report]));
  process.exit(0);
}
