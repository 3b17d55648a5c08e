/**
 * What every chaos end-to-end test does first: register the repository as project `shop`, build
 * it, make a release of the build and deploy it to `staging`, then wait for the rollout to finish;
 * and what the ones that kill the server check last: the restarted server records the run.
 */
import type { GantryUp } from './server.ts';
import { waitFor } from './wait.ts';

/** Deploys `repoDir` to shop/staging through the API; resolves with the environment's proxy port once the rollout succeeded. */
export async function deployShopToStaging(server: GantryUp, repoDir: string): Promise<number> {
  const api = async <T>(method: string, path: string, body?: unknown): Promise<T> => (await server.api<T>(method, path, body)).body;
  await api('POST', '/api/projects', { path: repoDir, name: 'shop' });
  const run = (await api<{ run: { id: string } }>('POST', '/api/projects/shop/runs', {})).run.id;
  await waitFor(async () => (await api<{ status: string }>('GET', `/api/runs/${run}`)).status === 'success', {
    what: 'the build',
    timeoutMs: 30_000,
  });
  const release = (await api<{ release: { id: string } }>('POST', '/api/projects/shop/releases', { run })).release.id;
  await api('POST', '/api/projects/shop/environments/staging/deploy', { release });
  return waitFor(
    async () => {
      const v = await api<{ rollout: { phase: string } | null; live: { port: number | null } }>(
        'GET',
        '/api/projects/shop/environments/staging/rollout',
      );
      return v.rollout?.phase === 'succeeded' ? (v.live.port ?? undefined) : undefined;
    },
    { what: 'the deploy', timeoutMs: 30_000 },
  );
}

/** Starts the killed `server` again and waits until it has recorded how experiment run `id` ended. */
export async function recordAfterRestart<R extends { running?: boolean; verdict: string | null }>(
  server: GantryUp,
  id: string,
): Promise<R> {
  await server.startServer();
  return waitFor(
    async () => {
      const { run } = (await server.api<{ run: R }>('GET', `/api/projects/shop/experiment-runs/${id}`)).body;
      return run.running ? undefined : run;
    },
    { what: 'the restarted server to record the run', timeoutMs: 30_000 },
  );
}
