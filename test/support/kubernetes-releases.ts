/** Releases of a Kubernetes project stored directly (no pipeline run), for the Kubernetes end-to-end tests. */
import type { Store } from '../../src/store/ports.ts';

/** One release per commit, numbered in order, each with its gantry.yaml. */
export async function storeReleases(
  store: Store,
  projectId: string,
  releases: readonly { sha: string; configText: string }[],
): Promise<void> {
  for (const { sha, configText } of releases) {
    await store.releases.create({
      projectId,
      runId: null,
      sha,
      ref: 'refs/heads/main',
      configText,
      configHash: sha.slice(0, 8),
      artifactsPath: `releases/${sha.slice(0, 8)}`,
      createdBy: 'test',
    });
  }
}
