/**
 * axe-core's automated accessibility checks in the browser tests: the
 * installed axe.min.js is evaluated in the page and `axe.run` checks the whole
 * document against WCAG 2.x A and AA rules, at desktop and at phone width.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Page } from 'playwright-core';
import { DESKTOP, PHONE } from './web-browser.ts';

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: string[];
}

/** Runs axe on the page as it is now; returns the violations, each with the selectors of its nodes. */
export async function axeViolations(page: Page): Promise<AxeViolation[]> {
  // The pages' CSP (script-src 'self') refuses an injected <script> (page.addScriptTag); evaluating the source
  // through the DevTools protocol is not subject to it.
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(`${axeSource}\n;true`);
  return page.evaluate(async () => {
    const axe = (
      window as unknown as { axe: { run: (ctx: Document, options: object) => Promise<{ violations: Array<Record<string, unknown>> }> } }
    ).axe;
    const result = await axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] },
    });
    return result.violations.map((v) => ({
      id: String(v.id),
      impact: (v.impact as string | null) ?? null,
      help: String(v.help),
      nodes: (v.nodes as Array<{ target: string[] }>).map((n) => n.target.join(' ')),
    }));
  });
}

/** The violations at desktop and at phone width (the viewport is put back to desktop), each named with its width. */
export async function axeBothWidths(page: Page, settle: () => Promise<void> = async () => {}): Promise<string[]> {
  const found: string[] = [];
  for (const [name, size] of [
    ['desktop', DESKTOP],
    ['phone', PHONE],
  ] as const) {
    await page.setViewportSize(size);
    await settle();
    for (const v of await axeViolations(page)) found.push(`${name}: ${v.id} (${v.impact}) ${v.help} — ${v.nodes.slice(0, 3).join(', ')}`);
  }
  await page.setViewportSize(DESKTOP);
  return found;
}
