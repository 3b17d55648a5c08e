/**
 * The in-cluster proxy Deployment's pods for the Kubernetes end-to-end tests: real
 * `gantry proxy --routes FILE` processes on loopback, each following the route file the test
 * writes from the applied ConfigMap (the kubelet's part). Stopped by their own PIDs.
 */
import { startCli, type RunningCli } from './cli.ts';
import { waitFor } from './wait.ts';

export interface ClusterProxyPod {
  cli: RunningCli;
  /** Traffic port. */
  port: number;
  /** Measurement and fault port (9090 in a pod), reached through the API's pod proxy. */
  metricsPort: number;
}

/** Starts one proxy by `routesFile` (re-read every 50 ms); resolves once both its ports listen. */
export async function startClusterProxyPod(dir: string, routesFile: string): Promise<ClusterProxyPod> {
  const cli = startCli(
    dir,
    ['proxy', '--routes', routesFile, '--host', '127.0.0.1', '--port', '0', '--metrics-port', '0', '--poll-ms', '50'],
    { timeoutMs: 120_000 },
  );
  const ready = await waitFor(
    () => {
      const line = cli
        .stdout()
        .split('\n')
        .find((l) => l.includes('"proxy ready"'));
      if (line !== undefined) return JSON.parse(line) as { port: number; metricsPort: number };
      if (cli.child.exitCode !== null) throw new Error(`gantry proxy exited: ${cli.stderr()}`);
      return undefined;
    },
    { what: 'gantry proxy to be ready' },
  );
  return { cli, port: ready.port, metricsPort: ready.metricsPort };
}

/** Stops each proxy (SIGTERM to its own PID) and waits for it to exit. */
export async function stopClusterProxyPods(pods: readonly ClusterProxyPod[]): Promise<void> {
  for (const p of pods) {
    if (p.cli.child.exitCode === null && p.cli.child.pid !== undefined) process.kill(p.cli.child.pid, 'SIGTERM');
    await p.cli.result.catch(() => undefined);
  }
}
