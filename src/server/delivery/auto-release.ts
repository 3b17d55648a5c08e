/**
 * Continuous delivery: a successful push run whose gantry.yaml has a `service` becomes a release
 * when it is of the default branch or of a branch or tag an environment's `auto` filter takes,
 * and the environments that take it get it deployed (pipeline/auto-deploy.ts; one with
 * `approval: required` waits for `gantry rollout approve`).
 */
import { autoDeploys } from '../../pipeline/auto-deploy.ts';
import { parseStoredConfig } from '../../pipeline/stored-config.ts';
import type { Project, RunRecord, Store } from '../../store/ports.ts';
import type { DeliveryController } from './delivery-controller.ts';
import type { ReleaseService } from './release-service.ts';

export interface AutoReleaseDeps {
  store: Store;
  releases: ReleaseService;
  delivery: DeliveryController;
  /** The full ref of the project's default branch (the repository's or its mirror's HEAD). */
  defaultRef(project: Project): Promise<string>;
  warn(message: string, data: Record<string, unknown>): void;
}

export class AutoRelease {
  readonly #deps: AutoReleaseDeps;

  constructor(deps: AutoReleaseDeps) {
    this.#deps = deps;
  }

  async onSuccessfulRun(run: RunRecord): Promise<void> {
    if (run.event.kind !== 'push' || !run.projectId) return;
    const config = parseStoredConfig(run.configText);
    if (!config.service) return;
    const project = await this.#deps.store.projects.get(run.projectId);
    if (!project) return;
    const defaultRef = await this.#deps.defaultRef(project).catch(() => 'refs/heads/main');
    const decided = autoDeploys(config.environments, run.event.ref, defaultRef);
    if (!decided.release) return;
    const release = await this.#deps.releases.create(project, { runId: run.id, actor: 'trigger:auto' });
    for (const name of decided.environments) {
      await this.#deps.delivery.deploy(project, release, name, 'trigger:auto').catch((error: unknown) =>
        this.#deps.warn('automatic deploy failed', {
          project: project.name,
          environment: name,
          release: release.id,
          error: String(error),
        }),
      );
    }
  }
}
