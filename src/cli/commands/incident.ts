/** `gantry incident list|show|open|ack|mitigate|resolve|note|postmortem`. */
import type { Command } from 'commander';
import { GantryError } from '../../core/errors.ts';
import { formatDuration } from '../../pipeline/durations.ts';
import { ApiClient, serverAddress } from '../api-client.ts';
import { bold, dim, green, printJson, red, yellow } from '../output.ts';

const enc = encodeURIComponent;
const client = (program: Command) => new ApiClient(serverAddress((program.opts() as { data?: string }).data));

interface IncidentRow {
  number: number;
  projectId: string;
  environment: string | null;
  title: string;
  severity: string;
  state: string;
  owner: string | null;
  openedAt: number;
  ttaMs: number | null;
  ttrMs: number | null;
}

function paintState(state: string): string {
  if (state === 'open') return red(state);
  if (state === 'resolved') return green(state);
  return yellow(state);
}

function line(i: IncidentRow): string {
  const times = [
    i.ttaMs === null ? null : `ack ${formatDuration(i.ttaMs)}`,
    i.ttrMs === null ? null : `restored ${formatDuration(i.ttrMs)}`,
  ]
    .filter(Boolean)
    .join(', ');
  return `#${String(i.number).padEnd(4)} ${paintState(i.state.padEnd(12))} ${i.severity}  ${i.environment ?? '-'}  ${i.title}${i.owner ? dim(` (${i.owner})`) : ''}${times ? dim(`  ${times}`) : ''}\n`;
}

export function registerIncidentCommands(program: Command): void {
  const incident = program
    .command('incident')
    .description('incidents: opened by page alerts or by hand, acknowledged, mitigated, resolved');
  incident
    .command('list [project]')
    .description('incidents, newest first')
    .option('--state <states>', 'open, acknowledged, mitigated, resolved (comma-separated)')
    .option('--json', 'JSON output')
    .action(async (project: string | undefined, opts: { state?: string; json?: boolean }) => {
      const query = new URLSearchParams();
      if (project) query.set('project', project);
      if (opts.state) query.set('state', opts.state);
      const { incidents } = await client(program).request<{ incidents: IncidentRow[] }>('GET', `/api/incidents?${query}`);
      if (opts.json) {
        printJson(incidents);
        return;
      }
      if (incidents.length === 0) process.stdout.write('no incidents\n');
      for (const i of incidents) process.stdout.write(line(i));
    });
  incident
    .command('show <project> <number>')
    .description('an incident: timeline, impact, notes, suggested actions')
    .option('--json', 'JSON output')
    .action(async (project: string, number: string, opts: { json?: boolean }) => {
      const view = await client(program).request<{
        incident: IncidentRow;
        ttaMs: number | null;
        ttrMs: number | null;
        timeline: { at: number; text: string; by?: string }[];
        impact: { failedRequests: number; totalRequests: number; budgetBurned: number | null } | null;
        suggestions: { text: string }[];
      }>('GET', `/api/projects/${enc(project)}/incidents/${enc(number)}`);
      if (opts.json) {
        printJson(view);
        return;
      }
      process.stdout.write(bold(line({ ...view.incident, ttaMs: view.ttaMs, ttrMs: view.ttrMs })));
      if (view.impact)
        process.stdout.write(
          `impact: ${view.impact.failedRequests} of ${view.impact.totalRequests} requests failed${view.impact.budgetBurned === null ? '' : `, ${(view.impact.budgetBurned * 100).toFixed(1)}% of the error budget burned`}\n`,
        );
      for (const s of view.suggestions) process.stdout.write(`suggested: ${s.text}\n`);
      for (const e of view.timeline)
        process.stdout.write(`  ${dim(new Date(e.at).toISOString())} ${e.text}${e.by ? dim(` (${e.by})`) : ''}\n`);
    });
  incident
    .command('open <project> <title>')
    .description('open an incident by hand')
    .option('--env <env>', 'the environment affected')
    .option('--severity <sev>', 'sev1, sev2 or sev3', 'sev2')
    .action(async (project: string, title: string, opts: { env?: string; severity: string }) => {
      const { incident: made } = await client(program).request<{ incident: IncidentRow }>(
        'POST',
        `/api/projects/${enc(project)}/incidents`,
        {
          title,
          environment: opts.env,
          severity: opts.severity,
        },
      );
      process.stdout.write(`incident #${made.number} opened\n`);
    });
  for (const [command, path, done] of [
    ['ack', 'ack', 'acknowledged'],
    ['mitigate', 'mitigate', 'mitigated'],
    ['resolve', 'resolve', 'resolved'],
  ] as const) {
    incident
      .command(`${command} <project> <number>`)
      .description(`mark an incident ${done}`)
      .action(async (project: string, number: string) => {
        await client(program).request('POST', `/api/projects/${enc(project)}/incidents/${enc(number)}/${path}`);
        process.stdout.write(`incident #${number} ${done}\n`);
      });
  }
  incident
    .command('assign <project> <number> <owner>')
    .description('reassign an incident')
    .action(async (project: string, number: string, owner: string) => {
      await client(program).request('PUT', `/api/projects/${enc(project)}/incidents/${enc(number)}/owner`, { owner });
      process.stdout.write(`incident #${number} assigned to ${owner}\n`);
    });
  incident
    .command('severity <project> <number> <severity>')
    .description("change an incident's severity: sev1, sev2 or sev3")
    .action(async (project: string, number: string, severity: string) => {
      await client(program).request('PUT', `/api/projects/${enc(project)}/incidents/${enc(number)}/severity`, { severity });
      process.stdout.write(`incident #${number} is now ${severity}\n`);
    });
  incident
    .command('note <project> <number> <text>')
    .description("add a note to an incident's timeline")
    .action(async (project: string, number: string, text: string) => {
      await client(program).request('POST', `/api/projects/${enc(project)}/incidents/${enc(number)}/notes`, { text });
      process.stdout.write(`noted on incident #${number}\n`);
    });
  incident
    .command('postmortem <project> <number>')
    .description('write a Markdown postmortem draft to stdout')
    .action(async (project: string, number: string) => {
      const response = await client(program).raw('GET', `/api/projects/${enc(project)}/incidents/${enc(number)}/postmortem`);
      const text = await response.text();
      if (!response.ok)
        throw new GantryError(
          'HTTP_ERROR',
          (JSON.parse(text) as { error?: { message?: string } }).error?.message ?? `the server answered HTTP ${response.status}`,
        );
      process.stdout.write(text);
    });
}
