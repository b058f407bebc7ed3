/**
 * My tenants as people use it (issue #22), in a real Chromium against the real
 * local stack: the cost and metrics charts draw real data points (metrics the
 * local runtime measured on the tenant's process, costs written by the
 * billing aggregation's own writer), the logs follow live over the log stream
 * (a line the workload writes after the stream opened appears) and wrap at
 * phone width, the page passes axe at both widths, and its main actions work
 * from the keyboard alone.
 */
import test from 'ava';
import { writeDay } from '../shared/billing/aggregate.ts';
import { recordMetricsSamples } from '../shared/tenants/metrics-history.ts';
import { waitForEvent } from '../testing/events.ts';
import { startTestStack, type TestStack } from '../testing/stack.ts';
import { createTestUser, type TestUser } from '../testing/users.ts';
import { axeAtBothWidths } from './axe.ts';
import { DESKTOP, PHONE, screenshotBothWidths, signInAs, startBrowser, streamsThroughHosting, type TestBrowser } from './web-browser.ts';

let stack: TestStack;
let web: TestBrowser;
let owner: TestUser;
let tenantId: string;
let liveUrl: string;
test.before(async () => {
  [stack, web] = await Promise.all([startTestStack(), startBrowser()]);
  owner = await createTestUser(stack.deps);
  const res = await stack.fetch('/api/v1/tenants', {
    method: 'POST',
    token: owner.token,
    json: { name: 'charts', environments: ['demo', 'live'] },
  });
  tenantId = (await res.json()).tenant.id;
  await waitForEvent(stack.streamUrl, tenantId, owner.token, ['tenant_ready'], 90_000);
  const tenant = await (await stack.fetch(`/api/v1/tenants/${tenantId}`, { token: owner.token })).json();
  liveUrl = tenant.tenant.urls.live;

  // History: three minutes of the live environment's real metrics (the driver measures its process each time),
  // with requests in between so the request rate moves; and three days of costs through the aggregation's writer.
  const driver = stack.deps.runtime();
  const ref = { ownerId: owner.uid, tenantId, env: 'live' as const };
  const now = Date.now();
  for (let i = 3; i >= 1; i--) {
    for (let n = 0; n < 4 * i; n++) await fetch(`${liveUrl}/`).then((r) => r.arrayBuffer());
    const metrics = await driver.metrics!(ref);
    await recordMetricsSamples(
      stack.deps.db,
      tenantId,
      { live: { ...metrics, sampledAt: new Date(now - i * 60_000).toISOString() } },
      new Date(now - i * 60_000),
    );
  }
  for (let d = 3; d >= 1; d--) {
    const day = new Date(now - d * 86_400_000).toISOString().slice(0, 10);
    const services = new Map([
      ['compute', 0.01 * d],
      ['storage', 0.002],
    ]);
    await writeDay(
      { db: stack.deps.db, now: () => new Date() },
      day,
      { currency: 'USD', tenants: new Map([[tenantId, { total: 0.01 * d + 0.002, services }]]), rows: 2 },
      'metered',
    );
  }
});
test.after.always(async () => {
  if (tenantId) {
    await stack.fetch(`/api/v1/tenants/${tenantId}`, { method: 'DELETE', token: owner.token });
    await waitForEvent(stack.streamUrl, tenantId, owner.token, ['tenant_deleted'], 60_000).catch(() => undefined);
  }
  await web?.close();
  await stack?.close();
});
test.afterEach('no page opened a stream through Hosting, which would deliver it only at its end', (t) => {
  t.deepEqual(streamsThroughHosting(web, stack.url), []);
});

const card = () => web.page.getByRole('article').filter({ hasText: 'charts' });

test.serial('cost and metrics history are charts with real data points', async (t) => {
  const { page } = web;
  await signInAs(page, stack.url, stack.deps, owner);
  await page.goto(`${stack.url}/tenants.html?id=${tenantId}`);
  const costs = page.locator('figure[data-chart="Cost per day"]');
  await costs.waitFor();
  t.is(await costs.getAttribute('data-points'), '3');
  // Stacked bars: one rectangle per service per day.
  await page.waitForFunction(() => document.querySelectorAll('figure[data-chart="Cost per day"] .recharts-bar-rectangle path').length >= 6);
  const memory = page.locator('figure[data-chart="Memory (MB), Live"]');
  await memory.waitFor();
  t.true(Number(await memory.getAttribute('data-points')) >= 3, 'three seeded minutes (and the one the page recorded)');
  t.true((await memory.locator('.recharts-line-dots circle, .recharts-dot').count()) >= 3);
  const requests = page.locator('figure[data-chart="Requests per minute, Live"]');
  t.true(Number(await requests.getAttribute('data-points')) >= 2, 'a rate needs two samples: one point fewer');
  t.regex((await memory.locator('div[role="img"]').getAttribute('aria-label')) ?? '', /^Memory \(MB\), Live: \d\d:\d\d \d/);
  await page.locator('figure[data-chart="CPU (% of a core), Live"]').waitFor();
  await screenshotBothWidths(page, 'tenants-charts');
});

test.serial(
  'the logs follow live: a line the workload writes after the stream opened appears, and long lines wrap at phone width',
  async (t) => {
    const { page } = web;
    const logs = page.getByRole('region', { name: 'Log lines of Live' });
    await page.getByText('Following: new lines appear as they are written.').waitFor();
    t.true(
      web.streams.some((u) => u.includes(`/api/v1/tenants/${tenantId}/logs/stream`)),
      'the panel holds the log stream open',
    );
    const probe = `/probe-${'x'.repeat(180)}-${Date.now()}`;
    await fetch(`${liveUrl}${probe}`).then((r) => r.arrayBuffer());
    await logs.getByText(probe, { exact: false }).waitFor({ timeout: 30_000 });
    await page.setViewportSize(PHONE);
    // The charts lay themselves out again after a resize (recharts watches its container), so the page is measured
    // once that has happened: the first measure with nothing past the edge, or the last of 5 s of tries.
    const measure = () =>
      page.evaluate(() => {
        const box = document.querySelector('[aria-label="Log lines of Live"]') as HTMLElement;
        // The deepest elements past the right edge, named, so a failure says what overflows.
        const wide = [...document.querySelectorAll('body *')]
          .filter(
            (e) =>
              e.getBoundingClientRect().right > window.innerWidth + 1 &&
              ![...e.children].some((c) => c.getBoundingClientRect().right > window.innerWidth + 1),
          )
          .slice(0, 3)
          .map((e) => `${e.tagName.toLowerCase()}.${e.className} "${(e.textContent ?? '').slice(0, 40)}"`);
        return { page: document.documentElement.scrollWidth - window.innerWidth, box: box.scrollWidth - box.clientWidth, wide };
      });
    let overflow = await measure();
    for (let i = 0; i < 25 && (overflow.page > 0 || overflow.box > 0); i++) {
      await page.waitForTimeout(200);
      overflow = await measure();
    }
    await page.setViewportSize(DESKTOP);
    t.deepEqual(
      { page: overflow.page, box: overflow.box },
      { page: 0, box: 0 },
      `nothing runs off the right edge: ${overflow.wide.join('; ')}`,
    );
    // Follow off: the panel stops streaming and offers a refresh.
    await page.getByRole('checkbox', { name: 'Follow' }).uncheck();
    await page.getByRole('button', { name: 'Refresh logs' }).waitFor();
    await page.getByText('Not following').waitFor();
  },
);

test.serial('My tenants passes axe at desktop and phone widths, opened with its charts and logs', async (t) => {
  const { page } = web;
  await page.getByRole('checkbox', { name: 'Follow' }).check();
  await page.locator('figure[data-chart="Memory (MB), Live"]').waitFor();
  t.deepEqual(await axeAtBothWidths(page, () => page.waitForTimeout(300)), []);
});

test.serial('My tenants works from the keyboard: open a tenant, change the metrics environment, toggle Follow, close it', async (t) => {
  const { page } = web;
  await page.goto(`${stack.url}/tenants.html`);
  const manage = card().getByRole('button', { name: 'Manage' });
  await manage.waitFor();
  // Tab until the Manage button has the focus, then press Enter: no pointer anywhere.
  await tabTo(page, async () => (await manage.evaluate((el) => el === document.activeElement)) === true);
  await page.keyboard.press('Enter');
  await page.locator('figure[data-chart="Memory (MB), Live"]').waitFor();
  const metricsEnv = page.getByLabel('Metrics environment');
  await tabTo(page, async () => (await metricsEnv.evaluate((el) => el === document.activeElement)) === true);
  await page.keyboard.press('ArrowUp');
  await page.locator('figure[data-chart="Memory (MB), Demo"], p:has-text("No samples of Demo yet.")').first().waitFor();
  const follow = page.getByRole('checkbox', { name: 'Follow' });
  await tabTo(page, async () => (await follow.evaluate((el) => el === document.activeElement)) === true);
  await page.keyboard.press('Space');
  t.false(await follow.isChecked());
  await page.getByRole('button', { name: 'Refresh logs' }).waitFor();
  const close = card().getByRole('button', { name: 'Close' });
  await tabTo(page, async () => (await close.evaluate((el) => el === document.activeElement)) === true, 'Shift+Tab');
  await page.keyboard.press('Enter');
  await card().getByRole('button', { name: 'Manage' }).waitFor();
  t.is(await page.locator(`#manage-${tenantId}`).count(), 0);
});

/** Presses Tab (or Shift+Tab) until `focused()` holds; at most 80 presses. */
async function tabTo(page: TestBrowser['page'], focused: () => Promise<boolean>, key = 'Tab'): Promise<void> {
  for (let i = 0; i < 80; i++) {
    if (await focused()) return;
    await page.keyboard.press(key);
  }
  throw new Error(`The element never got the focus with ${key}.`);
}
