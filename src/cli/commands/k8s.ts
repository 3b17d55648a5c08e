/** `gantry k8s render`: what Gantry would apply to an environment's Kubernetes namespace. */
import type { Command } from 'commander';
import { InputError } from '../../core/errors.ts';
import { ApiClient, serverAddress } from '../api-client.ts';

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
}
