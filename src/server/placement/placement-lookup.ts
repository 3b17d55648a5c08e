/**
 * Whether an environment is placed on agents, and how: its `placement` in the gantry.yaml of the
 * release that governs it (the one being deployed, else the one under way, else the one running).
 * A release's config never changes, so each answer is kept.
 */
import type { PlacementConfig } from '../../core/delivery-config.ts';
import { parseStoredConfig } from '../../pipeline/stored-config.ts';
import type { Store } from '../../store/ports.ts';

export class PlacementLookup {
  readonly #store: Store;
  readonly #known = new Map<string, PlacementConfig | undefined>();

  constructor(store: Store) {
    this.#store = store;
  }

  /** The placement a release gives an environment; undefined for the server's own machine (or an unreadable config). */
  async ofRelease(releaseId: string, environment: string): Promise<PlacementConfig | undefined> {
    const key = `${releaseId}\n${environment}`;
    if (this.#known.has(key)) return this.#known.get(key);
    const release = await this.#store.releases.get(releaseId);
    let placement: PlacementConfig | undefined;
    try {
      placement = release ? parseStoredConfig(release.configText).environments?.[environment]?.placement : undefined;
    } catch {
      // An unreadable config is the embedded runtime's to report, as before.
      placement = undefined;
    }
    this.#known.set(key, placement);
    return placement;
  }

  /** The placement of an environment by its key (`<projectId>:<environment>`), from `releaseId` when given. */
  async ofEnvironment(environmentKey: string, releaseId?: string): Promise<PlacementConfig | undefined> {
    const colon = environmentKey.indexOf(':');
    const projectId = environmentKey.slice(0, colon);
    const environment = environmentKey.slice(colon + 1);
    const governing =
      releaseId ??
      (await this.#store.rollouts.active(projectId, environment))?.releaseId ??
      (await this.#store.rollouts.environment(projectId, environment))?.currentReleaseId ??
      null;
    return governing === null ? undefined : this.ofRelease(governing, environment);
  }
}
