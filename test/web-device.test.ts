/**
 * The device-code approval page in a real browser (R-UX-1): a signed-in user
 * opens the link `tenantplane login` prints, sees the code, and approves it;
 * the waiting poll then receives its one-time token.
 */
import test from 'ava';
import { startTestStack, type TestStack } from '../testing/stack.ts';
import { createTestUser } from '../testing/users.ts';
import { screenshotBothWidths, signInAs, startBrowser, type TestBrowser } from './web-browser.ts';

let stack: TestStack;
let web: TestBrowser;
test.before(async () => {
  stack = await startTestStack({ tasks: false });
  web = await startBrowser();
});
test.after.always(async () => {
  await web?.close();
  await stack?.close();
});

const post = (path: string, json: unknown) => stack.fetch(path, { method: 'POST', json });

test.serial('a signed-in user approves the code from the link the CLI shows, and the poll gets its token once', async (t) => {
  const user = await createTestUser(stack.deps);
  const start = await (await post('/api/v1/device/code', {})).json();
  const { page } = web;
  await signInAs(page, stack.url, stack.deps, user);
  await page.goto(start.verification_uri_complete.replace(/^https?:\/\/[^/]+/, stack.url));
  await page.getByRole('heading', { name: 'Approve a CLI sign-in' }).waitFor();
  t.is(await page.getByLabel('Code shown in your terminal').inputValue(), start.user_code);
  t.true((await page.textContent('main, body'))!.includes(user.email));
  await page.getByRole('button', { name: 'Approve' }).click();
  await page.getByText('The CLI is signed in').waitFor();
  await screenshotBothWidths(page, 'device-approved');

  const poll = await post('/api/v1/device/token', { device_code: start.device_code });
  t.is(poll.status, 200);
  t.is((await poll.json()).uid, user.uid);
});

test.serial('a wrong code is refused on the page with a message, and Deny denies the right one', async (t) => {
  const start = await (await post('/api/v1/device/code', {})).json();
  const { page } = web;
  await page.goto(`${stack.url}/device.html?code=BBBB-BBBB`);
  await page.getByRole('button', { name: 'Approve' }).click();
  await page.getByRole('alert').waitFor();
  t.regex((await page.getByRole('alert').textContent())!, /No sign-in is waiting for this code/);
  await page.getByLabel('Code shown in your terminal').fill(start.user_code.replace('-', '').toLowerCase());
  await page.getByRole('button', { name: 'Deny' }).click();
  await page.getByText('Sign-in denied').waitFor();
  const poll = await post('/api/v1/device/token', { device_code: start.device_code });
  t.is(poll.status, 403);
  t.is((await poll.json()).error.details.error, 'access_denied');
});
