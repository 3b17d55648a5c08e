/** Commands that talk to a running server through its API. */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { InputError } from '../../core/errors.ts';
import type { JobReport, RunStatus } from '../../core/types.ts';
import { parseLogLine } from '../../core/log-line.ts';
import type { RunRecord } from '../../store/ports.ts';
import { ApiClient, serverAddress } from '../api-client.ts';
import { bold, dim, formatMs, printJson, statusSymbol } from '../output.ts';
import { parsePairs } from '../key-value-flags.ts';
import { refKind } from '../../pipeline/triggers.ts';

const collect = (value: string, previous: string[]) => [...previous, value];
const client = (program: Command) => new ApiClient(serverAddress((program.opts() as { data?: string }).data));
const enc = encodeURIComponent;

interface RunView {
  run: Omit<RunRecord, 'configText'>;
  status: RunStatus;
  jobs: JobReport[];
}

export function registerRemoteCommands(program: Command): void {
  const project = program.command('project').description('manage registered repositories');
  project
    .command('add <pathOrUrl>')
    .description('register a repository: a local path gets git hooks (a commit triggers at once), a URL is polled')
    .option('--name <name>', 'project name (default: the repository directory name)')
    .action(async (target: string, opts: { name?: string }) => {
      const isUrl = /^[a-z][a-z0-9+.-]*:\/\//i.test(target) || /^[^/]+@[^:]+:/.test(target);
      if (!isUrl && !existsSync(target)) throw new InputError(`${target} does not exist`);
      const body = isUrl ? { url: target, name: opts.name } : { path: resolve(target), name: opts.name };
      const result = await client(program).request<{ project: { id: string; name: string }; webhook: { url: string; secret: string } }>(
        'POST',
        '/api/projects',
        body,
      );
      process.stdout.write(`registered ${bold(result.project.name)} (${result.project.id})\n`);
      process.stdout.write(
        isUrl
          ? `polled for new commits; webhook: ${client(program).address.url}${result.webhook.url} secret ${result.webhook.secret}\n`
          : 'git hook installed: commits trigger runs at once\n',
      );
    });
  project
    .command('list')
    .description('list projects')
    .option('--json', 'JSON output')
    .action(async (opts: { json?: boolean }) => {
      const { projects } = await client(program).request<{
        projects: { id: string; name: string; source: { kind: string; path?: string; url?: string } }[];
      }>('GET', '/api/projects');
      if (opts.json) {
        printJson(projects);
        return;
      }
      for (const p of projects) process.stdout.write(`${p.name.padEnd(24)} ${p.source.path ?? p.source.url ?? ''}\n`);
    });
  project
    .command('remove <project>')
    .description("unregister a project (its repository gets back the git hook it had before Gantry's)")
    .action(async (name: string) => {
      const { warnings = [] } = await client(program).request<{ warnings?: string[] }>('DELETE', `/api/projects/${enc(name)}`);
      process.stdout.write(`removed ${name}\n`);
      for (const warning of warnings) process.stderr.write(`warning: ${warning}\n`);
    });
  project
    .command('webhook <project>')
    .description('print the webhook URL and secret (GitHub/GitLab/Gitea)')
    .action(async (name: string) => {
      const c = client(program);
      const hook = await c.request<{ url: string; secret: string }>('GET', `/api/projects/${enc(name)}/webhook`);
      process.stdout.write(`url:    ${c.address.url}${hook.url}\nsecret: ${hook.secret}\n`);
      // What to tick in the forge's settings, and how runs get back to it.
      process.stderr.write(
        dim(
          `send JSON, with push and pull request (merge request) events; for commit statuses on the forge, ` +
            `\`gantry secret set ${name} FORGE_TOKEN\` with a token that may set them\n`,
          process.stderr,
        ),
      );
    });

  const secret = program.command('secret').description('manage encrypted secrets');
  secret
    .command('set <project> <name>')
    .description('store a secret; the value is read from stdin (never from the command line)')
    .option('--env <env>', "an environment's own value (overrides the project's for deploys there)")
    .action(async (projectName: string, name: string, opts: { env?: string }) => {
      const value = (await readStdin()).replace(/\r?\n$/, '');
      if (!value) throw new InputError('no value on stdin: pipe it in, e.g. `printf %s "$TOKEN" | gantry secret set PROJECT NAME`');
      await client(program).request(
        'PUT',
        `/api/projects/${enc(projectName)}/secrets/${enc(name)}${opts.env ? `?env=${enc(opts.env)}` : ''}`,
        { value },
      );
      process.stdout.write(`secret ${name} set for ${projectName}${opts.env ? ` (${opts.env})` : ''}\n`);
    });
  secret
    .command('list <project>')
    .description('secret names')
    .action(async (projectName: string) => {
      const { names } = await client(program).request<{ names: string[] }>('GET', `/api/projects/${enc(projectName)}/secrets`);
      for (const n of names) process.stdout.write(`${n}\n`);
    });
  secret
    .command('delete <project> <name>')
    .description('delete a secret')
    .action(async (projectName: string, name: string) => {
      await client(program).request('DELETE', `/api/projects/${enc(projectName)}/secrets/${enc(name)}`);
      process.stdout.write(`secret ${name} deleted\n`);
    });

  program
    .command('trigger <project>')
    .description('start a run by hand; prints the run id')
    .option('--ref <ref>', 'branch, tag or sha (default: the default branch)')
    .option('--input <key=value>', 'a manual input (repeatable)', collect, [])
    .option('--follow', 'show the run live until it ends')
    .action(async (projectName: string, opts: { ref?: string; input: string[]; follow?: boolean }) => {
      const c = client(program);
      const result = await c.request<{ run?: RunRecord; skipped?: string }>('POST', `/api/projects/${enc(projectName)}/runs`, {
        ref: opts.ref,
        inputs: parsePairs(opts.input, '--input'),
      });
      if (!result.run) {
        process.stdout.write(`not triggered: ${result.skipped}\n`);
        return;
      }
      process.stdout.write(`${result.run.id}\n`);
      if (opts.follow) process.exitCode = await followRun(c, result.run.id);
    });

  const runs = program.command('runs').description('inspect and control runs');
  runs
    .command('list')
    .description('recent runs')
    .option('--project <p>', 'only this project')
    .option('--json', 'JSON output')
    .action(async (opts: { project?: string; json?: boolean }) => {
      const { runs: list } = await client(program).request<{ runs: RunRecord[] }>(
        'GET',
        `/api/runs${opts.project ? `?project=${enc(opts.project)}` : ''}`,
      );
      if (opts.json) {
        printJson(list);
        return;
      }
      for (const r of list) {
        const took = r.startedAt && r.finishedAt ? formatMs(Date.parse(r.finishedAt) - Date.parse(r.startedAt)) : '';
        process.stdout.write(
          `${statusSymbol(r.status)} ${r.id}  #${String(r.number).padEnd(4)} ${r.status.padEnd(9)} ${r.event.kind.padEnd(8)} ${refKind(r.event.ref).name.padEnd(16)} ${r.event.sha.slice(0, 8)} ${took}\n`,
        );
      }
    });
  runs
    .command('show <run>')
    .description('a run and its jobs')
    .option('--json', 'JSON output (same job shape as `gantry run --json`)')
    .option('--follow', 'live until the run ends')
    .action(async (runId: string, opts: { json?: boolean; follow?: boolean }) => {
      const c = client(program);
      if (opts.follow && !opts.json) {
        process.exitCode = await followRun(c, runId);
        return;
      }
      const view = await c.request<RunView>('GET', `/api/runs/${enc(runId)}`);
      if (opts.json) {
        printJson({ id: view.run.id, status: view.status, jobs: view.jobs });
        return;
      }
      printRun(view);
    });
  runs
    .command('cancel <run>')
    .description('cancel a run')
    .action(async (runId: string) => {
      const { run } = await client(program).request<{ run: RunRecord }>('POST', `/api/runs/${enc(runId)}/cancel`);
      process.stdout.write(`run ${run.id}: ${run.cancelRequested ? 'cancel requested' : run.status}\n`);
    });
  runs
    .command('rerun <run>')
    .description('run again (all jobs, or --failed)')
    .option('--failed', 'only failed jobs and what depends on them')
    .action(async (runId: string, opts: { failed?: boolean }) => {
      const { run } = await client(program).request<{ run: RunRecord }>('POST', `/api/runs/${enc(runId)}/rerun`, {
        failed: Boolean(opts.failed),
      });
      process.stdout.write(`${run.id}\n`);
    });

  program
    .command('logs <run>')
    .description('print job logs of a run')
    .option('--job <id>', 'only this job (id or matrix key)')
    .option('--follow', 'keep printing as the job writes')
    .option('--timestamps', 'prefix each line with its time')
    .action(async (runId: string, opts: { job?: string; follow?: boolean; timestamps?: boolean }) => {
      const c = client(program);
      const view = await c.request<RunView>('GET', `/api/runs/${enc(runId)}`);
      const jobs = opts.job ? view.jobs.filter((j) => j.key === opts.job || j.id === opts.job) : view.jobs;
      if (jobs.length === 0)
        throw new InputError(`run ${runId} has no job '${opts.job}' (jobs: ${view.jobs.map((j) => j.key).join(', ')})`);
      for (const job of jobs) {
        if (jobs.length > 1) process.stdout.write(`${bold(`── ${job.key}`)}\n`);
        const print = (line: { at: string; text: string }) =>
          process.stdout.write(`${opts.timestamps ? `${dim(line.at)} ` : ''}${line.text}\n`);
        if (opts.follow) {
          await c.stream(`/api/runs/${enc(runId)}/jobs/${enc(job.key)}/log?follow=true`, (event, data) => {
            if (event === 'line') print(data as { at: string; text: string });
          });
          continue;
        }
        const response = await c.raw('GET', `/api/runs/${enc(runId)}/jobs/${enc(job.key)}/log`);
        const text = await response.text();
        for (const line of text.split('\n')) if (line) print(parseLogLine(line));
      }
    });
}

function printRun(view: RunView): void {
  const r = view.run;
  process.stdout.write(
    `${statusSymbol(view.status)} ${bold(`run #${r.number}`)} ${r.id} ${view.status}  ${dim(`${r.event.kind} ${r.event.ref} ${r.event.sha.slice(0, 12)}`)}\n`,
  );
  for (const job of view.jobs) {
    const took = job.startedAt ? formatMs((job.finishedAt ? Date.parse(job.finishedAt) : Date.now()) - Date.parse(job.startedAt)) : '';
    const tests = job.tests ? dim(` tests: ${job.tests.passed} passed, ${job.tests.failed} failed, ${job.tests.skipped} skipped`) : '';
    process.stdout.write(
      `  ${statusSymbol(job.status)} ${job.key.padEnd(24)} ${job.status.padEnd(9)} ${took.padStart(7)}${tests}${job.reason ? dim(`  ${job.reason}`) : ''}\n`,
    );
  }
}

async function followRun(c: ApiClient, runId: string): Promise<number> {
  let status = 'queued' as RunStatus;
  const jobs = new Map<string, JobReport>();
  await c.stream(`/api/runs/${enc(runId)}/stream`, (event, data) => {
    if (event === 'job') {
      const job = data as JobReport;
      const before = jobs.get(job.key);
      jobs.set(job.key, job);
      if (before?.status !== job.status && job.status !== 'waiting')
        process.stderr.write(
          `${statusSymbol(job.status, process.stderr)} ${job.key.padEnd(24)} ${job.status}${job.reason ? dim(`  ${job.reason}`, process.stderr) : ''}\n`,
        );
    }
    if (event === 'end') status = (data as { status: RunStatus }).status;
  });
  process.stderr.write(`${statusSymbol(status, process.stderr)} run ${status}\n`);
  return status === 'success' ? 0 : 1;
}

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY)
    throw new InputError('the secret value is read from stdin: pipe it in, e.g. `printf %s "$TOKEN" | gantry secret set PROJECT NAME`');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
