/**
 * Debian's Chromium through playwright-core, as the browser tests and the benchmarks start it
 * (never a downloaded browser). No vitest here, so benchmarks can load it.
 *
 * The tests drive `chromium-headless-shell`, Chromium's headless-only build (the one Playwright
 * itself runs for headless tests): the same Blink and V8 without the browser's own UI. The full
 * browser in headless mode preloads its address bar's popup (a WebUI renderer) for every window,
 * so every context a test opened cost a renderer: 4 contexts took 5.9 s of Chromium CPU there
 * against 0.6 s in the shell. The benchmarks time what people run: the full browser.
 */
import { type Browser, chromium } from 'playwright-core';

/** The full browser (benchmarks). */
export const CHROMIUM = '/usr/bin/chromium';
/** The headless-only build (tests). */
export const HEADLESS_SHELL = '/usr/bin/chromium-headless-shell';

export async function launchChromium(executablePath: string = CHROMIUM): Promise<Browser> {
  return chromium.launch({
    executablePath,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-dev-shm-usage',
    ],
  });
}
