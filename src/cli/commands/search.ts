/**
 * `gantry search QUERY [--since] [--until] [--type] [--json]`: one search over the server's records
 * (docs/search.md); `gantry events export [--since] [--until] [--project] > events.jsonl`: the
 * event log as JSON Lines, streamed from the server to stdout.
 */
import { once } from 'node:events';
import type { Command } from 'commander';
import type { SearchAnswer } from '../../server/index.ts';
import { ApiClient, apiErrorOf, serverAddress } from '../api-client.ts';
import { dim, printJson } from '../output.ts';

const TIME_HELP = 'a duration back from now (30m, 12h, 7d, 2w) or a date (2026-11-01)';

export function registerSearchCommands(program: Command): void {
  const client = () => new ApiClient(serverAddress((program.opts() as { data?: string }).data));

  program
    .command('search <query...>')
    .description(
      'Search runs, jobs, deploys, releases, incidents, alerts, events and service logs: words, "phrases", word*, commit:SHA, release:N, by:PERSON, type:KIND, project:P, env:E, since:7d, until:DATE (docs/search.md)',
    )
    .option('--since <time>', TIME_HELP)
    .option('--until <time>', TIME_HELP)
    .option('--type <kinds>', 'kinds or event types, comma-separated: run, job, deploy, release, incident, alert, experiment, event, log')
    .option('--limit <n>', 'at most this many results', '50')
    .option('--json', 'the API answer as JSON')
    .action(async (words: string[], opts: { since?: string; until?: string; type?: string; limit: string; json?: boolean }) => {
      const query = new URLSearchParams({ q: words.join(' '), limit: opts.limit });
      for (const key of ['since', 'until', 'type'] as const) if (opts[key]) query.set(key, opts[key]);
      const api = client();
      const answer = await api.request<SearchAnswer>('GET', `/api/search?${query}`);
      if (opts.json) {
        printJson(answer);
        return;
      }
      if (answer.results.length === 0) {
        process.stdout.write('nothing matches\n');
        return;
      }
      for (const r of answer.results) {
        const more = r.matches > 1 ? dim(` (${r.matches} records)`) : '';
        process.stdout.write(`${r.at.slice(0, 19).replace('T', ' ')}  ${r.kind.padEnd(8)} ${r.title}${more}\n`);
        if (r.detail) process.stdout.write(`${' '.repeat(30)}${r.detail.replace(/\s+/g, ' ').slice(0, 160)}\n`);
        process.stdout.write(`${' '.repeat(30)}${dim(`${api.address.url}${r.link}`)}\n`);
      }
      if (answer.more) process.stdout.write(dim(`more match: narrow the query, or raise --limit\n`));
    });

  const events = program.command('events').description('The event log');
  events
    .command('export')
    .description(
      'The event log as JSON Lines on stdout, oldest first, each event with its project and environment: `gantry events export --since 30d > events.jsonl`',
    )
    .option('--since <time>', TIME_HELP)
    .option('--until <time>', TIME_HELP)
    .option('--project <project>', 'only this project (name or id)')
    .action(async (opts: { since?: string; until?: string; project?: string }) => {
      const query = new URLSearchParams();
      for (const key of ['since', 'until', 'project'] as const) if (opts[key]) query.set(key, opts[key]);
      const response = await client().raw('GET', `/api/events/export?${query}`);
      if (!response.ok || !response.body) throw apiErrorOf(response.status, await response.text());
      // Written as it arrives, waiting whenever stdout is full: any period in bounded memory.
      for await (const chunk of response.body) {
        if (!process.stdout.write(chunk as Uint8Array)) await once(process.stdout, 'drain');
      }
    });
}
