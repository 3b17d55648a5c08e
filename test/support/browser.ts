/**
 * The dashboard's browser tests: Debian's Chromium (its headless shell, see chromium.ts) driven
 * through playwright-core (never a downloaded browser), against a real `gantry up` (`startGantryUp`
 * in server.ts).
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext, BrowserContextOptions, Page } from 'playwright-core';
import { HEADLESS_SHELL, launchChromium } from './chromium.ts';
import { requirement } from './requirements.ts';
import type { GantryUp } from './server.ts';

const SCREENSHOTS = fileURLToPath(new URL('../../docs/screenshots/', import.meta.url));

/** True when Chromium's headless shell is installed (else the test is skipped, or fails under GANTRY_REQUIRE_ALL). */
export function browserAvailable(): boolean {
  return requirement(`Chromium's headless shell (${HEADLESS_SHELL}, Debian's chromium-headless-shell)`, existsSync(HEADLESS_SHELL));
}

/**
 * A test file's share of the test process's Chromium: the contexts (and pages) the file opens,
 * closed together by `close()`, which leaves the browser running for the next file.
 */
export interface FileBrowser {
  newContext(options?: BrowserContextOptions): Promise<BrowserContext>;
  /** A page in a context of its own, as `Browser.newPage` makes one. */
  newPage(options?: BrowserContextOptions): Promise<Page>;
  /** Closes every context opened through this object; the browser stays. */
  close(): Promise<void>;
}

let processBrowser: Promise<Browser> | undefined;

/**
 * One Chromium per test process, launched by the first file that asks: the forks pool runs file
 * after file in one worker (isolate: false), and a launch costs ~3.7 s of CPU, which every browser
 * file used to pay for the contexts it opened on it. Files share the browser, never a context, so
 * none sees another's cookies or storage. Playwright kills it when the process exits; a browser
 * that crashed or was closed is launched again by the next file.
 */
function sharedChromium(): Promise<Browser> {
  processBrowser ??= launchChromium(HEADLESS_SHELL).then(
    (browser) => {
      browser.on('disconnected', () => {
        processBrowser = undefined;
      });
      return browser;
    },
    (error: unknown) => {
      processBrowser = undefined;
      throw error;
    },
  );
  return processBrowser;
}

/** The process's Chromium for one file (see `FileBrowser`); the file closes it in its `afterAll`. */
export async function openBrowser(): Promise<FileBrowser> {
  const browser = await sharedChromium();
  const contexts = new Set<BrowserContext>();
  const newContext = async (options?: BrowserContextOptions) => {
    const context = await browser.newContext(options);
    contexts.add(context);
    context.on('close', () => contexts.delete(context));
    return context;
  };
  return {
    newContext,
    newPage: async (options) => (await newContext(options)).newPage(),
    close: async () => {
      for (const context of [...contexts]) await context.close().catch(() => undefined);
    },
  };
}

/** `openBrowser` under the name files outside the browser suite still import. */
export const launchBrowser = openBrowser;

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
