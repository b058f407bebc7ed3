/**
 * Headless Chromium for the web page tests: one browser per test file
 * (Debian's Chromium driven by playwright-core, as DESIGN.md's checked facts
 * say), the page built first, and helpers to sign a user in and to save
 * screenshots under test-output/screenshots/.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { buildWeb } from '../scripts/build-web.ts';
import type { Deps } from '../shared/deps.ts';

export const CHROMIUM = '/usr/bin/chromium';
export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 375, height: 740 };
const screenshots = resolve(import.meta.dirname, '../test-output/screenshots');

export interface TestBrowser {
  browser: Browser;
  context: BrowserContext;
  page: Page;
  /** The URL of every event stream (text/event-stream answer) the pages opened so far, in order. */
  streams: string[];
  close(): Promise<void>;
}

/**
 * The streams a page opened through the Hosting origin (`hostingUrl`). Hosting
 * buffers its rewrites' answers, so in production such a stream would arrive
 * only when it ends: every page must open streams on the function's own URL.
 */
export function streamsThroughHosting(web: TestBrowser, hostingUrl: string): string[] {
  return web.streams.filter((url) => url.startsWith(`${hostingUrl}/`));
}

/** Builds the pages if their sources changed, then starts Chromium with one desktop-sized page. */
export async function startBrowser(): Promise<TestBrowser> {
  if (!existsSync(CHROMIUM)) throw new Error(`The web tests need Chromium at ${CHROMIUM}: apt-get install chromium.`);
  await buildWeb({ ifStale: true });
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-quic',
      '--no-first-run',
      '--disable-component-update',
      '--disable-sync',
    ],
    // No --user-data-dir: playwright refuses it here and gives every launch a fresh temporary profile itself.
  });
  const context = await browser.newContext({ viewport: DESKTOP });
  context.setDefaultTimeout(30_000);
  const page = await context.newPage();
  const streams: string[] = [];
  context.on('response', (res) => {
    if ((res.headers()['content-type'] ?? '').includes('text/event-stream')) streams.push(res.url());
  });
  return {
    browser,
    context,
    page,
    streams,
    async close() {
      await browser.close().catch(() => undefined);
    },
  };
}

/**
 * Signs the browser in as `uid` the way activation does: a custom token left in sessionStorage for the next page,
 * then a load that uses it; resolves once the header shows the user. A sign-in that does not take is reported
 * with what the page said and tried once more with a new token.
 */
export async function signInAs(page: Page, baseUrl: string, deps: Deps, user: { uid: string; email: string }): Promise<void> {
  const problems: string[] = [];
  const collect = (m: { type(): string; text(): string }) => m.type() === 'error' && problems.push(m.text());
  page.on('console', collect);
  try {
    for (let attempt = 1; ; attempt++) {
      const customToken = await (await deps.auth()).createCustomToken(user.uid);
      // The session is left from a file of the site that runs no script, then one page load uses it. Leaving it
      // from a page of the app and reloading cut that page's Firebase start-up short (its first IndexedDB open),
      // and under load the next page then never finished signing in.
      await page.goto(`${baseUrl}/favicon.svg`);
      await page.evaluate((session) => sessionStorage.setItem('tenantplane.session', JSON.stringify(session)), {
        uid: user.uid,
        email: user.email,
        customToken,
      });
      await page.goto(`${baseUrl}/index.html`);
      try {
        await page
          .locator('header')
          .getByText(user.email)
          .waitFor({ timeout: attempt === 1 ? 15_000 : 30_000 });
        return;
      } catch (error) {
        const said = await page
          .locator('body')
          .innerText()
          .catch(() => '');
        console.warn(
          `signInAs ${user.email}, attempt ${attempt}: the page did not show the user. It said: ${said.slice(0, 300)}; console errors: ${problems.join(' | ') || 'none'}`,
        );
        if (attempt === 2) throw error;
      }
    }
  } finally {
    page.off('console', collect);
  }
}

/** Saves a full-page screenshot at desktop and phone width, and checks the phone layout does not scroll sideways. */
export async function screenshotBothWidths(page: Page, name: string): Promise<{ phoneOverflow: number }> {
  mkdirSync(screenshots, { recursive: true });
  await page.screenshot({ path: join(screenshots, `${name}-desktop.png`), fullPage: true });
  await page.setViewportSize(PHONE);
  await page.screenshot({ path: join(screenshots, `${name}-phone.png`), fullPage: true });
  const phoneOverflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  await page.setViewportSize(DESKTOP);
  return { phoneOverflow };
}
