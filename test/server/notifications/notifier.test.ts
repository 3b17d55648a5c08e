/**
 * The notifier on a real SQLite store, sending over real HTTP to receivers on loopback; time on
 * a ManualClock (retries and the day-long give-up), the event scopes from the real EventScopes.
 */
import { execFileSync } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/core/clock.ts';
import { EventScopes } from '../../../src/server/events/index.ts';
import { GIVE_UP_AFTER_MS, Notifier, retryDelayMs, signWebhook, verifyWebhook } from '../../../src/server/notifications/index.ts';
import type { NewEvent, Store } from '../../../src/store/index.ts';
import { openStore } from '../../../src/store/index.ts';
import { sqliteTestDatabase, type TestDatabase } from '../../support/databases.ts';

const ENV = { gantryVersion: '0.1.0', nodeVersion: 'v24', host: 'test' };
const SECRET = 'a-webhook-secret-of-32-characters';

interface Received {
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A receiver that records what it is sent; `status` is what it answers. */
async function receiver(): Promise<{ url: string; received: Received[]; status: number; close(): Promise<void> }> {
  const state = { received: [] as Received[], status: 200 };
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (c: string) => {
      body += c;
    });
    req.on('end', () => {
      state.received.push({ headers: req.headers, body });
      res.statusCode = state.status;
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook?token=xyz`,
    get received() {
      return state.received;
    },
    get status() {
      return state.status;
    },
    set status(code: number) {
      state.status = code;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe('webhook signatures', () => {
  it('are the HMAC-SHA256 of "<timestamp>.<body>" that openssl computes, and verify only within the replay window', () => {
    const body = '{"id":"c1:7","title":"ü"}';
    const header = signWebhook(SECRET, 1_700_000_000, body);
    const openssl = execFileSync('openssl', ['dgst', '-sha256', '-hmac', SECRET], { input: `1700000000.${body}` }).toString();
    expect(header).toBe(`t=1700000000,v1=${openssl.trim().split(' ').at(-1)}`);
    expect(verifyWebhook(SECRET, header, body, 1_700_000_100)).toBe(true);
    expect(verifyWebhook(SECRET, header, `${body} `, 1_700_000_100)).toBe(false);
    expect(verifyWebhook('another-secret-of-enough-length!', header, body, 1_700_000_100)).toBe(false);
    expect(verifyWebhook(SECRET, header, body, 1_700_000_301)).toBe(false);
    expect(verifyWebhook(SECRET, 't=x,v1=zz', body, 1_700_000_000)).toBe(false);
  });

  it('retry after 5 s, doubling up to 30 min, with full jitter', () => {
    expect(retryDelayMs(1, 0.999, 0)).toBe(4995);
    expect(retryDelayMs(3, 0.5, 15_000)).toBe(10_000);
    expect(retryDelayMs(30, 0.999, 20 * 3600_000)).toBe(Math.round(30 * 60_000 * 0.999));
    expect(retryDelayMs(1, 0, 0)).toBe(1000);
    expect(retryDelayMs(2, 0.5, 0, 100)).toBe(100);
  });

  it('never wait more than half of how long the delivery has been failing (or 30 s)', () => {
    // Doubling alone reached a 160 s ceiling by the sixth attempt, a minute into an outage.
    expect(retryDelayMs(6, 0.999, 60_000)).toBeLessThanOrEqual(30_000);
    expect(retryDelayMs(12, 0.999, 10 * 60_000)).toBeLessThanOrEqual(5 * 60_000);
    expect(retryDelayMs(12, 0.999, 2 * 60_000)).toBe(Math.round(60_000 * 0.999));
  });
});

describe('Notifier', () => {
  let database: TestDatabase;
  let store: Store;
  let clock: ManualClock;
  let projectId: string;
  let hook: Awaited<ReturnType<typeof receiver>>;

  beforeEach(async () => {
    database = await sqliteTestDatabase();
    store = await openStore({ url: database.url });
    clock = new ManualClock(Date.UTC(2026, 11, 6));
    projectId = (await store.projects.create({ name: 'shop', source: { kind: 'local', path: '/x' }, webhookSecret: 'w' })).id;
    hook = await receiver();
  });
  afterEach(async () => {
    await hook.close();
    await store.close();
    await database.cleanup();
  });

  // The "encryption" is the identity here: SecretBox has tests of its own.
  function notifier(random = 0.5): Notifier {
    const scopes = new EventScopes(store);
    return new Notifier({
      store,
      clock,
      scope: (e) => scopes.scope(e),
      decrypt: (s) => s,
      publicUrl: () => 'http://gantry.test',
      warn: () => undefined,
      random: () => random,
    });
  }

  async function channel(
    name: string,
    kind: 'slack' | 'webhook',
    routes: { events: string[]; environments?: string[]; severities?: string[] },
    project: string | null = null,
  ): Promise<void> {
    await store.notifications.addChannel({
      id: name,
      projectId: project,
      name,
      kind,
      targetCiphertext: hook.url,
      secretCiphertext: kind === 'webhook' ? SECRET : null,
      routes,
    });
  }

  function alert(n: number, severity = 'page'): NewEvent {
    return {
      type: 'slo.alert.fired',
      subject: `environment:${projectId}/production`,
      actor: 'server',
      data: { slo: 'availability', severity, n, budgetRemaining: 0.5 },
      env: ENV,
    };
  }

  it('sends each matching event once, signed, with a stable idempotency key and a link back', async () => {
    await channel('ops', 'webhook', { events: ['slo.alert.*'], severities: ['page'] });
    await channel('chat', 'slack', { events: ['slo.alert.fired'], environments: ['staging'] });
    await store.events.append(alert(1));
    await store.events.append(alert(2, 'ticket'));
    await store.events.append({ type: 'run.created', subject: 'run:x', actor: 'cli', data: {}, env: ENV });
    const n = notifier();
    await n.tick();
    await n.tick();
    expect(hook.received).toHaveLength(1);
    const [got] = hook.received as [Received];
    const body = JSON.parse(got.body) as {
      id: string;
      title: string;
      link: string;
      event: { data: { n: number }; project: string; environment: string };
    };
    expect(body.event).toMatchObject({ project: 'shop', environment: 'production', data: { n: 1 } });
    expect(body.link).toBe('http://gantry.test/projects/shop/environments/production');
    expect(body.title).toBe("🔥 shop/production: PAGE — SLO 'availability' is burning its error budget (50% left)");
    expect(got.headers['idempotency-key']).toBe(body.id);
    expect(verifyWebhook(SECRET, String(got.headers['x-gantry-signature']), got.body, clock.now() / 1000)).toBe(true);
    const [delivery] = await store.notifications.deliveries({ limit: 10 });
    expect(delivery).toMatchObject({ status: 'delivered', attempts: 1, idempotencyKey: body.id });
  });

  it('formats Slack messages with a link and escapes what Slack would read as markup', async () => {
    await channel('chat', 'slack', { events: ['deploy.*'] });
    await store.events.append({
      type: 'deploy.budget-override',
      subject: `environment:${projectId}/production`,
      actor: 'api:alice',
      data: { reason: 'fix <b>& go' },
      env: ENV,
    });
    await notifier().tick();
    expect(JSON.parse((hook.received[0] as Received).body)).toEqual({
      text: '⚠️ shop/production: deploy despite a spent error budget by api:alice: fix &lt;b&gt;&amp; go — <http://gantry.test/projects/shop/environments/production|open in Gantry>',
    });
  });

  it('loses none of 100 queued notifications across a receiver down for a minute and a restart, and never changes a key', async () => {
    await channel('ops', 'webhook', { events: ['slo.alert.*'] });
    for (let i = 0; i < 100; i++) await store.events.append(alert(i));
    hook.status = 503;
    const first = notifier();
    await first.tick(); // all queued, all refused once
    clock.advance(30_000);
    await first.tick();
    // The server dies here; a new one starts from the store alone, the receiver comes back.
    const second = notifier();
    clock.advance(30_000);
    hook.status = 200;
    for (let i = 0; i < 20 && (await store.notifications.due(Number.MAX_SAFE_INTEGER, 1)).length > 0; i++) {
      clock.advance(60_000);
      await second.tick();
    }
    const delivered = hook.received
      .filter((_, i, all) => i >= all.length - 100 || true)
      .filter((r) => r.headers['x-gantry-signature'] !== undefined);
    const keysByEvent = new Map<number, Set<string>>();
    for (const r of delivered) {
      const body = JSON.parse(r.body) as { id: string; event: { data: { n: number } } };
      const keys = keysByEvent.get(body.event.data.n) ?? new Set<string>();
      keys.add(String(r.headers['idempotency-key']));
      keysByEvent.set(body.event.data.n, keys);
    }
    expect(hook.received.length).toBeGreaterThanOrEqual(300);
    expect(keysByEvent.size).toBe(100);
    expect([...keysByEvent.values()].every((keys) => keys.size === 1)).toBe(true);
    const rows = await store.notifications.deliveries({ limit: 1000 });
    expect(rows).toHaveLength(100);
    expect(rows.every((r) => r.status === 'delivered' && r.attempts >= 3)).toBe(true);
  });

  it('delivers within half an outage of the receiver coming back, however unlucky the jitter', async () => {
    await channel('ops', 'webhook', { events: ['slo.alert.*'] });
    await store.events.append(alert(1));
    hook.status = 503;
    const n = notifier(0.999);
    const downAt = clock.now();
    const backAt = downAt + 80_000;
    let deliveredAt: number | undefined;
    while (deliveredAt === undefined && clock.now() < downAt + 600_000) {
      if (clock.now() >= backAt) hook.status = 200;
      await n.tick();
      const [row] = await store.notifications.deliveries({ limit: 1 });
      if (row?.status === 'delivered') deliveredAt = clock.now();
      clock.advance(500);
    }
    // Attempts at 0, 5, 15, 35 and 65 s fail; the next comes 32.5 s later, not 80 s (155 s in all).
    expect(deliveredAt).toBeDefined();
    expect((deliveredAt ?? Infinity) - backAt).toBeLessThanOrEqual(40_000);
  });

  it('gives up after a day of failures and says why', async () => {
    await channel('ops', 'webhook', { events: ['slo.alert.*'] });
    await store.events.append(alert(1));
    hook.status = 500;
    const n = notifier();
    await n.tick();
    clock.advance(GIVE_UP_AFTER_MS);
    await n.tick();
    const [row] = await store.notifications.deliveries({ limit: 1 });
    expect(row).toMatchObject({ status: 'failed', lastError: 'the channel answered HTTP 500' });
  });

  it('sends a project channel only that project’s events', async () => {
    const other = await store.projects.create({ name: 'other', source: { kind: 'local', path: '/y' }, webhookSecret: 'w' });
    await channel('other-only', 'webhook', { events: ['slo.alert.*'] }, other.id);
    await store.events.append(alert(1));
    await notifier().tick();
    expect(hook.received).toEqual([]);
  });
});
