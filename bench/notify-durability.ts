/**
 * Notification durability (issue "SLOs", its second target), black-box: a real `gantry up` with a
 * signed webhook channel pointing at a loopback receiver that is down (answering 503, or with
 * DOWN=closed its port closed) for DOWN_S [60] s (and at least DOWN_S / 2 after the restart);
 * N [100] incidents opened by hand queue N
 * deliveries; once every one is in the outbox and has failed at least once the server is killed
 * with SIGKILL and started again on the same data directory; then the receiver comes back.
 *
 * Counts, per event: deliveries, distinct idempotency keys (target: exactly one each; repeats
 * with the same key are allowed — at-least-once — and reported), valid signatures (checked here
 * with node:crypto, not the server's code), and lost events (target 0). The figure: how long after
 * the receiver came back the last delivery arrived, against the outage's length (the notifier's
 * retry cap promises about half of it).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import { benchMain, epochMs, freePort, progress, round, startServer, tempDir, tempRepo, waitFor } from './lib.ts';

const N = Number(process.env.N ?? 100);
const DOWN_S = Number(process.env.DOWN_S ?? 60);
const DOWN = process.env.DOWN === 'closed' ? 'closed' : '503';
const REPLAY_WINDOW_S = 300;

interface Delivery {
  at: number;
  key: string;
  eventId: number;
  signatureOk: boolean;
}

/** `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`, fresh within five minutes. */
function signatureOk(secret: string, header: string | undefined, body: string): boolean {
  const match = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header ?? '');
  if (match === null) return false;
  const [, t, v1] = match as unknown as [string, string, string];
  if (Math.abs(Date.now() / 1000 - Number(t)) > REPLAY_WINDOW_S) return false;
  const expected = createHmac('sha256', secret).update(`${t}.${body}`).digest();
  return timingSafeEqual(expected, Buffer.from(v1, 'hex'));
}

/** A webhook receiver on `port` that answers 503 while down (or, with DOWN=closed, does not listen) and records what it accepts. */
class Receiver {
  readonly deliveries: Delivery[] = [];
  refused = 0;
  up = false;
  secret = '';
  readonly #port: number;
  readonly #server: http.Server;

  constructor(port: number) {
    this.#port = port;
    this.#server = http.createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8').on('data', (c: string) => {
        body += c;
      });
      req.on('end', () => {
        if (!this.up) {
          this.refused += 1;
          res.statusCode = 503;
          res.end();
          return;
        }
        const parsed = JSON.parse(body) as { id: string; event: { id: number } };
        this.deliveries.push({
          at: epochMs(),
          key: String(req.headers['idempotency-key']),
          eventId: parsed.event.id,
          signatureOk:
            signatureOk(this.secret, req.headers['x-gantry-signature'] as string | undefined, body) &&
            parsed.id === req.headers['idempotency-key'],
        });
        res.end();
      });
    });
  }

  get url(): string {
    return `http://127.0.0.1:${this.#port}/hook`;
  }

  listen(): Promise<void> {
    return new Promise((resolve) => this.#server.listen(this.#port, '127.0.0.1', resolve));
  }

  close(): void {
    this.#server.closeAllConnections();
    this.#server.close();
  }
}

await benchMain('notify-durability', (DOWN_S + 240) * 1000, async () => {
  const receiver = new Receiver(await freePort());
  if (DOWN === '503') await receiver.listen();
  try {
    const dataDir = await tempDir('notify-data');
    const repo = await tempRepo('notify', 'pipeline:\n  jobs:\n    build: { steps: ["true"] }\n');
    let server = await startServer({ dataDir, readyTimeoutMs: 90_000 });
    progress(`server up at ${server.url} (pid ${server.pid}); receiver ${DOWN === '503' ? 'answers 503' : 'port closed'} for ${DOWN_S} s`);
    await server.api('POST', '/api/projects', { path: repo, name: 'shop' });
    const added = await server.api<{ secret: string }>('POST', '/api/notify/channels', {
      name: 'oncall',
      kind: 'webhook',
      url: receiver.url,
      events: ['incident.opened'],
    });
    receiver.secret = added.secret;

    const downAt = epochMs();
    for (let i = 1; i <= N; i++) await server.api('POST', '/api/projects/shop/incidents', { title: `incident ${i}` });
    type Row = { status: string; attempts: number };
    const failedOnce = await waitFor(
      `${N} deliveries queued and refused once`,
      async () => {
        const { deliveries } = await server.api<{ deliveries: Row[] }>('GET', '/api/notify/deliveries?limit=1000');
        return deliveries.length === N && deliveries.every((d) => d.status === 'pending' && d.attempts >= 1) ? deliveries : undefined;
      },
      60_000,
      100,
    );
    const pendingAtKill = failedOnce.filter((d) => d.status === 'pending').length;
    process.kill(server.pid, 'SIGKILL');
    await server.stop();
    progress(`${pendingAtKill} deliveries pending; server killed with SIGKILL ${round((epochMs() - downAt) / 1000, 1)} s into the outage`);
    server = await startServer({ dataDir, readyTimeoutMs: 90_000 });
    progress(`server restarted at ${server.url} (pid ${server.pid}) in ${round(server.readyMs)} ms`);

    // Back DOWN_S after the first notification was queued, but never less than DOWN_S / 2 after
    // the restart: a restart slowed by a loaded machine would otherwise leave no failing retries
    // after it, and every delivery would simply be due at once when the receiver returns.
    const backAt = Math.max(downAt + DOWN_S * 1000, epochMs() + (DOWN_S * 1000) / 2);
    await new Promise((resolve) => setTimeout(resolve, backAt - epochMs()));
    if (DOWN === 'closed') await receiver.listen();
    receiver.up = true;
    const upAt = epochMs();
    progress(`receiver up after ${round((upAt - downAt) / 1000, 1)} s (${receiver.refused} attempts refused meanwhile)`);

    const events = (await server.api<{ events: { id: number }[] }>('GET', '/api/events?type=incident.opened&limit=1000')).events.map(
      (e) => e.id,
    );
    const allIn = await waitFor(
      `all ${events.length} events delivered`,
      () => (new Set(receiver.deliveries.map((d) => d.eventId)).size >= events.length ? epochMs() : undefined),
      DOWN_S * 1000 + 180_000,
      50,
    ).catch(() => null);
    const keysByEvent = new Map<number, Set<string>>();
    for (const d of receiver.deliveries) keysByEvent.set(d.eventId, (keysByEvent.get(d.eventId) ?? new Set()).add(d.key));
    const lastAt = receiver.deliveries.reduce((m, d) => Math.max(m, d.at), 0);
    const { deliveries: rows } = await server.api<{ deliveries: Row[] }>('GET', '/api/notify/deliveries?limit=1000');
    await server.stop();
    const lagS = round((lastAt - upAt) / 1000, 1);
    const outageS = round((upAt - downAt) / 1000, 1);
    return {
      notifications: N,
      down: DOWN,
      outage_s: outageS,
      pending_at_kill: pendingAtKill,
      refused_attempts: receiver.refused,
      events: events.length,
      lost: events.filter((id) => !keysByEvent.has(id)).length,
      deliveries: receiver.deliveries.length,
      repeats_same_key: receiver.deliveries.length - [...keysByEvent.values()].reduce((n, keys) => n + keys.size, 0),
      events_with_two_keys: [...keysByEvent.values()].filter((keys) => keys.size > 1).length,
      bad_signatures: receiver.deliveries.filter((d) => !d.signatureOk).length,
      outbox_after: Object.fromEntries([...new Set(rows.map((r) => r.status))].map((s) => [s, rows.filter((r) => r.status === s).length])),
      all_delivered: allIn !== null,
      last_delivery_after_receiver_up_s: lagS,
      first_delivery_after_receiver_up_s: round((receiver.deliveries.reduce((m, d) => Math.min(m, d.at), lastAt) - upAt) / 1000, 1),
      // The retry cap's promise: the backlog drains within about half the outage.
      lag_to_outage_ratio: round(lagS / outageS, 2),
      targets: { lost: 0, events_with_two_keys: 0, bad_signatures: 0, lag_to_outage_ratio_max: 0.5 },
    };
  } finally {
    receiver.close();
  }
});
