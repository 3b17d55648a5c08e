/** `gantry experiment list|run|show|abort`: chaos experiments, as declared in the running releases' gantry.yaml. */
import type { Command } from 'commander';
import { formatDuration } from '../../pipeline/durations.ts';
import { ApiClient, serverAddress } from '../api-client.ts';
import { bold, dim, green, printJson, red, yellow } from '../output.ts';

const enc = encodeURIComponent;
const client = (program: Command) => new ApiClient(serverAddress((program.opts() as { data?: string }).data));

/** How often `run` asks how the experiment is doing. */
const PROGRESS_POLL_MS = 500;

interface RunRecord {
  experimentId: string;
  name: string;
  environment: string;
  release: string | null;
  verdict: string | null;
  reason: string | null;
  phase?: string;
  running?: boolean;
  affected: number;
  unaffected: number;
  startedAt: number;
  finishedAt: number | null;
  before: Numbers | null;
  during: Numbers | null;
  after: Numbers | null;
}

interface Numbers {
  outcome: string;
  requests: number;
  errors: number;
  checks: { name: string; outcome: string; reason: string }[];
}

function paintVerdict(verdict: string | null): string {
  if (verdict === 'held') return green(verdict);
  if (verdict === 'broken') return red(verdict);
  if (verdict === 'aborted') return yellow(verdict);
  return dim('running');
}

function line(r: RunRecord): string {
  const share = r.affected + r.unaffected > 0 ? `${r.affected}/${r.affected + r.unaffected} requests faulted` : 'no request faulted';
  return `${r.experimentId}  ${paintVerdict(r.verdict).padEnd(8)}  ${r.name}  ${r.environment}  ${dim(share)}\n`;
}

function numbers(label: string, n: Numbers | null): string {
  if (n === null) return `  ${label.padEnd(7)} ${dim('not measured')}\n`;
  const checks = n.checks
    .map((c) => `\n            ${c.outcome === 'fail' ? red('✗') : c.outcome === 'pass' ? green('✓') : dim('?')} ${c.reason}`)
    .join('');
  return `  ${label.padEnd(7)} ${n.outcome}: ${n.errors} errors in ${n.requests} requests${checks}\n`;
}

function details(r: RunRecord): string {
  return [
    bold(line(r)),
    `  release ${r.release ?? '-'}; ${r.reason ?? (r.phase ? `phase ${r.phase}` : '')}\n`,
    numbers('before', r.before),
    numbers('during', r.during),
    numbers('after', r.after),
  ].join('');
}

export function registerExperimentCommands(program: Command): void {
  const experiment = program
    .command('experiment')
    .description('chaos experiments: a hypothesis, faults with a bounded blast radius, automatic halt, a record');
  experiment
    .command('list <project>')
    .description('the experiments the running releases declare, and the runs, newest first')
    .option('--env <environment>', 'one environment only')
    .option('--json', 'JSON output')
    .action(async (project: string, opts: { env?: string; json?: boolean }) => {
      const query = opts.env ? `?env=${enc(opts.env)}` : '';
      const body = await client(program).request<{
        experiments: { name: string; environment: string; config: { durationMs: number } }[];
        runs: RunRecord[];
      }>('GET', `/api/projects/${enc(project)}/experiments${query}`);
      if (opts.json) {
        printJson(body);
        return;
      }
      if (body.experiments.length === 0) process.stdout.write('no experiments declared\n');
      for (const e of body.experiments)
        process.stdout.write(`${bold(e.name)}  ${e.environment}  ${dim(formatDuration(e.config.durationMs))}\n`);
      if (body.runs.length > 0) process.stdout.write(`\nruns:\n`);
      for (const r of body.runs) process.stdout.write(line(r));
    });
  experiment
    .command('run <project> <name>')
    .description('run an experiment and follow it to its verdict (exit 1 unless the hypothesis held)')
    .option('--env <environment>', 'the environment, when several declare one of that name')
    .option('--dry-run', 'say what it would do (faults, hypothesis, what the guard says now) without injecting anything')
    .option('--detach', 'start it and return at once')
    .option('--json', 'JSON output')
    .action(async (project: string, name: string, opts: { env?: string; dryRun?: boolean; detach?: boolean; json?: boolean }) => {
      const c = client(program);
      const { experiment: started } = await c.request<{ experiment: Record<string, unknown> & { experimentId?: string } }>(
        'POST',
        `/api/projects/${enc(project)}/experiments/${enc(name)}/run`,
        { env: opts.env, dryRun: opts.dryRun ?? false },
      );
      if (opts.dryRun || opts.detach || started.experimentId === undefined) {
        if (opts.json) printJson(started);
        else process.stdout.write(opts.dryRun ? dryRunText(started) : `started ${String(started.experimentId)}\n`);
        return;
      }
      const id = started.experimentId;
      let phase = '';
      for (;;) {
        const { run } = await c.request<{ run: RunRecord }>('GET', `/api/projects/${enc(project)}/experiment-runs/${enc(id)}`);
        if (!opts.json && run.phase !== undefined && run.phase !== phase) {
          phase = run.phase;
          process.stderr.write(dim(`${id}: ${phase}\n`));
        }
        if (!run.running) {
          if (opts.json) printJson(run);
          else process.stdout.write(details(run));
          process.exitCode = run.verdict === 'held' ? 0 : 1;
          return;
        }
        await new Promise((r) => setTimeout(r, PROGRESS_POLL_MS));
      }
    });
  experiment
    .command('show <project> <run>')
    .description("a run's record: faults, blast radius, the hypothesis before, during and after, the verdict")
    .option('--json', 'JSON output')
    .action(async (project: string, id: string, opts: { json?: boolean }) => {
      const { run } = await client(program).request<{ run: RunRecord }>('GET', `/api/projects/${enc(project)}/experiment-runs/${enc(id)}`);
      if (opts.json) printJson(run);
      else process.stdout.write(details(run));
    });
  experiment
    .command('abort <project> <run>')
    .description('abort a running experiment: its faults come out at once')
    .option('--json', 'JSON output')
    .action(async (project: string, id: string, opts: { json?: boolean }) => {
      const { run } = await client(program).request<{ run: { experimentId: string; verdict: string; reason: string } }>(
        'POST',
        `/api/projects/${enc(project)}/experiment-runs/${enc(id)}/abort`,
      );
      if (opts.json) printJson(run);
      else process.stdout.write(`${run.experimentId} ${paintVerdict(run.verdict)}: ${run.reason}\n`);
    });
}

function dryRunText(plan: Record<string, unknown>): string {
  const problems = (plan.guardProblems as string[] | undefined) ?? [];
  return [
    `would run ${String(plan.name)} in ${String(plan.environment)} on release ${String(plan.release ?? '-')} for ${formatDuration(Number(plan.durationMs))}`,
    `faults: ${JSON.stringify(plan.faults)}`,
    `hypothesis: ${JSON.stringify(plan.hypothesis)}`,
    problems.length === 0 ? 'the guard would let it start' : `the guard would refuse: ${problems.join('; ')}`,
    '',
  ].join('\n');
}
