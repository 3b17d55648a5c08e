/** Commands that need no server: validate, init, schema, run. */
import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import { appendFile, readdir, readFile, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { parseEnv } from 'node:util';
import type { Command } from 'commander';
import { type Diagnostic, formatDiagnostic, InputError, InvalidConfigError } from '../../core/errors.ts';
import type { GantryConfig, PullRequestInfo, TriggerEvent, TriggerKind } from '../../core/types.ts';
import { runLocally } from '../../engine/local-run.ts';
import { jobLogFile } from '../../engine/run-paths.ts';
import { runJob } from '../../executor/job-runner.ts';
import { parseLogLine } from '../../core/log-line.ts';
import { resolveRef } from '../../executor/workspace.ts';
import { starterConfig } from '../../pipeline/init-template.ts';
import { gantryJsonSchema } from '../../pipeline/json-schema.ts';
import { EXPERIMENTS_DIR, type ExperimentSource, isExperimentFile, mergeExperiments } from '../../pipeline/experiment-files.ts';
import { loadConfigFile, validateConfig } from '../../pipeline/load-config.ts';
import { compilePlan } from '../../pipeline/plan.ts';
import { explainPlan, gantryContextOf, refKind } from '../../pipeline/triggers.ts';
import { resolveInputs } from '../../pipeline/inputs.ts';
import { parseEnvNames } from '../../platform/child-env.ts';
import { pullRequestChangedFiles } from '../../platform/git.ts';
import type { JobRecord } from '../../store/ports.ts';
import { parsePairs } from '../key-value-flags.ts';
import { LiveTable } from '../live-table.ts';
import { writeSchemaFile } from '../schema-file.ts';
import { bold, dim, formatMs, printJson, red, statusSymbol } from '../output.ts';

export const DEFAULT_LOG_CAP_BYTES = 64 * 1024 * 1024;
const collect = (value: string, previous: string[]) => [...previous, value];

/** Secrets for `gantry run`: named environment variables and dotenv files — never values on the command line. */
export function collectSecrets(names: string[], files: string[]): Record<string, string> {
  const secrets: Record<string, string> = {};
  for (const file of files) {
    if (!existsSync(file)) throw new InputError(`secrets file ${file} does not exist`);
    Object.assign(secrets, parseEnv(readFileSync(file, 'utf8')));
  }
  for (const name of names) {
    const value = process.env[name];
    if (value === undefined)
      throw new InputError(`--secret ${name}: the environment variable ${name} is not set (export it first, or use --secrets-file)`);
    secrets[name] = value;
  }
  return secrets;
}

export function registerLocalCommands(program: Command): void {
  program
    .command('validate [file]')
    .description('check gantry.yaml and print every problem as FILE:LINE:COL: message (exit 2 when invalid)')
    .action(async (file?: string) => {
      const path = resolveConfigPath(file);
      const text = await readFile(path, 'utf8').catch(() => {
        throw new InputError(`cannot read ${path}: create one with \`gantry init\``);
      });
      const { config, diagnostics } = validateConfig(text, relativeName(path));
      if (config) diagnostics.push(...(await experimentFileProblems(path, text, config)));
      if (diagnostics.length === 0) {
        process.stdout.write(`${relativeName(path)} is valid\n`);
        return;
      }
      for (const d of diagnostics) process.stderr.write(`${formatDiagnostic(d)}\n`);
      process.stderr.write(`${diagnostics.length} problem${diagnostics.length === 1 ? '' : 's'} found\n`);
      process.exitCode = 2;
    });

  program
    .command('init')
    .description('write a starter gantry.yaml that fits this repository')
    .option('--force', 'overwrite an existing gantry.yaml')
    .action(async (opts: { force?: boolean }) => {
      const dir = process.cwd();
      const target = join(dir, 'gantry.yaml');
      if (existsSync(target) && !opts.force) throw new InputError('gantry.yaml already exists (use --force to overwrite it)');
      const packageJsonPath = join(dir, 'package.json');
      const packageJson = existsSync(packageJsonPath)
        ? (JSON.parse(await readFile(packageJsonPath, 'utf8')) as { scripts?: Record<string, string> })
        : undefined;
      const text = starterConfig({
        packageJson,
        hasPackageLock: existsSync(join(dir, 'package-lock.json')),
        hasMakefile: existsSync(join(dir, 'Makefile')),
        name: basename(dir),
      });
      await writeFile(target, text);
      await ignoreDataDir(dir);
      await writeSchemaFile(dir);
      process.stdout.write(`wrote gantry.yaml — try it with \`gantry run\`\n`);
    });

  program
    .command('schema')
    .description('print the JSON Schema of gantry.yaml (for editors)')
    .action(() => {
      printJson(gantryJsonSchema());
    });

  program
    .command('run')
    .description("run the pipeline of the repository in the current directory, locally, with the server's engine")
    .option('--job <id>', 'run this job and what it needs (repeatable)', collect, [])
    .option('--input <key=value>', 'a manual input (repeatable)', collect, [])
    .option('--secret <NAME>', 'pass the environment variable NAME as secrets.NAME (repeatable)', collect, [])
    .option('--secrets-file <file>', 'read secrets from a dotenv file (repeatable)', collect, [])
    .option('--event <kind>', 'the event to simulate: push, pull_request, manual, schedule, webhook', 'push')
    .option('--ref <ref>', 'the branch or tag to simulate (main, v1.2.0, refs/tags/v2.0.0); default: the checked-out branch')
    .option('--base <branch>', 'with --event pull_request: the branch the change would merge into (default main)', 'main')
    .option('--file <path>', 'the config file (default gantry.yaml)')
    .option('--parallel <n>', 'jobs at once (default: the number of cores)', (v) => Number.parseInt(v, 10))
    .option('--no-sandbox', 'run jobs as plain processes even where bubblewrap is installed')
    .option('--plan', 'show which jobs would run and why the others would not, without running anything')
    .option('--json', 'print one JSON object with the result')
    .option('-v, --verbose', 'stream job logs while they run')
    .action(async (opts: RunOptions) => {
      process.exitCode = await runCommand(opts);
    });
}

interface RunOptions {
  job: string[];
  input: string[];
  secret: string[];
  secretsFile: string[];
  event: string;
  ref?: string;
  base: string;
  file?: string;
  parallel?: number;
  sandbox: boolean;
  plan?: boolean;
  json?: boolean;
  verbose?: boolean;
}

const EVENTS: TriggerKind[] = ['push', 'pull_request', 'manual', 'schedule', 'webhook'];

/**
 * `--event pull_request`: a pull request of the checked-out branch (or `--ref`'s) into `--base`,
 * changing what `git diff base...HEAD` lists, as the server reads a pull request's files.
 */
async function simulatedPullRequest(
  repoDir: string,
  head: { sha: string; ref: string },
  base: string,
): Promise<{ pullRequest: PullRequestInfo; changedFiles: string[] | undefined }> {
  const headRef = refKind(head.ref).name;
  const changedFiles = head.sha ? await pullRequestChangedFiles(repoDir, base, head.sha).catch(() => undefined) : undefined;
  if (changedFiles === undefined && head.sha)
    throw new InputError(`--base: no branch '${base}' in this repository to compare ${headRef || 'HEAD'} with`);
  return { pullRequest: { number: 0, action: 'opened', baseRef: base, headRef, fork: false }, changedFiles };
}

/**
 * The ref a local run or plan is for: the checked-out branch, or `--ref` (a branch or tag of the
 * repository, or a full `refs/heads/…` or `refs/tags/…` name not made yet, to try a filter before
 * pushing it).
 */
async function simulatedRef(repoDir: string, ref: string | undefined): Promise<{ sha: string; ref: string }> {
  const head = await resolveRef(repoDir, 'HEAD').catch(() => ({ sha: '', ref: '' }));
  if (ref === undefined) return head;
  const found = await resolveRef(repoDir, ref).catch(() => null);
  if (found !== null && found.ref.startsWith('refs/')) return found;
  if (/^refs\/(heads|tags)\/./.test(ref)) return { sha: head.sha, ref };
  throw new InputError(
    `--ref: no branch or tag '${ref}' in this repository; to try one not made yet, write it in full (refs/tags/${ref} or refs/heads/${ref})`,
  );
}

async function runCommand(opts: RunOptions): Promise<number> {
  const event = opts.event as TriggerKind;
  if (!EVENTS.includes(event)) throw new InputError(`--event must be one of ${EVENTS.join(', ')}, got '${opts.event}'`);
  const parallel = opts.parallel ?? availableParallelism();
  if (!Number.isInteger(parallel) || parallel < 1) throw new InputError('--parallel expects a positive whole number');
  const repoDir = process.cwd();
  const { config } = await loadConfigFile(opts.file ? resolve(opts.file) : repoDir);
  const inputs = parsePairs(opts.input, '--input');

  // Resolved only when asked for: a plain run names itself by its working tree's branch.
  const pr = event === 'pull_request';
  const head = opts.plan || opts.ref !== undefined || pr ? await simulatedRef(repoDir, opts.ref) : null;
  const simulated = pr && head ? await simulatedPullRequest(repoDir, head, opts.base) : undefined;
  if (opts.plan && head) {
    const resolvedInputs = resolveInputs(config.pipeline.on.manual?.inputs, inputs);
    const triggerEvent: TriggerEvent = { kind: event, ref: head.ref, sha: head.sha, ...simulated };
    const full = explainPlan(config.pipeline, triggerEvent, resolvedInputs);
    // --job narrows the plan as it narrows the run (and rejects an unknown id the same way).
    const selected = new Set(
      compilePlan(config.pipeline, {
        inputs: resolvedInputs,
        gantry: gantryContextOf(triggerEvent, ''),
        only: opts.job,
      }).jobs.map((j) => j.key),
    );
    const explanation = { ...full, jobs: full.jobs.filter((j) => selected.has(j.key)) };
    if (opts.json) {
      printJson(explanation);
      return 0;
    }
    process.stdout.write(`${explanation.triggered ? 'triggered' : 'not triggered'}: ${explanation.reason}\n`);
    for (const job of explanation.jobs) {
      const mark =
        job.willRun === 'yes' ? statusSymbol('success') : job.willRun === 'no' ? statusSymbol('skipped') : statusSymbol('queued');
      process.stdout.write(`${mark} ${job.key.padEnd(24)} ${job.willRun.padEnd(8)} ${dim(job.reason)}\n`);
    }
    return 0;
  }

  // Editor support only: never a reason for a run to fail.
  await writeSchemaFile(repoDir).catch(() => undefined);
  const table = opts.json ? null : new LiveTable(process.stderr);
  const controller = new AbortController();
  const onSignal = () => controller.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const result = await runLocally({
      repoDir,
      config,
      only: opts.job.length > 0 ? opts.job : undefined,
      inputs,
      secrets: collectSecrets(opts.secret, opts.secretsFile),
      event,
      ...(opts.ref !== undefined && head ? { ref: head.ref } : {}),
      ...(simulated ? { pullRequest: simulated.pullRequest } : {}),
      parallel,
      sandbox: opts.sandbox ? 'auto' : 'off',
      logCapBytes: DEFAULT_LOG_CAP_BYTES,
      // The server's option, honoured here too: a pipeline sees the same host variables locally.
      passEnv: parseEnvNames(process.env.GANTRY_PASS_ENV ?? '', 'GANTRY_PASS_ENV'),
      runJob,
      onChange: (changed, all) => table?.update(changed, all),
      onLog:
        opts.verbose && !opts.json
          ? (line) => process.stderr.write(`${dim(`[${line.jobKey}]`, process.stderr)} ${line.text}\n`)
          : undefined,
      signal: controller.signal,
    });
    table?.stop();
    if (opts.json) {
      printJson(result.report);
    } else {
      printFailures(result.dataDir, result.runId, result.jobs);
      const took = totalDuration(result.jobs);
      process.stderr.write(
        `${bold(`${statusSymbol(result.report.status, process.stderr)} pipeline ${result.report.status}`, process.stderr)} ${dim(`in ${formatMs(took)} · logs in ${join(result.dataDir, 'runs', result.runId)}`, process.stderr)}\n`,
      );
    }
    return result.report.status === 'success' ? 0 : 1;
  } finally {
    table?.stop();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** The failing tests and the last lines of each failed job's log, so the reason is on screen without another command. */
function printFailures(dataDir: string, runId: string, jobs: JobRecord[]): void {
  for (const job of jobs.filter((j) => j.status === 'failure')) {
    process.stderr.write(`\n${red(`── ${job.key} failed`, process.stderr)}${job.reason ? `: ${job.reason}` : ''}\n`);
    for (const name of job.tests?.failures ?? []) process.stderr.write(`   ${red('✘', process.stderr)} ${name}\n`);
    const file = jobLogFile(dataDir, runId, job.key);
    if (!existsSync(file)) continue;
    for (const line of tailLines(file, 15)) process.stderr.write(`   ${parseLogLine(line).text}\n`);
  }
}

/** The last `count` lines of a file, reading only its end (a log can be tens of megabytes). */
function tailLines(file: string, count: number): string[] {
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd).size;
    const length = Math.min(size, 64 * 1024);
    const buffer = Buffer.alloc(length);
    readSync(fd, buffer, 0, length, size - length);
    const lines = buffer.toString('utf8').split('\n').filter(Boolean);
    return (length < size ? lines.slice(1) : lines).slice(-count);
  } finally {
    closeSync(fd);
  }
}

function totalDuration(jobs: JobRecord[]): number {
  const starts = jobs
    .map((j) => j.startedAt)
    .filter((v): v is string => v !== null)
    .map(Date.parse);
  const ends = jobs
    .map((j) => j.finishedAt)
    .filter((v): v is string => v !== null)
    .map(Date.parse);
  return starts.length && ends.length ? Math.max(...ends) - Math.min(...starts) : 0;
}

function resolveConfigPath(file?: string): string {
  if (file) return resolve(file);
  const yml = resolve('gantry.yml');
  return existsSync(yml) && !existsSync(resolve('gantry.yaml')) ? yml : resolve('gantry.yaml');
}

function relativeName(path: string): string {
  return path.startsWith(`${process.cwd()}/`) ? path.slice(process.cwd().length + 1) : path;
}

/** Keeps `.gantry/` (local runs, caches) out of git, so snapshots and commits never include it. */
async function ignoreDataDir(dir: string): Promise<void> {
  const gitignore = join(dir, '.gitignore');
  const current = existsSync(gitignore) ? await readFile(gitignore, 'utf8') : '';
  if (current.split('\n').some((l) => l.trim() === '.gantry/' || l.trim() === '.gantry')) return;
  await appendFile(gitignore, `${current && !current.endsWith('\n') ? '\n' : ''}.gantry/\n`);
}

/** The problems of `.gantry/experiments/*.yaml` beside gantry.yaml (what the server reads at each release). */
async function experimentFileProblems(path: string, text: string, config: GantryConfig): Promise<Diagnostic[]> {
  const dir = join(dirname(path), EXPERIMENTS_DIR);
  const names = await readdir(dir).catch(() => [] as string[]);
  const files: ExperimentSource[] = [];
  for (const name of names) {
    const file = `${EXPERIMENTS_DIR}/${name}`;
    if (isExperimentFile(file)) files.push({ file, text: await readFile(join(dir, name), 'utf8') });
  }
  try {
    mergeExperiments({ file: relativeName(path), text, config }, files);
    return [];
  } catch (error) {
    if (error instanceof InvalidConfigError) return error.diagnostics;
    throw error;
  }
}
