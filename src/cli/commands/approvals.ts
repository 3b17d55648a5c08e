/** `gantry approve|approvals`: approving a deploy to a protected environment, and what waits for approvals. */
import type { Command } from 'commander';
import { ApiClient, serverAddress } from '../api-client.ts';
import type { PendingApproval } from '../../server/index.ts';
import { dim, printJson } from '../output.ts';

const enc = encodeURIComponent;
const client = (program: Command) => new ApiClient(serverAddress((program.opts() as { data?: string }).data));

export function registerApprovalCommands(program: Command): void {
  program
    .command('approve <project> [release]')
    .description(
      'approve a release (number or id) for a protected environment, never one you made or asked to deploy; without a release, the rollout waiting for approval there',
    )
    .requiredOption('--env <env>', 'the environment')
    .action(async (project: string, release: string | undefined, opts: { env: string }) => {
      const c = client(program);
      const env = `/api/projects/${enc(project)}/environments/${enc(opts.env)}`;
      if (release === undefined) {
        const { rollout } = await c.request<{ rollout: { id: string; phase: string } }>('POST', `${env}/rollout/approve`);
        return void process.stdout.write(`rollout ${rollout.id}: ${rollout.phase}\n`);
      }
      const { approval } = await c.request<{ approval: PendingApproval }>('POST', `${env}/approvals`, { release });
      process.stdout.write(
        approval.missing === 0
          ? `approved release #${approval.release} for ${opts.env}: it has its approvals, deploy it (\`gantry deploy ${project} ${approval.release} --env ${opts.env}\`)\n`
          : `approved release #${approval.release} for ${opts.env}: ${approval.missing} more needed\n`,
      );
    });

  program
    .command('approvals <project>')
    .description('deploys of a project waiting for approvals')
    .option('--json', 'JSON output')
    .action(async (project: string, opts: { json?: boolean }) => {
      const { approvals } = await client(program).request<{ approvals: PendingApproval[] }>(
        'GET',
        `/api/projects/${enc(project)}/approvals`,
      );
      if (opts.json) return printJson(approvals);
      if (approvals.length === 0) return void process.stdout.write('no deploy is waiting for approvals\n');
      for (const a of approvals) {
        const from = a.group ? ` from ${a.group}` : '';
        const by = a.approvedBy.length > 0 ? `approved by ${a.approvedBy.join(', ')}` : 'no approvals yet';
        process.stdout.write(
          `#${String(a.release).padEnd(4)} → ${a.environment.padEnd(12)} ${a.missing} of ${a.required} missing${from}; ${by}  ${dim(`asked by ${a.requestedBy} at ${a.requestedAt}`)}\n`,
        );
      }
    });
}
