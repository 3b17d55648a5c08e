/**
 * Debian's Chromium through playwright-core, as the browser tests and the benchmarks start it
 * (never a downloaded browser). No vitest here, so benchmarks can load it.
 */
import { type Browser, type BrowserServer, chromium } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

const LAUNCH = {
  executablePath: CHROMIUM,
  args: [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--disable-dev-shm-usage',
  ],
};

export async function launchChromium(): Promise<Browser> {
  return chromium.launch(LAUNCH);
}

/** The same Chromium behind a WebSocket, for several processes to share (shared-browser.ts). */
export function launchChromiumServer(): Promise<BrowserServer> {
  return chromium.launchServer(LAUNCH);
}

/** A connection to a shared Chromium: its close() closes this connection's contexts and leaves the browser running. */
export function connectChromium(wsEndpoint: string): Promise<Browser> {
  return chromium.connect(wsEndpoint);
}
