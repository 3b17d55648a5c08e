/**
 * Signatures of Gantry's JSON webhooks, the scheme Stripe and Slack use: an HMAC-SHA256 over the
 * timestamp and the body, sent as `X-Gantry-Signature: t=<unix seconds>,v1=<hex>`. A receiver
 * recomputes it with the channel's secret and refuses a timestamp older than its replay window
 * (five minutes by default), so a captured delivery cannot be replayed later.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'x-gantry-signature';
/** How old a signed delivery may be when it arrives. */
export const REPLAY_WINDOW_SECONDS = 300;

export function signWebhook(secret: string, timestampSeconds: number, body: string): string {
  const mac = createHmac('sha256', secret).update(`${timestampSeconds}.${body}`).digest('hex');
  return `t=${timestampSeconds},v1=${mac}`;
}

/** True when `header` signs `body` with `secret` and its timestamp is within the window of `nowSeconds`. */
export function verifyWebhook(
  secret: string,
  header: string,
  body: string,
  nowSeconds: number,
  windowSeconds = REPLAY_WINDOW_SECONDS,
): boolean {
  const parts = new Map(header.split(',').map((p) => p.split('=', 2) as [string, string]));
  const t = Number(parts.get('t'));
  const v1 = parts.get('v1') ?? '';
  if (!Number.isInteger(t) || Math.abs(nowSeconds - t) > windowSeconds || !/^[0-9a-f]{64}$/.test(v1)) return false;
  const expected = Buffer.from(signWebhook(secret, t, body).slice(`t=${t},v1=`.length), 'hex');
  return timingSafeEqual(expected, Buffer.from(v1, 'hex'));
}
