/** A real `gantry proxy --routes FILE` process on loopback, standing in for a proxy pod in the Kubernetes tests. */
import { type RunningCli, startCli } from './cli.ts';
import { waitFor } from './wait.ts';

export interface ClusterProxyProcess {
  cli: RunningCli;
  /** The traffic port. */
  port: number;
  /** The measurement port (the pod's 9090). */
  metricsPort: number;
}

/** Starts the proxy in `dir` on free ports; resolves once it logged that it is ready. */
export async function startClusterProxy(dir: string, routesFile: string, extraArgs: readonly string[] = []): Promise<ClusterProxyProcess> {
  const cli = startCli(dir, ['proxy', '--routes', routesFile, '--host', '127.0.0.1', '--port', '0', '--metrics-port', '0', ...extraArgs], {
    timeoutMs: 180_000,
  });
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
