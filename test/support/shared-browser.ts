/**
 * Vitest globalSetup: one Chromium for the whole run instead of one per browser test file (a
 * launch costs ~3.7 s of CPU, and ten files launched one each). Started on the first request
 * only, so a run without browser tests never starts it: the workers ask a small loopback
 * endpoint (its URL handed over with `provide`) for the browser's WebSocket, and `launchBrowser`
 * (browser.ts) connects to it. Each file's connection owns its contexts and pages; closing it, or
 * its worker dying, closes them and leaves the browser to the others. The teardown stops it.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { BrowserServer } from 'playwright-core';
import type { TestProject } from 'vitest/node';
import { launchChromiumServer } from './chromium.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** GET it for the shared Chromium's WebSocket endpoint; '' when sharing is off. */
    gantryBrowserBroker: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  let browser: Promise<BrowserServer> | undefined;
  const broker = createServer((_request, response) => {
    browser ??= launchChromiumServer();
    browser.then(
      (server) => response.end(server.wsEndpoint()),
      (error: Error) => {
        // The next request tries again; this one's file fails with the reason.
        browser = undefined;
        response.writeHead(500).end(error.message);
      },
    );
  });
  await new Promise<void>((resolve) => broker.listen(0, '127.0.0.1', resolve));
  project.provide('gantryBrowserBroker', `http://127.0.0.1:${(broker.address() as AddressInfo).port}/`);
  return async () => {
    await new Promise((resolve) => broker.close(resolve));
    await (await browser?.catch(() => undefined))?.close();
  };
}
