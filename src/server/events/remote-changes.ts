/**
 * Live updates from the other servers sharing a PostgreSQL store: each announced event id (the
 * store's LISTEN) makes this server read the events after its cursor and notify its own `LiveHub`
 * with the thing each is about (a run for `run:` and `job:` subjects, a rollout for `rollout:`,
 * the subject itself otherwise, and every `'*'` subscriber), so a stream on this server re-reads the store just as
 * if the change had been made here. Reads never overlap: announcements arriving during a read
 * fold into one more read after it. Events this server appended come back too; a stream
 * re-reading once more is harmless.
 */
import type { EventAnnouncements, EventStore, GantryEvent } from '../../store/ports.ts';
import type { LiveHub } from './live-hub.ts';

export interface RemoteChangesDeps {
  announcements: EventAnnouncements;
  events: EventStore;
  hub: LiveHub;
  warn(message: string, data: Record<string, unknown>): void;
}

const PAGE = 500;

export class RemoteChanges {
  readonly #deps: RemoteChangesDeps;
  #cursor = 0;
  #reading: Promise<void> | null = null;
  #again = false;
  #unlisten: (() => Promise<void>) | null = null;

  constructor(deps: RemoteChangesDeps) {
    this.#deps = deps;
  }

  /** Listens from the newest event on (what came before, streams read when they open). */
  async start(): Promise<void> {
    this.#cursor = (await this.#deps.events.list({ newestFirst: true, limit: 1 }))[0]?.id ?? 0;
    this.#unlisten = await this.#deps.announcements.listen(
      (id) => {
        if (id > this.#cursor) this.#read();
      },
      () => this.#read(),
    );
  }

  async stop(): Promise<void> {
    await this.#unlisten?.();
    this.#unlisten = null;
    await this.#reading;
  }

  #read(): void {
    if (this.#reading) {
      this.#again = true;
      return;
    }
    this.#reading = this.#catchUp()
      .catch((error: unknown) => this.#deps.warn('reading announced events failed', { err: error }))
      .finally(() => {
        this.#reading = null;
        if (this.#again) {
          this.#again = false;
          this.#read();
        }
      });
  }

  async #catchUp(): Promise<void> {
    for (;;) {
      const page = await this.#deps.events.list({ afterId: this.#cursor, limit: PAGE });
      const about = new Set(page.map(hubKeyOf));
      for (const key of about) this.#deps.hub.notify(key);
      if (page.length > 0) this.#cursor = page.at(-1)!.id;
      if (page.length < PAGE) return;
    }
  }
}

/**
 * What a LiveHub subscriber listens on for this event — the key this server's own services notify
 * with: the run of a run's or a job's event, the rollout of a rollout's, else the subject.
 */
export function hubKeyOf(event: Pick<GantryEvent, 'subject'>): string {
  const { subject } = event;
  if (subject.startsWith('run:')) return subject.slice('run:'.length);
  if (subject.startsWith('rollout:')) return subject.slice('rollout:'.length);
  if (subject.startsWith('job:')) return subject.slice('job:'.length).split('/')[0]!;
  return subject;
}
