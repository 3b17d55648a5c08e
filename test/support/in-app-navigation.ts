/**
 * Moving between the dashboard's pages the way its own links do (history.pushState, which the
 * router follows): no reload, so the bundle, the session check and an injected axe stay loaded.
 * For tests that visit many pages to look at each, not at how a page loads (the first visit
 * of a file still loads the page in full).
 */
import type { Page, Request } from 'playwright-core';
import { waitFor } from './wait.ts';

/**
 * Opens `path` in the app, then waits for the new page's heading and for its requests to settle:
 * `waitForLoadState('networkidle')`'s counterpart, which only follows full loads. Event streams
 * stay open by design and are not waited for; a page that never settles (polling faster than
 * `quietMs`) is looked at after `settleMs`, as `networkidle` with a caught timeout would be.
 */
export async function openInApp(page: Page, path: string, o: { quietMs?: number; settleMs?: number } = {}): Promise<void> {
  const quietMs = o.quietMs ?? 300;
  const pending = new Set<Request>();
  let lastChange = Date.now();
  const started = (request: Request) => {
    if (request.resourceType() === 'eventsource') return;
    pending.add(request);
    lastChange = Date.now();
  };
  const ended = (request: Request) => {
    if (pending.delete(request)) lastChange = Date.now();
  };
  page.on('request', started);
  page.on('requestfinished', ended);
  page.on('requestfailed', ended);
  try {
    const before = await page.locator('main h1').first().elementHandle();
    await page.evaluate((to) => window.history.pushState(null, '', to), path);
    // A new page mounts new elements: the old heading going away is the route having changed.
    await page.waitForFunction((old) => {
      const heading = document.querySelector('main h1');
      return heading !== null && heading !== old;
    }, before);
    await waitFor(() => pending.size === 0 && Date.now() - lastChange >= quietMs, {
      what: `the requests of ${path} to settle`,
      timeoutMs: o.settleMs ?? 5_000,
      intervalMs: 50,
    }).catch(() => undefined);
  } finally {
    page.off('request', started);
    page.off('requestfinished', ended);
    page.off('requestfailed', ended);
  }
}
