/**
 * Runs one job instance: workspace, artifacts and cache in, steps, outputs, cache and artifacts
 * out, one log. The same function serves `gantry run` and the server (see ports.ts).
 *
 * Decisions worth knowing:
 * - A step's environment is built from scratch, never inherited: the server's environment holds
 *   tokens and database URLs. Of the host's, a step gets PATH, LANG/LC_ALL/TZ, the network
 *   settings (proxies, CA bundles: `NETWORK_ENV`) and the names the operator added
 *   (`spec.passEnv`); in the sandbox the CA files those name are readable. The job's `env:` wins
 *   over all of them; HOME and TMPDIR are the job's own (docs/job-environment.md).
 * - A job's private temp dir `<workspaceDir>.tmp/` holds the step scripts (which may contain
 *   interpolated secrets), the GANTRY_OUTPUT/GANTRY_ENV files, HOME and TMPDIR. It is removed
 *   when the job ends.
 * - Artifacts are saved whatever the outcome (a failed job's files are what one needs to debug
 *   it), except when the job was cancelled: cancelling must be quick.
 * - A cancel is a hard stop: remaining steps are reported `cancelled`, `if: always()` cleanup
 *   steps included (their time would be unbounded).
 * - A step's failure ends the job's success; following steps run only when their `if` allows
 *   it (`always()`, `failure()`). `continue-on-error` keeps the step `failure` in the report but
 *   the job goes on as if it had succeeded (`steps.<id>.conclusion` is `success`).
 * - Steps are forked by a small helper process (spawner.ts), not by Node: a fork of Node costs
 *   milliseconds of main-thread time per step. In the sandbox a nested helper runs inside one
 *   bubblewrap for the whole job, started by the pooled helper; a one-step job's bubblewrap runs
 *   the step itself (docs/decisions/0032). That helper also writes the
 *   steps' output to the job log itself (job-log.ts): a step's output never passes through Node.
 * - Background processes a step leaves running (a server for the next step) are ended when the
 *   job ends. In the sandbox the job's steps share one pid namespace, whose end ends them.
 * - The runner never throws for a failing job: setup problems (a bad expression, a workspace
 *   that cannot be copied) are a `failure` with `error` set and a system line in the log.
 */
import { existsSync, rmSync, readFileSync, realpathSync, statSync, writeFileSync } from 'node:fs';
import { mkdir, readdir, rm, rmdir, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { JobResult, StepConfig, StepResult, StepStatus, TestCounts, Value } from '../core/types.ts';
import { evaluateCondition, interpolate, type ExpressionContext } from '../pipeline/expressions/index.ts';
import { caBinds } from '../platform/ca-binds.ts';
import { childEnv, NETWORK_ENV } from '../platform/child-env.ts';
import { restoreArtifacts, saveArtifacts } from './artifacts.ts';
import { restoreCache, saveCache } from './cache.ts';
import { directCommand, type DirectCommand } from './direct-command.ts';
import { hashFiles } from './hash-files.ts';
import { GANTRY_VERSION } from '../core/version.ts';
import { collectJUnitResults } from './junit.ts';
import { collectSarifReports } from './sarif-reports.ts';
import { JobLog } from './job-log.ts';
import { createLogWriter, type LogWriter } from './log-writer.ts';
import { createMasker, type Masker } from './masker.ts';
import type { JobSpec, LogLine, RunJob } from './ports.ts';
import { findJobProcesses } from './orphans.ts';
import { DEFAULT_KILL_GRACE_MS, killLeftovers, processRefs, spawnStep, type ProcessRef, type StepExit } from './process-tree.ts';
import { bubblewrapPath, sameInSandbox, sandboxArgv, sandboxAvailable } from './sandbox.ts';
import { defaultSpawnerPool, type Spawner, spawnerAvailable } from './spawner.ts';
import { isSettableEnvName, parseStepFile } from './step-files.ts';
import { copySourceInto, emptyWorkspace } from './workspace.ts';

/**
 * The job's saved test cases, next to its artifact directory (engine/run-paths.ts jobTestsFile
 * names the same file for the API): the workspace holding the reports is deleted after the job.
 */
export const TESTS_FILE = 'tests.json';

/** The job's SARIF reports merged, beside TESTS_FILE (engine/run-paths.ts jobSarifFile). */
export const SARIF_FILE = 'sarif.json';

export const SANDBOX_MISSING_WARNING = 'bubblewrap is not installed: the job runs without a sandbox';

type Outcome = 'success' | 'failure' | 'cancelled' | 'skipped';

interface StepContextEntry {
  outputs: Record<string, string>;
  outcome: Outcome;
  conclusion: Outcome;
}

/** A problem that fails the job before or around its steps; its message goes to the log and to `error`. */
class SetupFailure extends Error {}

/** The executor entry point: see ports.ts for the contract. */
export const runJob: RunJob = async (spec) => {
  let writer: LogWriter;
  const masker = createMasker(Object.values(spec.context.secrets));
  try {
    writer = createLogWriter({
      file: spec.logFile,
      capBytes: spec.logCapBytes,
      jobKey: spec.job.key,
      masker,
      onLine: spec.onLog ? guardLogListener(spec.onLog) : undefined,
    });
  } catch (error) {
    return {
      status: 'failure',
      outputs: {},
      steps: [],
      tests: null,
      logTruncated: false,
      error: `cannot write the job log: ${messageOf(error)}`,
    };
  }
  const log = new JobLog(writer);
  const run = new JobRun(spec, log, masker);
  let result: Omit<JobResult, 'logTruncated'>;
  try {
    result = await run.execute();
  } catch (error) {
    // A bug of ours or a broken machine: still a job result, never an exception.
    log.system(`✘ internal error: ${messageOf(error)}`);
    result = { status: 'failure', outputs: {}, steps: run.stepResults, tests: null, error: `internal error: ${messageOf(error)}` };
  }
  await run.cleanUp();
  let logTruncated = false;
  try {
    logTruncated = (await writer.close()).truncated;
  } catch (error) {
    result = {
      ...result,
      status: result.status === 'cancelled' ? 'cancelled' : 'failure',
      error: result.error ?? `cannot write the job log: ${messageOf(error)}`,
    };
  }
  return { ...result, logTruncated };
};

/**
 * A cache key in a scope (a project's, a pull request's): the cache directory is the whole
 * server's, and a key another project's job can compute (`deps-${{ hashFiles('package-lock.json') }}`)
 * would restore what that project saved. GitHub scopes caches per repository and per pull request.
 */
function scoped(scope: string, key: string): string {
  return scope ? `${scope}/${key}` : key;
}

class JobRun {
  readonly stepResults: StepResult[] = [];
  private readonly spec: JobSpec;
  private readonly log: JobLog;
  private readonly tmpDir: string;
  private readonly started = performance.now();
  private readonly leftovers: ProcessRef[] = [];
  private readonly stepsContext: Record<string, StepContextEntry> = {};
  /** Job env (interpolated) and what steps added through GANTRY_ENV. */
  private jobEnv: Record<string, string> = {};
  private readonly addedEnv: Record<string, string> = {};
  private failed = false;
  private jobTimedOut = false;
  /** The first reason the job failed other than a step's exit code (JobResult.error). */
  private error: string | null = null;
  private sandboxed = false;
  /**
   * A one-step job's sandbox is its step's: the helper forks bubblewrap with the step as its
   * command, instead of a bubblewrap running a nested helper that then forks the step. There is
   * no later step to keep a sandbox for, and the nested helper (a Perl start inside a fresh
   * sandbox, its handshake, its exit before the sandbox can end) was most of what a sandboxed job
   * cost over a plain one (docs/decisions/0032).
   */
  private sandboxPerStep = false;
  /** The host variables every step gets (read once per job), under the job's own. */
  private readonly hostEnv: Record<string, string>;
  /** bwrap mounts making the CA files of `hostEnv` readable in the sandbox. */
  private sandboxBinds: string[] = [];
  /** The helper starting this job's steps; null when it is unavailable (then one spawn per step). */
  private spawner: Spawner | null = null;
  /** `startSpawner` under way (it never rejects), from the job's setup on. */
  private spawnerStarting: Promise<void> = Promise.resolve();

  private readonly masker: Masker;

  constructor(spec: JobSpec, log: JobLog, masker: Masker) {
    this.spec = spec;
    this.log = log;
    this.masker = masker;
    this.tmpDir = `${spec.workspaceDir}.tmp`;
    this.hostEnv = childEnv({ inherit: [...NETWORK_ENV, ...(spec.passEnv ?? [])] });
  }

  private get config() {
    return this.spec.job.config;
  }

  private get testsFile(): string {
    return path.join(path.dirname(this.spec.artifactsOut), TESTS_FILE);
  }

  private get sarifFile(): string {
    return path.join(path.dirname(this.spec.artifactsOut), SARIF_FILE);
  }

  async execute(): Promise<Omit<JobResult, 'logTruncated'>> {
    const { spec, config } = this;
    let cacheKey: string | null = null;
    let exactHit = false;
    // A retry must not show the cases of the attempt before it.
    if (config.reports.junit) rmSync(this.testsFile, { force: true });
    if (config.reports.sarif) rmSync(this.sarifFile, { force: true });
    try {
      this.sandboxed = this.chooseSandbox();
      this.sandboxPerStep = this.sandboxed && config.steps.length === 1;
      if (this.sandboxed) {
        // Only Gantry's own security job may name a host path to read (its advisory database): a
        // gantry.yaml cannot set `builtin`, so no pipeline can uncover the host's /tmp this way.
        const advisories = this.config.builtin === 'security' ? this.config.env.GANTRY_ADVISORIES : undefined;
        const binds = caBinds(
          this.hostEnv,
          spec.hiddenPaths,
          advisories ? [{ variable: 'GANTRY_ADVISORIES', named: advisories, serverFile: true }] : [],
        );
        this.sandboxBinds = binds.args;
        for (const sentence of binds.unreadable) this.log.system(`⚠ ${sentence}`);
      }
      // Sync and checked first: tiny, and a missing path must not cost a thrown ENOENT per job.
      if (existsSync(this.tmpDir)) await rm(this.tmpDir, { recursive: true, force: true });
      // Made at once in the thread pool: where the disk makes a directory wait for its journal
      // (~1 ms each on this project's test machine), a sync mkdir stalls every other job's slot too.
      await Promise.all([emptyWorkspace(spec.workspaceDir), mkdir(path.join(this.tmpDir, 'home'), { recursive: true })]);
      // The sandbox binds the (still empty) workspace and starts while the source, artifacts and
      // cache are copied into it: both are a job's fixed cost, and bubblewrap's is the larger.
      this.spawnerStarting = this.startSpawner();
      await spec.sourceReady;
      await copySourceInto(spec.sourceDir, spec.workspaceDir);
      if (spec.signal.aborted) return this.cancelledBeforeSteps();
      if (spec.artifactsIn.length > 0) {
        // Most needed jobs save nothing: a sync existence check spares a directory walk per dir.
        const present = spec.artifactsIn.filter((dir) => existsSync(dir));
        const { files } = present.length > 0 ? await restoreArtifacts(present, spec.workspaceDir) : { files: 0 };
        this.log.system(`[gantry] restored ${files} artifact file(s) from needed jobs`);
      }
      this.jobEnv = this.interpolateEnv({ ...spec.context.env, ...config.env }, {}, 'job env');
      if (config.cache) {
        const cache = config.cache;
        cacheKey = this.interpolateSetup(cache.key, 'cache key');
        const written = cacheKey;
        const restoreKeys = cache.restoreKeys.map((k) => this.interpolateSetup(k, 'cache restore-keys'));
        // The job's own space first, then those it may read (a pull request's: its base's).
        let restored: Awaited<ReturnType<typeof restoreCache>> = { hit: null, key: null };
        let scope = '';
        for (scope of this.cacheScopes()) {
          const key = scoped(scope, written);
          const prefixes = restoreKeys.map((k) => scoped(scope, k));
          if (spec.sharedCache)
            await this.bestEffort('shared cache download', () => spec.sharedCache?.pull(key, prefixes) ?? Promise.resolve());
          restored = await restoreCache({
            cacheDir: spec.cacheDir,
            key,
            restoreKeys: prefixes,
            paths: cache.paths,
            workspaceDir: spec.workspaceDir,
          });
          if (restored.hit) break;
        }
        exactHit = restored.hit === 'exact';
        this.log.system(
          restored.hit
            ? `[gantry] cache restored (${restored.hit} hit): ${restored.key?.slice(scoped(scope, '').length)}`
            : `[gantry] cache miss: ${cacheKey}`,
        );
      }
    } catch (error) {
      if (spec.signal.aborted) return this.cancelledBeforeSteps();
      const message = error instanceof SetupFailure ? error.message : `job setup failed: ${messageOf(error)}`;
      this.log.system(`✘ ${message}`);
      for (const step of config.steps)
        this.stepResults.push({ name: this.stepName(step), status: 'skipped', exitCode: null, durationMs: 0 });
      return { status: 'failure', outputs: {}, steps: this.stepResults, tests: null, error: message };
    }
    if (spec.signal.aborted) return this.cancelledBeforeSteps();

    await this.spawnerStarting;
    for (const [index, step] of config.steps.entries()) await this.runStep(step, index);

    const cancelled = spec.signal.aborted || this.stepResults.some((s) => s.status === 'cancelled');
    let error: string | undefined = this.error ?? undefined;
    let status: JobResult['status'] = cancelled ? 'cancelled' : this.failed || this.jobTimedOut ? 'failure' : 'success';

    const outputs: Record<string, string> = {};
    for (const [name, template] of Object.entries(config.outputs)) {
      try {
        // Outputs leave the job (reports, the store, other jobs' contexts): a secret in one is masked like in the log.
        outputs[name] = this.masker.mask(interpolate(template, this.expressionContext()));
      } catch (err) {
        const message = `job output ${name}: ${messageOf(err)}`;
        this.log.system(`✘ ${message}`);
        if (status === 'success') status = 'failure';
        error ??= message;
      }
    }
    let tests: TestCounts | null = null;
    if (!cancelled) {
      if (status === 'success' && config.cache && cacheKey !== null && !exactHit) {
        const key = scoped(this.cacheScopes()[0] ?? '', cacheKey);
        await this.bestEffort('cache save', async () => {
          const saved = await saveCache({
            cacheDir: spec.cacheDir,
            key,
            paths: config.cache?.paths ?? [],
            workspaceDir: spec.workspaceDir,
          });
          if (saved.saved) this.log.system(`[gantry] cache saved: ${cacheKey} (${saved.files} files, ${saved.bytes} bytes)`);
          // Also when this host had the key already: the other side may not have it yet.
          if (spec.sharedCache) await spec.sharedCache.push(key);
        });
      }
      if (config.artifacts.length > 0) {
        try {
          const saved = await saveArtifacts({ workspaceDir: spec.workspaceDir, patterns: config.artifacts, destDir: spec.artifactsOut });
          this.log.system(`[gantry] saved ${saved.files} artifact file(s) (${saved.bytes} bytes)`);
        } catch (err) {
          const message = `saving artifacts failed: ${messageOf(err)}`;
          this.log.system(`✘ ${message}`);
          if (status === 'success') status = 'failure';
          error ??= message;
        }
      }
      if (config.reports.junit) {
        const pattern = config.reports.junit;
        await this.bestEffort('JUnit report', async () => {
          const collected = await collectJUnitResults(spec.workspaceDir, pattern);
          tests = collected?.counts ?? null;
          if (collected) {
            await mkdir(path.dirname(this.testsFile), { recursive: true });
            await writeFile(this.testsFile, JSON.stringify(collected.results));
          }
          if (tests) this.log.system(`[gantry] tests: ${tests.passed} passed, ${tests.failed} failed, ${tests.skipped} skipped`);
          else this.log.system(`[gantry] no JUnit report matches ${pattern}`);
        });
      }
      if (config.reports.sarif) await this.collectSarif(config.reports.sarif);
    }
    return { status, outputs, steps: this.stepResults, tests, ...(error !== undefined ? { error } : {}) };
  }

  /** Merges the job's SARIF reports into SARIF_FILE; a file that is not SARIF is a log line, never a failure. */
  private async collectSarif(pattern: string): Promise<void> {
    await this.bestEffort('SARIF report', async () => {
      const collected = await collectSarifReports(this.spec.workspaceDir, pattern, { name: 'Gantry', version: GANTRY_VERSION });
      for (const problem of collected.problems) this.log.system(`⚠ SARIF report left out: ${problem}`);
      if (collected.log === null) {
        this.log.system(`[gantry] no SARIF report matches ${pattern}`);
        return;
      }
      await mkdir(path.dirname(this.sarifFile), { recursive: true });
      await writeFile(this.sarifFile, JSON.stringify(collected.log));
      this.log.system(`[gantry] security: ${collected.results} finding(s) from ${collected.files} SARIF report(s)`);
    });
  }

  /** Ends background processes the steps left and removes the private temp dir. Never throws. */
  async cleanUp(): Promise<void> {
    // A job that ended in its setup may still be starting its sandbox: it is ended like any other.
    await this.spawnerStarting;
    const spawner = this.spawner;
    this.spawner = null;
    try {
      if (spawner?.reaper) {
        // Escapees of a step's group were re-parented to the helper (see spawner.ts): its
        // children are the rest of the job's processes, no scan of /proc needed.
        await killLeftovers([...this.leftovers, ...spawner.adopted()], this.spec.killGraceMs ?? DEFAULT_KILL_GRACE_MS);
      } else {
        // Also by environment: a process that left the step's group (setsid) after its parent
        // died is found only this way (see orphans.ts).
        const tagged = processRefs(await findJobProcesses(this.spec.runId, this.spec.job.key));
        await killLeftovers([...this.leftovers, ...tagged], this.spec.killGraceMs ?? DEFAULT_KILL_GRACE_MS);
      }
    } catch {
      // Nothing more we can do about processes we cannot see.
    }
    // Before the helper leaves: in the sandbox the nested helper is the one writing the log.
    await this.log.takeBack({ final: true });
    if (spawner) {
      // The sandbox holds the job's pid namespace: leaving it ends what is left inside.
      await spawner.leaveSandbox().catch(() => undefined);
      defaultSpawnerPool.release(spawner);
    }
    await removeTmpDir(this.tmpDir);
  }

  /**
   * Takes a helper from the pool to fork the steps (see spawner.ts); in the sandbox, that helper
   * starts the job's one bubblewrap with a nested helper inside (no fork of Node per job), or, for
   * a one-step job, forks the step's bubblewrap like any step (`sandboxPerStep`). Without
   * it (no perl, or a sandbox that would not start), each step is spawned from Node, one
   * bubblewrap per step.
   */
  private async startSpawner(): Promise<void> {
    if (!spawnerAvailable()) return;
    const { spec } = this;
    let spawner: Spawner | null = null;
    try {
      const acquired = await defaultSpawnerPool.acquire();
      spawner = acquired;
      // The helper writes the steps' output to the log itself (job-log.ts), in the sandbox too.
      const nested = this.sandboxed && !this.sandboxPerStep;
      await this.log.lendTo(
        acquired,
        this.masker,
        nested
          ? async () => {
              const wrapper = sandboxArgv([], {
                workspaceDir: spec.workspaceDir,
                privateDirs: [this.tmpDir],
                hiddenPaths: spec.hiddenPaths,
                binds: this.sandboxBinds,
                network: this.config.network,
                cwd: spec.workspaceDir,
              });
              await acquired.enterSandbox(wrapper, spec.workspaceDir);
            }
          : null,
      );
      spawner.attach({ onStdout: (chunk) => this.log.stdout(chunk), onStderr: (chunk) => this.log.stderr(chunk) });
      this.spawner = spawner;
    } catch {
      if (spawner) defaultSpawnerPool.release(spawner);
      this.spawner = null;
    }
  }

  private chooseSandbox(): boolean {
    if (this.spec.sandbox === 'off') return false;
    if (sandboxAvailable()) return true;
    this.log.system(SANDBOX_MISSING_WARNING);
    return false;
  }

  private cancelledBeforeSteps(): Omit<JobResult, 'logTruncated'> {
    this.log.system('✘ cancelled');
    for (const step of this.config.steps.slice(this.stepResults.length)) {
      this.stepResults.push({ name: this.stepName(step), status: 'cancelled', exitCode: null, durationMs: 0 });
    }
    return { status: 'cancelled', outputs: {}, steps: this.stepResults, tests: null };
  }

  private async runStep(step: StepConfig, index: number): Promise<void> {
    const { spec } = this;
    const name = this.stepName(step);
    const record = (status: StepStatus, exitCode: number | null, durationMs: number, outputs: Record<string, string> = {}) => {
      this.stepResults.push({ name, status, exitCode, durationMs });
      const conclusion: Outcome = status === 'failure' && step.continueOnError ? 'success' : status;
      if (step.id !== undefined) this.stepsContext[step.id] = { outputs, outcome: status, conclusion };
      if (status === 'failure' && !step.continueOnError) this.failed = true;
    };

    if (spec.signal.aborted) return record('cancelled', null, 0);
    if (this.jobTimedOut) return record('skipped', null, 0);
    const fail = (message: string, exitCode: number | null = null, durationMs = 0) => {
      this.log.system(`✘ ${message}`);
      if (!step.continueOnError) this.error ??= `step ${name}: ${message}`;
      record('failure', exitCode, durationMs);
    };

    let stepEnv: Record<string, string>;
    let script: string;
    let cwd: string;
    try {
      const runs = evaluateCondition(step.if, this.expressionContext());
      if (!runs) {
        this.log.system(`○ ${name} (skipped)`);
        return record('skipped', null, 0);
      }
      stepEnv = this.interpolateEnv(step.env, { ...this.jobEnv, ...this.addedEnv }, 'step env');
      const ctx = this.expressionContext({ ...this.jobEnv, ...this.addedEnv, ...stepEnv });
      script = interpolate(step.run, ctx);
      cwd = this.workingDirectory(step.workingDirectory === undefined ? undefined : interpolate(step.workingDirectory, ctx));
    } catch (error) {
      this.log.system(`▶ ${name}`);
      return fail(messageOf(error));
    }

    this.log.system(`▶ ${name}`);
    const files = {
      script: path.join(this.tmpDir, `step-${index}`),
      output: path.join(this.tmpDir, `step-${index}.output`),
      env: path.join(this.tmpDir, `step-${index}.env`),
    };
    // A helper that died (killed by a step, by the OOM killer) is replaced by plain spawns.
    if (this.spawner && !this.spawner.usable) {
      await this.log.takeBack();
      this.log.system('⚠ the step helper ended: the next steps are started one process each');
      this.spawner = null;
    }
    // Creating a file costs ~1 ms of kernel time on this kind of disk (and as much again to
    // remove it), more than the rest of a step's overhead: the script goes on the command line
    // when it can (`bash -c`), and GANTRY_OUTPUT / GANTRY_ENV are created by a step's first
    // write to them, not beforehand. A script file is written only for a custom shell or a
    // script too long for one argument — by the helper (see spawner.ts), off Node's main thread.
    let env = this.stepEnvironment(stepEnv, files);
    // A step that is one simple command skips bash, as make does (direct-command.ts); `shell:`
    // given, even `bash`, keeps the shell.
    const direct = step.shell === undefined ? this.directCommand(script, env, cwd) : null;
    const command = direct ? { argv: direct.argv, file: false } : stepCommand(step.shell, script, files.script);
    if (direct) env = direct.env;
    const stepFiles = command.file ? [{ path: files.script, content: script, mode: 0o700 }] : [];
    if (!this.spawner && command.file) writeFileSync(files.script, script, { mode: 0o700 });

    const elapsed = performance.now() - this.started;
    const jobBudget = this.config.timeoutMs === undefined ? Infinity : this.config.timeoutMs - elapsed;
    const stepBudget = step.timeoutMs ?? Infinity;
    const timeoutMs = Math.min(jobBudget, stepBudget);
    const jobLimited = jobBudget < stepBudget;
    if (jobBudget <= 0) {
      this.jobTimedOut = true;
      this.error ??= `job timed out after ${formatDuration(this.config.timeoutMs ?? 0)}`;
      this.log.system(`✘ ${this.error}`);
      return record('skipped', null, 0);
    }

    let argv = command.argv;
    const sandboxPerStep = this.sandboxed && (!this.spawner || this.sandboxPerStep);
    if (sandboxPerStep) {
      argv = sandboxArgv(argv, {
        program: bubblewrapPath(),
        workspaceDir: spec.workspaceDir,
        privateDirs: [this.tmpDir],
        hiddenPaths: spec.hiddenPaths,
        binds: this.sandboxBinds,
        network: this.config.network,
        cwd,
      });
    }
    let exit: StepExit;
    try {
      const options = {
        argv,
        cwd,
        env,
        timeoutMs: Number.isFinite(timeoutMs) ? Math.max(0, timeoutMs) : undefined,
        signal: spec.signal,
        killGraceMs: spec.killGraceMs,
        onStdout: (chunk: Buffer) => this.log.stdout(chunk),
        onStderr: (chunk: Buffer) => this.log.stderr(chunk),
      };
      exit = this.spawner ? await this.spawner.run({ ...options, files: stepFiles, sandboxed: sandboxPerStep }) : await spawnStep(options);
    } catch (error) {
      return fail(messageOf(error));
    }
    this.leftovers.push(...exit.leftovers);

    if (exit.cancelled) {
      this.log.system(`✘ cancelled after ${exit.durationMs} ms`);
      return record('cancelled', null, exit.durationMs);
    }
    if (exit.timedOut) {
      const limit = jobLimited ? (this.config.timeoutMs ?? 0) : stepBudget;
      const message = `${jobLimited ? 'job' : 'step'} timed out after ${formatDuration(limit)}`;
      if (!jobLimited) return fail(message, null, exit.durationMs);
      this.jobTimedOut = true;
      this.error ??= message;
      this.log.system(`✘ ${message}`);
      return record('failure', null, exit.durationMs);
    }

    const outputs = this.readStepFiles(files);
    if (exit.exitCode === 0) {
      this.log.system(`✔ exit code 0 in ${exit.durationMs} ms`);
      return record('success', 0, exit.durationMs, outputs);
    }
    const how = exit.exitCode !== null ? `exit code ${exit.exitCode}` : `killed by ${exit.signal ?? 'a signal'}`;
    this.log.system(`✘ ${how} in ${exit.durationMs} ms${step.continueOnError ? ' (continue-on-error)' : ''}`);
    return record('failure', exit.exitCode, exit.durationMs, outputs);
  }

  private directCommand(script: string, env: Record<string, string>, cwd: string): DirectCommand | null {
    const { spec } = this;
    const sandbox = {
      workspaceDir: spec.workspaceDir,
      privateDirs: [this.tmpDir],
      hiddenPaths: spec.hiddenPaths,
      binds: this.sandboxBinds,
    };
    return directCommand(script, { env, cwd, sameInSandbox: this.sandboxed ? (file) => sameInSandbox(file, sandbox) : undefined });
  }

  /** Reads GANTRY_OUTPUT (returned) and GANTRY_ENV (merged into the env of later steps). */
  private readStepFiles(files: { output: string; env: string }): Record<string, string> {
    const output = parseStepFile(readSmallFile(files.output));
    const env = parseStepFile(readSmallFile(files.env));
    for (const e of output.errors) this.log.system(`⚠ GANTRY_OUTPUT ${e}`);
    for (const e of env.errors) this.log.system(`⚠ GANTRY_ENV ${e}`);
    for (const [name, value] of Object.entries(env.values)) {
      if (isSettableEnvName(name)) this.addedEnv[name] = value;
      else this.log.system(`⚠ GANTRY_ENV: ${name} cannot be set by a step`);
    }
    return output.values;
  }

  /** The step's environment, from scratch (see the module comment). Gantry's own variables win. */
  private stepEnvironment(stepEnv: Record<string, string>, files: { output: string; env: string }): Record<string, string> {
    const { spec } = this;
    return childEnv({
      set: {
        ...this.hostEnv,
        ...this.jobEnv,
        ...this.addedEnv,
        ...stepEnv,
        HOME: path.join(this.tmpDir, 'home'),
        TMPDIR: this.tmpDir,
        CI: 'true',
        GANTRY: 'true',
        GANTRY_WORKSPACE: spec.workspaceDir,
        GANTRY_RUN_ID: spec.runId,
        GANTRY_JOB: spec.job.key,
        GANTRY_SHA: spec.context.gantry.sha,
        GANTRY_REF: spec.context.gantry.ref,
        GANTRY_REF_NAME: spec.context.gantry.ref_name,
        GANTRY_REF_TYPE: spec.context.gantry.ref_type,
        GANTRY_EVENT: spec.context.gantry.event,
        GANTRY_HEAD_REF: spec.context.gantry.head_ref,
        GANTRY_BASE_REF: spec.context.gantry.base_ref,
        GANTRY_OUTPUT: files.output,
        GANTRY_ENV: files.env,
      },
    });
  }

  private expressionContext(env?: Record<string, string>): ExpressionContext {
    const { spec } = this;
    const needs: Record<string, Value> = {};
    for (const [id, entry] of Object.entries(spec.context.needs)) needs[id] = { result: entry.result, outputs: entry.outputs };
    const steps: Record<string, Value> = {};
    for (const [id, entry] of Object.entries(this.stepsContext)) steps[id] = { ...entry };
    return {
      contexts: {
        env: env ?? { ...this.jobEnv, ...this.addedEnv },
        matrix: spec.job.matrix ?? {},
        steps,
        needs,
        inputs: spec.context.inputs,
        secrets: spec.context.secrets,
        gantry: { ...spec.context.gantry, workspace: spec.workspaceDir },
        job: { status: this.failed || this.jobTimedOut ? 'failure' : 'success' },
      },
      status: { failed: this.failed || this.jobTimedOut, cancelled: spec.signal.aborted },
      hashFiles: (patterns) => hashFiles(spec.workspaceDir, patterns),
    };
  }

  /** Interpolates env values in order; each value sees the ones before it in `env`. */
  private interpolateEnv(raw: Record<string, string>, base: Record<string, string>, what: string): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [name, template] of Object.entries(raw)) {
      try {
        out[name] = interpolate(template, this.expressionContext({ ...base, ...out }));
      } catch (error) {
        throw new SetupFailure(`${what} ${name}: ${messageOf(error)}`);
      }
    }
    return out;
  }

  /** Where the job's cache entries are saved (the first) and read from, in order (JobContext.cacheScope). */
  private cacheScopes(): string[] {
    const own = this.spec.context.cacheScope;
    return own ? [own, ...(this.spec.context.cacheReadScopes ?? [])] : [''];
  }

  private interpolateSetup(template: string, what: string): string {
    try {
      return interpolate(template, this.expressionContext());
    } catch (error) {
      throw new SetupFailure(`${what}: ${messageOf(error)}`);
    }
  }

  /** `working-directory`, resolved in the workspace; it must exist and stay inside (symlinks included). */
  private workingDirectory(dir: string | undefined): string {
    const root = this.spec.workspaceDir;
    if (dir === undefined || dir === '' || dir === '.') return root;
    const resolved = path.resolve(root, dir);
    if (!isInside(root, resolved)) throw new SetupFailure(`working-directory ${dir} is outside the workspace`);
    if (!existsSync(resolved) || !statSync(resolved).isDirectory())
      throw new SetupFailure(`working-directory ${dir} does not exist in the workspace`);
    if (!isInside(realpathSync(root), realpathSync(resolved))) throw new SetupFailure(`working-directory ${dir} is outside the workspace`);
    return resolved;
  }

  private stepName(step: StepConfig): string {
    if (step.name !== undefined) {
      try {
        return interpolate(step.name, this.expressionContext());
      } catch {
        return step.name;
      }
    }
    const first =
      step.run
        .split('\n')
        .find((line) => line.trim() !== '')
        ?.trim() ?? 'run';
    return first.length > 80 ? `${first.slice(0, 79)}…` : first;
  }

  private async bestEffort(what: string, task: () => Promise<void>): Promise<void> {
    try {
      await task();
    } catch (error) {
      this.log.system(`⚠ ${what} failed: ${messageOf(error)}`);
    }
  }
}

/** The command line running a step's script file (see StepConfig.shell). */
export function shellArgv(shell: string | undefined, file: string): string[] {
  const trimmed = shell?.trim() ?? '';
  if (trimmed === '' || trimmed === 'bash') return ['bash', '--noprofile', '--norc', '-eo', 'pipefail', file];
  if (trimmed === 'sh') return ['sh', '-e', file];
  const parts = trimmed.split(/\s+/);
  return parts.some((p) => p.includes('{0}')) ? parts.map((p) => p.replaceAll('{0}', file)) : [...parts, file];
}

/** Linux refuses a single argument longer than 128 KiB (MAX_ARG_STRLEN); stay well below. */
const MAX_INLINE_SCRIPT_BYTES = 64 * 1024;

/**
 * How a step's script runs: inline (`bash … -c SCRIPT`, `sh -e -c SCRIPT`) for the built-in
 * shells, or from `file` for a custom shell (`{0}`) and for very long scripts.
 */
export function stepCommand(shell: string | undefined, script: string, file: string): { argv: string[]; file: boolean } {
  const trimmed = shell?.trim() ?? '';
  const builtIn = trimmed === '' || trimmed === 'bash' || trimmed === 'sh';
  if (!builtIn || Buffer.byteLength(script) > MAX_INLINE_SCRIPT_BYTES) return { argv: shellArgv(shell, file), file: true };
  // `$0` names the step's script file, as when it runs from one (error messages stay readable).
  return { argv: [...shellArgv(shell, '-c').slice(0, -1), '-c', script, file], file: false };
}

/** `30s`, `1.5s`, `10m`, `250ms`: durations as users wrote them in gantry.yaml. */
export function formatDuration(ms: number): string {
  if (ms >= 60_000 && ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms >= 1000) return `${Math.round(ms / 100) / 10}s`;
  return `${Math.round(ms)}ms`;
}

/** A failing log subscriber (a closed SSE stream…) must neither crash the job nor stop its log. */
function guardLogListener(listener: (line: LogLine) => void): (line: LogLine) => void {
  return (line) => {
    try {
      listener(line);
    } catch {
      // The subscriber's problem; the stored log is complete regardless.
    }
  };
}

/**
 * Removes a job's temp dir. It usually holds only the runner's own small files and an empty
 * HOME: those are removed one by one in the thread pool, at once (a recursive rm is a dozen
 * round trips), never with sync calls on the event loop: a directory's removal can wait on the
 * disk's journal for milliseconds, and the loop serves every other job's slot meanwhile. Anything
 * a step left there (a tool's cache in HOME) goes through the recursive rm.
 */
async function removeTmpDir(dir: string): Promise<void> {
  try {
    const entries = await readdir(dir, { withFileTypes: true });
    await Promise.all(
      entries.map((entry) => (entry.isDirectory() ? rmdir(path.join(dir, entry.name)) : unlink(path.join(dir, entry.name)))),
    );
    await rmdir(dir);
  } catch {
    await rm(dir, { recursive: true, force: true }).catch(() => undefined);
  }
}

/** A step file's content; '' when it is empty or gone (checked first: most steps write nothing). */
function readSmallFile(file: string): string {
  const st = statSync(file, { throwIfNoEntry: false });
  if (!st || st.size === 0) return '';
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

function isInside(root: string, p: string): boolean {
  const rel = path.relative(root, p);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel));
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
