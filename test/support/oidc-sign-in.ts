/**
 * Signing a browser in through the test OpenID provider the way a person does: the dashboard's
 * "Sign in with your identity provider" link, the provider's login form, back to Gantry.
 * Requests to anything but loopback are refused (the provider's form asks for a web font).
 */
import type { BrowserContext, Page } from 'playwright-core';

/** Keeps the context on this machine. */
export async function loopbackOnly(context: BrowserContext): Promise<void> {
  await context.route(/^https?:\/\/(?!(127\.0\.0\.1|localhost)[:/])/, (route) => route.abort());
}

/** From Gantry's sign-in page through the provider's login form; resolves once the provider sent the browser back. */
export async function signInWithProvider(page: Page, gantryUrl: string, login: string): Promise<void> {
  await page.goto(gantryUrl);
  await page.getByRole('link', { name: 'Sign in with your identity provider' }).click();
  await page.locator('input[name="login"]').fill(login);
  await page.locator('input[name="password"]').fill('any password');
  await Promise.all([
    page.waitForURL((url) => url.href.startsWith(gantryUrl) && !url.pathname.startsWith('/auth/oidc/start')),
    page.locator('button[type="submit"]').click(),
  ]);
}
