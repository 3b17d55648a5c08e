/**
 * Keeps the search index in step with the event log by id cursor (the last indexed id, read
 * from the index itself): each catch-up reads the events after it, resolves each one's project,
 * environment and release, and adds their documents in one transaction. The index is a
 * projection of the log and nothing else writes it, so a store whose index was dropped (or a
 * store from before search existed) is rebuilt by the same catch-up and answers the same.
 * One catch-up runs at a time; callers that arrive meanwhile share the next one, so a search
 * that awaits `catchUp()` sees every event committed before it asked.
 */
import { type EventContext, searchDocument } from '../../search/index.ts';
import type { GantryEvent, Store } from '../../store/ports.ts';
import { EventScopes } from '../events/index.ts';

const BATCH = 1000;
/** A catch-up this large is a rebuild (or a long outage): tidy the index after it. */
const COMPACT_AFTER = 50_000;
const CACHE_LIMIT = 10_000;

export class SearchIndexer {
  readonly #store: Store;
  readonly #scopes: EventScopes;
  readonly #projectNames = new Map<string, string | null>();
  readonly #rolloutReleases = new Map<string, EventContext['release']>();
  readonly #rolloutProjects = new Map<string, string>();
  #running: Promise<void> | null = null;
  #again: Promise<void> | null = null;

  constructor(store: Store) {
    this.#store = store;
    this.#scopes = new EventScopes(store);
  }

  /** Indexes every event committed before the call; resolves once they are searchable. */
  catchUp(): Promise<void> {
    if (this.#running === null) {
      this.#running = this.#run().finally(() => {
        this.#running = null;
      });
      return this.#running;
    }
    // A catch-up is under way and may have read past its last page already: queue one more.
    // After the current one whether it failed or not: a failure must not stick to later callers.
    this.#again ??= this.#running
      .catch(() => undefined)
      .then(() => {
        this.#again = null;
        return this.catchUp();
      });
    return this.#again;
  }

  /** Waits for the catch-up under way (shutdown: the store closes after). Later calls to catchUp still work. */
  async stop(): Promise<void> {
    await this.#again?.catch(() => undefined);
    await this.#running?.catch(() => undefined);
  }

  /** Empties the index and indexes the whole event log again. */
  async rebuild(): Promise<void> {
    await this.#running;
    await this.#store.search.clear();
    await this.catchUp();
  }

  async #run(): Promise<void> {
    let after = await this.#store.search.lastIndexed();
    let indexed = 0;
    for (;;) {
      const events = await this.#store.events.list({ afterId: after, limit: BATCH });
      const docs = [];
      for (const event of events) docs.push(searchDocument(event, await this.contextOf(event)));
      await this.#store.search.add(docs);
      indexed += docs.length;
      if (events.length < BATCH) break;
      after = (events.at(-1) as GantryEvent).id;
    }
    if (indexed >= COMPACT_AFTER) await this.#store.search.compact();
  }

  /** The project (id and name), environment and release of an event, from small caches. */
  async contextOf(event: GantryEvent): Promise<EventContext> {
    const scope = await this.#scopes.scope(event);
    // A rollout's later events name only the rollout: its first event named the project, which
    // counts when the rollout's row is gone (a log imported into a new store).
    const projectId = scope.projectId ?? this.#rolloutProjects.get(event.subject) ?? null;
    return {
      projectId,
      projectName: projectId === null ? null : await this.#projectName(projectId),
      environment: scope.environment,
      release: await this.#release(event),
    };
  }

  async #projectName(id: string): Promise<string | null> {
    if (!this.#projectNames.has(id)) {
      if (this.#projectNames.size > CACHE_LIMIT) this.#projectNames.clear();
      this.#projectNames.set(id, (await this.#store.projects.get(id))?.name ?? null);
    }
    return this.#projectNames.get(id) ?? null;
  }

  /** The release a release or rollout event is about: the event says it, or its rollout's record does. */
  async #release(event: GantryEvent): Promise<EventContext['release']> {
    const data = event.data;
    if (event.type.startsWith('release.') && typeof data.releaseId === 'string' && typeof data.number === 'number') {
      return { id: data.releaseId, number: data.number };
    }
    if (!event.subject.startsWith('rollout:')) return null;
    const rolloutId = event.subject.slice('rollout:'.length);
    if (typeof data.releaseId === 'string' && typeof data.releaseNumber === 'number') {
      this.#remember(rolloutId, { id: data.releaseId, number: data.releaseNumber });
    }
    if (typeof data.projectId === 'string') {
      if (this.#rolloutProjects.size > CACHE_LIMIT) this.#rolloutProjects.clear();
      this.#rolloutProjects.set(event.subject, data.projectId);
    }
    if (!this.#rolloutReleases.has(rolloutId)) {
      const rollout = await this.#store.rollouts.get(rolloutId);
      const release = rollout ? await this.#store.releases.get(rollout.releaseId) : undefined;
      this.#remember(rolloutId, release ? { id: release.id, number: release.number } : null);
    }
    return this.#rolloutReleases.get(rolloutId) ?? null;
  }

  #remember(rolloutId: string, release: EventContext['release']): void {
    if (this.#rolloutReleases.size > CACHE_LIMIT) this.#rolloutReleases.clear();
    this.#rolloutReleases.set(rolloutId, release);
  }
}
