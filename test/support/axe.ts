/** axe-core in the dashboard's browser tests: injected into a page, its serious and critical WCAG 2.1 AA findings. */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Page } from 'playwright-core';

/** The script to inject (`page.addScriptTag({ content: AXE })`, in a context with `bypassCSP`: the app's CSP refuses it). */
export const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

type AxeViolations = { id: string; impact: string; nodes: { target: string[] }[] }[];

/** axe-core's serious and critical WCAG 2.1 AA findings on the page (axe must be injected first). */
export function seriousViolations(page: Page): Promise<string[]> {
  return page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run(context: Document, options: object): Promise<{ violations: AxeViolations }> } }).axe;
    // resultTypes: only the violations are read, so axe need not gather every passing node (its documented way to run faster).
    const result = await axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
      resultTypes: ['violations'],
    });
    return result.violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map(
        (v) =>
          `${v.id}: ${v.nodes
            .slice(0, 3)
            .map((n) => n.target.join(' '))
            .join(', ')}`,
      );
  });
}
