/**
 * axe-core's automated accessibility checks in the page tests: the installed
 * `axe-core/axe.min.js` is loaded into the page and `axe.run` checks the
 * whole document (WCAG 2.0/2.1 A and AA rules and axe's best practices).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Page } from 'playwright-core';
import { DESKTOP, PHONE } from './web-browser.ts';

const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');
let axeSource: string | undefined;

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: string[]; failureSummary?: string }[];
}

/** Runs axe on the page as it is now; each violation as one readable line. */
export async function axeViolations(page: Page): Promise<string[]> {
  // Colors are judged as they settle: a button still in its 150 ms color transition (just pressed, or leaving
  // hover) measured a contrast no one sees once it ends. Endless animations (a spinner) are not waited for.
  await page
    .waitForFunction(
      () =>
        document.getAnimations().every((a) => a.playState !== 'running' || a.effect?.getTiming().iterations === Number.POSITIVE_INFINITY),
      undefined,
      { timeout: 5_000 },
    )
    .catch(() => undefined);
  // The pages' Content-Security-Policy (script-src 'self') refuses an injected <script>, as it should; code
  // evaluated through the DevTools protocol is not subject to it, so axe is evaluated into the page instead.
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate((axeSource ??= readFileSync(AXE, 'utf8')));
  const violations = (await page.evaluate(async () => {
    const result = await (
      window as unknown as { axe: { run: (ctx: unknown, opts: unknown) => Promise<{ violations: unknown[] }> } }
    ).axe.run(document, { resultTypes: ['violations'] });
    return result.violations;
  })) as AxeViolation[];
  return violations.map(
    (v) =>
      `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => `${n.target.join(' ')}: ${n.failureSummary ?? ''}`.replace(/\s+/g, ' ')).join(' | ')}`,
  );
}

/** axe at desktop and at phone width (the page re-laid out in between); returns the violations labelled by width. */
export async function axeAtBothWidths(page: Page, settle?: () => Promise<void>): Promise<string[]> {
  const found: string[] = [];
  for (const [label, size] of [
    ['desktop', DESKTOP],
    ['phone', PHONE],
  ] as const) {
    await page.setViewportSize(size);
    await settle?.();
    for (const v of await axeViolations(page)) found.push(`${label}: ${v}`);
  }
  await page.setViewportSize(DESKTOP);
  return found;
}
