/**
 * Notifications through a persisted outbox. Every second the notifier reads the event log after
 * its cursor and queues one delivery per (event, matching channel) in the same transaction as
 * the cursor, so each event is queued exactly once across crashes; then it sends what is due.
 * A delivery is retried with exponential backoff and full jitter for a day, always with the same
 * idempotency key (`<channel>:<event>`), so a receiver that saw a retry before can drop it. A
 * server killed with deliveries queued sends them after its restart: they are rows, not memory.
 */
import { type Clock, type Repeating, repeatEvery } from '../../core/clock.ts';
import type { Value } from '../../core/types.ts';
import type { GantryEvent, NotificationChannel, NotificationDelivery, Store } from '../../store/ports.ts';
import type { EventScope } from '../events/index.ts';
import { type NotifiedEvent, slackMessage, webhookBody } from './messages.ts';
import { signWebhook } from './webhook-signature.ts';

export interface NotifierDeps {
  store: Store;
  clock: Clock;
  /** Which project and environment an event belongs to (the event log's scopes). */
  scope(event: GantryEvent): Promise<EventScope>;
  /** Plaintext of a channel's encrypted target URL or secret. */
  decrypt(ciphertext: string): string;
  /** The dashboard's address, for links. */
  publicUrl(): string;
  warn(message: string, data: Record<string, unknown>): void;
  /** Default 1000 ms. */
  intervalMs?: number;
  /** One attempt's limit (default 10 s). */
  timeoutMs?: number;
  /** Random in [0, 1) for the jitter; tests pin it. */
  random?: () => number;
  /** The first retry's delay before jitter (default 5 s; the server option `notifyRetryMs`). */
  firstRetryMs?: number;
}

const BATCH = 500;
export const FIRST_RETRY_MS = 5_000;
const MAX_RETRY_MS = 30 * 60_000;
/** However short the delivery's failing, a retry may wait this many first retries (30 s by default). */
const MIN_CAP_RETRIES = 6;
/** Deliveries older than this are given up as failed. */
export const GIVE_UP_AFTER_MS = 24 * 3600_000;
const PARALLEL = 4;

/** Does a channel want this event? Type patterns ending in `.*` match a family. */
export function routeMatches(channel: NotificationChannel, event: NotifiedEvent, projectId: string | null): boolean {
  if (channel.projectId !== null && channel.projectId !== projectId) return false;
  const { events, environments, severities } = channel.routes;
  const typeOk = events.some((p) => (p.endsWith('.*') ? event.type.startsWith(p.slice(0, -1)) : event.type === p));
  if (!typeOk) return false;
  if (environments !== undefined && (event.environment === null || !environments.includes(event.environment))) return false;
  if (severities !== undefined && !severities.includes(String(event.data.severity ?? ''))) return false;
  return true;
}

/**
 * Exponential backoff with full jitter (AWS architecture blog's recommendation), capped at 30 min
 * and at half of how long the delivery has been failing (`failingForMs`, but never below
 * 6 first retries). Doubling alone lets a few attempts' luck push the next one far out: after
 * a receiver's one-minute outage, the last of 100 queued deliveries used to wait ~4 min more
 * (up to 5), since the ceiling had reached 160 s. With the cap a receiver back after an outage
 * of T hears every queued delivery within about T/2 (30 s after a short one), while a
 * day-long outage costs ~117 attempts a delivery (~104 before), not thousands.
 */
export function retryDelayMs(attempts: number, random: number, failingForMs: number, firstRetryMs = FIRST_RETRY_MS): number {
  const cap = Math.min(MAX_RETRY_MS, Math.max(MIN_CAP_RETRIES * firstRetryMs, failingForMs / 2));
  const ceiling = Math.min(cap, firstRetryMs * 2 ** Math.max(0, attempts - 1));
  return Math.max(firstRetryMs / 5, Math.round(ceiling * random));
}

export class Notifier {
  readonly #deps: NotifierDeps;
  #loop: Repeating | undefined;

  constructor(deps: NotifierDeps) {
    this.#deps = deps;
  }

  start(): void {
    this.#loop ??= repeatEvery(
      this.#deps.clock,
      this.#deps.intervalMs ?? 1000,
      () => this.tick(),
      (error) => this.#deps.warn('notifying failed', { error: String(error) }),
    );
  }

  async stop(): Promise<void> {
    await this.#loop?.stop();
  }

  /** Queues what is new and sends what is due; the timer calls it, tests may too. */
  async tick(): Promise<void> {
    await this.enqueueNew();
    await this.sendDue();
  }

  async enqueueNew(): Promise<void> {
    const { store } = this.#deps;
    let cursor = await store.notifications.cursor();
    for (;;) {
      const events = await store.events.list({ afterId: cursor, limit: BATCH });
      if (events.length === 0) return;
      const channels = await store.notifications.channels();
      const now = this.#deps.clock.now();
      const deliveries = [];
      for (const event of events) {
        if (channels.length === 0) break;
        const scope = await this.#deps.scope(event);
        const project = scope.projectId === null ? null : ((await store.projects.get(scope.projectId))?.name ?? scope.projectId);
        const notified: NotifiedEvent = {
          id: event.id,
          type: event.type,
          actor: event.actor,
          at: event.at,
          data: event.data,
          project,
          environment: scope.environment,
        };
        for (const channel of channels) {
          if (!routeMatches(channel, notified, scope.projectId)) continue;
          deliveries.push({
            channelId: channel.id,
            eventId: event.id,
            idempotencyKey: `${channel.id}:${event.id}`,
            nextAttemptMs: now,
            payload: notified as unknown as Record<string, Value>,
            createdAt: new Date(now).toISOString(),
          });
        }
      }
      cursor = (events.at(-1) as GantryEvent).id;
      await store.notifications.enqueue(cursor, deliveries);
      if (events.length < BATCH) return;
    }
  }

  async sendDue(): Promise<void> {
    const { store, clock } = this.#deps;
    const due = await store.notifications.due(clock.now(), 100);
    if (due.length === 0) return;
    const channels = new Map((await store.notifications.channels()).map((c) => [c.id, c]));
    const queue = due.slice();
    await Promise.all(
      Array.from({ length: Math.min(PARALLEL, queue.length) }, async () => {
        for (let d = queue.shift(); d !== undefined; d = queue.shift()) {
          const channel = channels.get(d.channelId);
          if (channel !== undefined) await this.#attempt(channel, d);
        }
      }),
    );
  }

  async #attempt(channel: NotificationChannel, delivery: NotificationDelivery): Promise<void> {
    const { store, clock } = this.#deps;
    const attempts = delivery.attempts + 1;
    const at = new Date(clock.now()).toISOString();
    const error = await this.send(channel, delivery).then(
      () => null,
      (e: unknown) => (e instanceof Error ? e.message : String(e)),
    );
    if (error === null) {
      await store.notifications.record(delivery.id, { status: 'delivered', attempts, at });
      return;
    }
    const age = clock.now() - Date.parse(delivery.createdAt);
    if (age >= GIVE_UP_AFTER_MS) {
      await store.notifications.record(delivery.id, { status: 'failed', attempts, error, at });
      this.#deps.warn('notification given up after a day of retries', { channel: channel.name, delivery: delivery.idempotencyKey, error });
      return;
    }
    const delay = retryDelayMs(attempts, (this.#deps.random ?? Math.random)(), age, this.#deps.firstRetryMs);
    const nextAttemptMs = clock.now() + delay;
    await store.notifications.record(delivery.id, { status: 'pending', attempts, nextAttemptMs, error, at });
  }

  /** One attempt: resolves on a 2xx answer, rejects with a short reason otherwise. */
  async send(channel: NotificationChannel, delivery: NotificationDelivery): Promise<void> {
    const event = delivery.payload as unknown as NotifiedEvent;
    const base = this.#deps.publicUrl();
    const body = JSON.stringify(channel.kind === 'slack' ? slackMessage(base, event) : webhookBody(base, event, delivery.idempotencyKey));
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'idempotency-key': delivery.idempotencyKey,
      'user-agent': 'gantry',
    };
    if (channel.kind === 'webhook' && channel.secretCiphertext !== null) {
      headers['x-gantry-signature'] = signWebhook(
        this.#deps.decrypt(channel.secretCiphertext),
        Math.floor(this.#deps.clock.now() / 1000),
        body,
      );
    }
    let response: Response;
    try {
      response = await fetch(this.#deps.decrypt(channel.targetCiphertext), {
        method: 'POST',
        headers,
        body,
        redirect: 'error',
        signal: AbortSignal.timeout(this.#deps.timeoutMs ?? 10_000),
      });
    } catch (error) {
      throw new Error(`could not reach the channel: ${(error as Error).cause ?? (error as Error).message}`);
    }
    await response.body?.cancel();
    if (!response.ok) throw new Error(`the channel answered HTTP ${response.status}`);
  }
}
