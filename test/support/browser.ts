/**
 * The dashboard's browser tests: Debian's Chromium driven through playwright-core (never a
 * downloaded browser), shared by the run's files (shared-browser.ts), against a real `gantry up`
 * (`startGantryUp` in server.ts).
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { inject } from 'vitest';
import { CHROMIUM, connectChromium, launchChromium } from './chromium.ts';
import { requirement } from './requirements.ts';
import type { GantryUp } from './server.ts';

export { CHROMIUM };
const SCREENSHOTS = fileURLToPath(new URL('../../docs/screenshots/', import.meta.url));

/** True when Chromium is installed (else the test is skipped, or fails under GANTRY_REQUIRE_ALL). */
export function browserAvailable(): boolean {
  return requirement('Chromium (/usr/bin/chromium)', existsSync(CHROMIUM));
}

/**
 * A browser for one test file: a connection to the run's shared Chromium (shared-browser.ts)
 * when vitest's global setup offers one, else a Chromium of its own. Either way the file's
 * `close()` ends what it opened.
 */
export async function launchBrowser(): Promise<Browser> {
  const broker = inject('gantryBrowserBroker');
  if (!broker) return launchChromium();
  const response = await fetch(broker);
  if (!response.ok) throw new Error(`the shared Chromium did not start: ${await response.text()}`);
  return connectChromium(await response.text());
}

/** Signs the page in the way a person does: by opening the one-time link. */
export async function signIn(page: Page, server: GantryUp): Promise<void> {
  await page.goto(await server.loginLink());
  await page.waitForURL(`${server.url}/`);
}

/**
 * The README's screenshots come from the tests: written under docs/screenshots when
 * GANTRY_UPDATE_SCREENSHOTS=1, so a normal test run leaves the checkout unchanged.
 */
export async function screenshot(page: Page, name: string, o: { fullPage?: boolean } = {}): Promise<void> {
  if (process.env.GANTRY_UPDATE_SCREENSHOTS !== '1') return;
  await mkdir(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: o.fullPage ?? false });
}
