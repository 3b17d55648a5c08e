/**
 * Which project and environment an event belongs to. Events name their subject (`run:<id>`,
 * `rollout:<id>`…) rather than repeating the project in every row, so the dashboard's timeline
 * filters resolve it here, with small caches: runs and rollouts never change project.
 */
import type { GantryEvent, Store } from '../../store/ports.ts';

export interface EventScope {
  projectId: string | null;
  environment: string | null;
}
export type ScopedEvent = GantryEvent & { scope: EventScope };

const CACHE_LIMIT = 10_000;

export class EventScopes {
  readonly #store: Store;
  readonly #runs = new Map<string, string | null>();
  readonly #rollouts = new Map<string, EventScope>();

  constructor(store: Store) {
    this.#store = store;
  }

  async scope(event: GantryEvent): Promise<EventScope> {
    const data = event.data as Record<string, unknown>;
    const [kind, rest = ''] = splitSubject(event.subject);
    let projectId = typeof data.projectId === 'string' ? data.projectId : null;
    let environment = typeof data.environment === 'string' ? data.environment : null;
    if (kind === 'project') projectId = rest;
    else if (kind === 'environment') {
      const slash = rest.indexOf('/');
      projectId = rest.slice(0, slash);
      environment = rest.slice(slash + 1);
    } else if ((kind === 'run' || kind === 'job') && !projectId) projectId = await this.#runProject(rest.split('/')[0] ?? '');
    else if (kind === 'rollout') {
      const rollout = await this.#rollout(rest);
      projectId ??= rollout.projectId;
      environment ??= rollout.environment;
    }
    return { projectId, environment };
  }

  async #runProject(runId: string): Promise<string | null> {
    if (!this.#runs.has(runId)) {
      if (this.#runs.size > CACHE_LIMIT) this.#runs.clear();
      this.#runs.set(runId, (await this.#store.runs.get(runId))?.projectId ?? null);
    }
    return this.#runs.get(runId) ?? null;
  }

  async #rollout(id: string): Promise<EventScope> {
    let scope = this.#rollouts.get(id);
    if (!scope) {
      const record = await this.#store.rollouts.get(id);
      scope = { projectId: record?.projectId ?? null, environment: record?.environment ?? null };
      if (this.#rollouts.size > CACHE_LIMIT) this.#rollouts.clear();
      this.#rollouts.set(id, scope);
    }
    return scope;
  }
}

function splitSubject(subject: string): [string, string?] {
  const colon = subject.indexOf(':');
  return colon < 0 ? [subject] : [subject.slice(0, colon), subject.slice(colon + 1)];
}
