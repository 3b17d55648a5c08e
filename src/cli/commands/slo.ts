/** `gantry slo status|rules`: error budgets and burn-rate alerts of a project's SLOs. */
import type { Command } from 'commander';
import { GantryError } from '../../core/errors.ts';
import { formatDuration } from '../../pipeline/durations.ts';
import type { SloStatus } from '../../server/index.ts';
import { ApiClient, serverAddress } from '../api-client.ts';
import { bold, dim, green, printJson, red, yellow } from '../output.ts';

const enc = encodeURIComponent;
const client = (program: Command) => new ApiClient(serverAddress((program.opts() as { data?: string }).data));

function percent(fraction: number, digits = 3): string {
  return `${Number((fraction * 100).toFixed(digits))}%`;
}

function period(ms: number): string {
  return ms % 86_400_000 === 0 ? `${ms / 86_400_000}d` : formatDuration(ms);
}

function describeSli(sli: SloStatus['slo']['sli']): string {
  if (sli.kind === 'latency') return `requests within ${sli.thresholdMs}ms`;
  if (sli.kind === 'prometheus') return 'from Prometheus';
  return 'requests without a 5xx';
}

function printStatus(s: SloStatus): void {
  const firing = Object.entries(s.alerts).filter(([, a]) => a.status === 'firing');
  const head = `${bold(s.environment)} ${bold(s.slo.name)}  ${percent(s.slo.objective)} over ${period(s.slo.periodMs)} ${dim(`(${describeSli(s.slo.sli)})`)}`;
  process.stdout.write(`${head}${firing.map(([severity]) => `  ${red(`${severity.toUpperCase()} FIRING`)}`).join('')}\n`);
  if (s.problem !== null) process.stdout.write(`  ${yellow(`not measured: ${s.problem}`)}\n`);
  if (!s.evaluated) return;
  const remaining = s.budget.remaining;
  const paintBudget = remaining <= 0 ? red : remaining < 0.25 ? yellow : green;
  const exhausted =
    s.budget.exhaustedInMs === null
      ? 'not burning'
      : s.budget.exhaustedInMs === 0
        ? 'exhausted'
        : `gone in ${formatDuration(s.budget.exhaustedInMs)} at this rate`;
  process.stdout.write(
    `  SLI ${percent(s.budget.sli, 4)} of ${s.budget.total} events; budget ${paintBudget(`${percent(remaining, 1)} left`)} (${s.budget.bad} of ${Math.round(s.budget.allowedBad)} bad), ${exhausted}\n`,
  );
  for (const r of s.rules) {
    const mark = r.holds ? red('▲') : dim('·');
    process.stdout.write(
      `  ${mark} ${r.severity.padEnd(6)} ${`${r.burnRate}×`.padStart(6)}  ${formatDuration(r.longWindowMs).padStart(6)}: ${r.longBurnRate.toFixed(2)}×  ${formatDuration(r.shortWindowMs).padStart(6)}: ${r.shortBurnRate.toFixed(2)}×\n`,
    );
  }
}

export function registerSloCommands(program: Command): void {
  program
    .command('alerts')
    .description('burn-rate alerts')
    .command('list [project]')
    .description('alerts firing now, or with --state resolved the latest that resolved')
    .option('--state <state>', 'firing (default) or resolved')
    .option('--json', 'JSON output')
    .action(async (project: string | undefined, opts: { state?: string; json?: boolean }) => {
      const query = new URLSearchParams();
      if (project) query.set('project', project);
      if (opts.state) query.set('state', opts.state);
      const { alerts } = await client(program).request<{
        alerts: {
          environment: string | null;
          slo?: string;
          severity?: string;
          sinceMs?: number;
          peakBurnRate?: number;
          at?: string;
          data?: Record<string, unknown>;
        }[];
      }>('GET', `/api/alerts?${query}`);
      if (opts.json) {
        printJson(alerts);
        return;
      }
      if (alerts.length === 0) process.stdout.write(opts.state === 'resolved' ? 'no resolved alerts\n' : 'no alerts firing\n');
      for (const a of alerts) {
        if (a.data !== undefined)
          process.stdout.write(
            `${dim(a.at ?? '')} ${a.environment ?? '-'} ${String(a.data.slo)} ${String(a.data.severity)} resolved after ${formatDuration(Number(a.data.durationMs ?? 0))}\n`,
          );
        else
          process.stdout.write(
            `${red(String(a.severity).toUpperCase())} ${a.environment ?? '-'} ${a.slo} since ${new Date(a.sinceMs ?? 0).toISOString()} (peak ${(a.peakBurnRate ?? 0).toFixed(1)}×)\n`,
          );
      }
    });

  const slo = program.command('slo').description('service level objectives: error budgets and burn-rate alerts');
  slo
    .command('status <project>')
    .description("each SLO's budget, burn rate per alert window and alerts")
    .option('--env <env>', 'one environment')
    .option('--json', 'JSON output')
    .action(async (project: string, opts: { env?: string; json?: boolean }) => {
      const query = opts.env === undefined ? '' : `?env=${enc(opts.env)}`;
      const { slos } = await client(program).request<{ slos: SloStatus[] }>('GET', `/api/projects/${enc(project)}/slos${query}`);
      if (opts.json) {
        printJson(slos);
        return;
      }
      if (slos.length === 0) {
        process.stdout.write(`no SLOs: add an \`slos\` section to ${project}'s gantry.yaml and deploy it\n`);
        return;
      }
      for (const s of slos) printStatus(s);
    });
  slo
    .command('rules <project>')
    .description('Prometheus recording and alerting rules equivalent to Gantry’s evaluation (YAML for rule_files)')
    .action(async (project: string) => {
      const response = await client(program).raw('GET', `/api/projects/${enc(project)}/slos/rules`);
      const text = await response.text();
      if (!response.ok) {
        const error = (JSON.parse(text) as { error?: { message?: string } }).error;
        throw new GantryError('HTTP_ERROR', error?.message ?? `the server answered HTTP ${response.status}`);
      }
      process.stdout.write(text);
    });
}
