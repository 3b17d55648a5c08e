/** `gantry dora [project] [--env E] [--since 30d] [--json]`: DORA's numbers from the server's event log (docs/dora.md). */
import type { Command } from 'commander';
import { DEFAULT_SINCE, parseSince } from '../../dora/index.ts';
import type { DoraAnswer } from '../../server/index.ts';
import { ApiClient, serverAddress } from '../api-client.ts';
import { doraText } from '../dora-text.ts';
import { printJson } from '../output.ts';

export function registerDoraCommand(program: Command): void {
  program
    .command('dora [project]')
    .description(
      'DORA metrics of a project (or every project): deployment frequency, lead time for changes, change failure rate, failed deployment recovery time and rework rate, with the 2024 tiers beside them and the rollouts behind them',
    )
    .option('--env <environment>', 'the environment', 'production')
    .option('--since <window>', 'a duration back from now (7d, 30d, 90d, 12h, 2w) or a date (2026-11-01)', DEFAULT_SINCE)
    .option('--json', 'the API answer as JSON')
    .action(async (project: string | undefined, opts: { env: string; since: string; json?: boolean }) => {
      // Checked here too, so a typo fails before any request, with the same code the API gives.
      parseSince(opts.since, Date.now());
      const query = new URLSearchParams({ env: opts.env, since: opts.since });
      if (project) query.set('project', project);
      const client = new ApiClient(serverAddress((program.opts() as { data?: string }).data));
      const answer = await client.request<DoraAnswer>('GET', `/api/dora?${query}`);
      if (opts.json) printJson(answer);
      else process.stdout.write(doraText(answer));
    });
}
