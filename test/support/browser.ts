/**
 * The dashboard's browser tests: Debian's Chromium driven through playwright-core (never a
 * downloaded browser), against a real `gantry up` (`startGantryUp` in server.ts).
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { CHROMIUM, launchChromium } from './chromium.ts';
import { requirement } from './requirements.ts';
import type { GantryUp } from './server.ts';

export { CHROMIUM };
const SCREENSHOTS = fileURLToPath(new URL('../../docs/screenshots/', import.meta.url));

/** True when Chromium is installed (else the test is skipped, or fails under GANTRY_REQUIRE_ALL). */
export function browserAvailable(): boolean {
  return requirement('Chromium (/usr/bin/chromium)', existsSync(CHROMIUM));
}

export function launchBrowser(): Promise<Browser> {
  return launchChromium();
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
