/**
 * Continuous delivery: a successful push run on the project's default branch whose gantry.yaml
 * has a `service` becomes a release, and each environment with `auto: true` gets it deployed
 * (one with `approval: required` waits for `gantry rollout approve`).
 */
import { parseStoredConfig } from '../../pipeline/stored-config.ts';
import type { RunRecord, Store } from '../../store/ports.ts';
import type { DeliveryController } from './delivery-controller.ts';
import { runGit } from '../../platform/git.ts';
import type { ReleaseService } from './release-service.ts';

export interface AutoReleaseDeps {
  store: Store;
  releases: ReleaseService;
  delivery: DeliveryController;
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
    const gitDir = project.source.kind === 'local' ? project.source.path : null;
    const defaultRef = gitDir ? (await runGit(['-C', gitDir, 'symbolic-ref', '-q', 'HEAD']).catch(() => '')).trim() : 'refs/heads/main';
    if (run.event.ref !== defaultRef) return;
    const release = await this.#deps.releases.create(project, { runId: run.id, actor: 'trigger:auto' });
    for (const [name, env] of Object.entries(config.environments ?? {})) {
      if (!env.auto) continue;
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
