/**
 * The pages' event stream across deadlines, in Chromium: with streams ending
 * every 1.5 s, the launch page reconnects on the api function's own URL with
 * Last-Event-ID each time and shows every step exactly once, in order.
 * Provisioning is held (a recording queue) so the test writes the steps itself,
 * spread over several deadlines.
 */
import test from 'ava';
import { recordEvent } from '../shared/store/tenants.ts';
import { readEvents } from '../testing/events.ts';
import { startTestStack, type TestStack } from '../testing/stack.ts';
import { createTestUser } from '../testing/users.ts';
import type { TenantEvent } from '../shared/tenants/types.ts';
import { RecordingQueue } from './signup-harness.ts';
import { signInAs, startBrowser, streamsThroughHosting, type TestBrowser } from './web-browser.ts';

let stack: TestStack;
let web: TestBrowser;
test.before(async () => {
  [stack, web] = await Promise.all([
    startTestStack({ tasks: false, deps: { queue: new RecordingQueue() }, env: { STREAM_DEADLINE_MS: '1500' } }),
    startBrowser(),
  ]);
});
test.after.always(async () => {
  await web?.close();
  await stack?.close();
});

const STEPS: Omit<TenantEvent, 'id' | 'at'>[] = [
  { type: 'provisioning_started', message: 'Provisioning started.' },
  { type: 'secrets_stored', message: 'Secrets stored.' },
  { type: 'infrastructure_ready', env: 'demo', message: 'Demo: infrastructure ready.' },
  { type: 'deploy_started', env: 'demo', message: 'Demo: deploy started.' },
  { type: 'environment_ready', env: 'demo', message: 'Demo: environment ready.' },
  { type: 'tenant_ready', message: 'Every environment is ready.' },
];

test('the launch page resumes its event stream after each deadline and shows every step once, in order', async (t) => {
  const { page } = web;
  const user = await createTestUser(stack.deps);
  const created = await stack.fetch('/api/v1/tenants', {
    method: 'POST',
    token: user.token,
    json: { name: 'deadlines', environments: ['demo'] },
  });
  t.is(created.status, 202);
  const id: string = (await created.json()).tenant.id;
  // Every request that follows the stream, with the Last-Event-ID it resumed after.
  const follows: (string | null)[] = [];
  page.on('request', (req) => {
    if (req.url() === `${stack.streamUrl}/api/v1/tenants/${id}/events`) follows.push(req.headers()['last-event-id'] ?? null);
  });
  await signInAs(page, stack.url, stack.deps, user);
  await page.goto(`${stack.url}/launch.html?tenant=${id}`);
  const log = page.getByRole('log', { name: 'Provisioning events' });
  await log.locator('li').first().waitFor();
  for (const step of STEPS) {
    await new Promise((r) => setTimeout(r, 900));
    await recordEvent(stack.deps.db, id, step, () => new Date());
  }
  await page.getByRole('heading', { name: 'deadlines is ready' }).waitFor({ timeout: 30_000 });

  const stored = await readEvents(stack.url, id, user.token);
  t.deepEqual(
    await log.locator('li > span').allInnerTexts(),
    stored.map((e) => e.message),
    'every step once, in order',
  );
  t.true(follows.length >= 3, `the stream was reopened after its deadlines (${follows.length} connections)`);
  const ids = stored.map((e) => e.id);
  for (const lastEventId of follows)
    t.true(lastEventId !== null && ids.includes(lastEventId), `resumed after a known event (${lastEventId})`);
  t.deepEqual([...follows].sort(), follows, 'never resumed from an earlier event than before');
  t.deepEqual(streamsThroughHosting(web, stack.url), []);
});
