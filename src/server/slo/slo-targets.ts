/**
 * Which SLOs apply where: every environment with a current release, and the SLOs that release's
 * gantry.yaml declares for it (SLOs are code: they change with a deploy). Configs are parsed once
 * per release.
 */
import type { SloConfig } from '../../core/slo-config.ts';
import { parseStoredConfig } from '../../pipeline/stored-config.ts';
import type { Store } from '../../store/ports.ts';
import type { SloTarget } from './slo-service.ts';

const CACHE_LIMIT = 1000;

/** A `targets()` for SloService over the store. */
export function storeSloTargets(store: Store): () => Promise<SloTarget[]> {
  const byRelease = new Map<string, SloConfig[]>();
  const slosOf = async (releaseId: string): Promise<SloConfig[]> => {
    let slos = byRelease.get(releaseId);
    if (slos === undefined) {
      const release = await store.releases.get(releaseId);
      try {
        slos = release === undefined ? [] : (parseStoredConfig(release.configText).slos ?? []);
      } catch {
        // A release is made from a config that validated; one that no longer parses has none.
        slos = [];
      }
      if (byRelease.size >= CACHE_LIMIT) byRelease.clear();
      byRelease.set(releaseId, slos);
    }
    return slos;
  };
  return async () => {
    const targets: SloTarget[] = [];
    for (const project of await store.projects.list()) {
      for (const env of await store.rollouts.environments(project.id)) {
        if (env.currentReleaseId === null) continue;
        const slos = (await slosOf(env.currentReleaseId)).filter((s) => s.environments === undefined || s.environments.includes(env.name));
        targets.push({ projectId: project.id, environment: env.name, slos });
      }
    }
    return targets;
  };
}
