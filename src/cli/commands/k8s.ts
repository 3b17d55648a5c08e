/**
 * Kubernetes as a deploy target: `gantry k8s render` (what Gantry would apply to an environment's
 * namespace) and `gantry proxy` (the command the rendered proxy Deployment runs in the cluster).
 */
import type { Command } from 'commander';
import { InputError } from '../../core/errors.ts';
import { ApiClient, serverAddress } from '../api-client.ts';

/** The defaults match the rendered proxy Deployment (src/kubernetes/manifests.ts). */
const PROXY_DEFAULTS = { host: '0.0.0.0', port: '8080', metricsPort: '9090', pollMs: '1000' } as const;

const enc = encodeURIComponent;

export function registerK8sCommands(program: Command): void {
  const k8s = program.command('k8s').description('Kubernetes as a deploy target: the manifests of an environment (docs/kubernetes.md)');
  k8s
    .command('render <project> <env>')
    .description(
      'print the YAML Gantry would apply, validated against Kubernetes 1.29–1.33 schemas (check it with `kubectl apply --dry-run=server -f -`)',
    )
    .option('--release <n>', "the release to render (default: the environment's current release, else the newest)")
    .action(async (project: string, env: string, opts: { release?: string }) => {
      if (opts.release !== undefined && !/^[1-9]\d*$/.test(opts.release))
        throw new InputError(`--release takes a release number, not '${opts.release}'`);
      const query = opts.release === undefined ? '' : `?release=${opts.release}`;
      const client = new ApiClient(serverAddress((program.opts() as { data?: string }).data));
      process.stdout.write(await client.text('GET', `/api/projects/${enc(project)}/environments/${enc(env)}/kubernetes${query}`));
    });

  program
    .command('proxy')
    .description(
      "Gantry's traffic proxy in a Kubernetes pod: routes by the mounted route file, re-read when it changes (docs/kubernetes.md)",
    )
    .requiredOption('--routes <file>', 'the route file (the routes ConfigMap, mounted)')
    .option('--host <address>', 'listen address of both ports', PROXY_DEFAULTS.host)
    .option('--port <n>', 'traffic port (0: any free port)', PROXY_DEFAULTS.port)
    .option('--metrics-port <n>', 'port of the measurements the canary analysis reads (0: any free port)', PROXY_DEFAULTS.metricsPort)
    .option('--poll-ms <ms>', 'how often the route file is re-read', PROXY_DEFAULTS.pollMs)
    .action(async (opts: { routes: string; host: string; port: string; metricsPort: string; pollMs: string }) => {
      const port = portOption('--port', opts.port);
      const metricsPort = portOption('--metrics-port', opts.metricsPort);
      const pollMs = Number(opts.pollMs);
      if (!Number.isInteger(pollMs) || pollMs < 10)
        throw new InputError(`--poll-ms takes milliseconds (at least 10), not '${opts.pollMs}'`);
      const [{ runClusterProxy }, { createLogger }] = await Promise.all([
        import('../../proxy/index.ts'),
        import('../../platform/logger.ts'),
      ]);
      // JSON lines on stdout: the pod's log, read by `kubectl logs` and log collectors.
      const log = createLogger({ component: 'proxy', destination: process.stdout, format: 'json', base: { pid: process.pid } });
      const proxy = await runClusterProxy({ routesFile: opts.routes, host: opts.host, port, metricsPort, pollMs, log });
      process.on('SIGTERM', () => void proxy.shutdown());
      process.on('SIGINT', () => void proxy.shutdown());
      await proxy.done;
    });
}

function portOption(flag: string, value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new InputError(`${flag} takes a port from 0 to 65535, not '${value}'`);
  return port;
}
