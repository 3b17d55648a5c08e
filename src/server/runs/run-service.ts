/**
 * Accepts runs and sees them through: trigger → persisted run → source checkout → RunDriver.
 * Every accepted run is in the store before the caller hears its id, and `recover()` resumes
 * whatever a crash left queued or running. Concurrency groups are enforced here.
 */
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { createHash } from 'node:crypto';
import type { Clock, TimerHandle } from '../../core/clock.ts';
import { ConflictError, InputError, NotFoundError } from '../../core/errors.ts';
import { newId } from '../../core/ids.ts';
import type {
  ForgeTarget,
  GantryConfig,
  GantryContext,
  PlannedJob,
  PullRequestInfo,
  TriggerEvent,
  TriggerKind,
  Value,
} from '../../core/types.ts';
import { buildJobSpec, type RunSetting } from '../../engine/job-spec.ts';
import { RunDriver, type Transition } from '../../engine/run-driver.ts';
import { runDir, securityInputDir, sourceDir } from '../../engine/run-paths.ts';
import type { SlotPool } from '../../engine/slot-pool.ts';
import { jobPatches, runPatch, transitionEvents } from '../../engine/transition-records.ts';
import { killJobProcesses } from '../../executor/orphans.ts';
import type { RunJob } from '../../executor/ports.ts';
import { checkoutCommit, resolveRef } from '../../executor/workspace.ts';
import { interpolate } from '../../pipeline/expressions/index.ts';
import { resolveInputs } from '../../pipeline/inputs.ts';
import { parseCommitConfig, parseStoredConfig } from '../../pipeline/stored-config.ts';
import { compilePlan } from '../../pipeline/plan.ts';
import { SECURITY_INPUT_FOLDER, type SecurityJobRunner, withSecurityJob } from '../../pipeline/security-job.ts';
import { initialRunState, rerunState, type RunState } from '../../pipeline/run-reducer.ts';
import { gantryContextOf, matchTrigger, tagBurstReason } from '../../pipeline/triggers.ts';
import { cacheScopesOf } from './cache-scopes.ts';
import type { EventEnvironment, JobRecord, NewEvent, Project, RunRecord, Store } from '../../store/ports.ts';
import { pullRequestChangedFiles, runGit } from '../../platform/git.ts';
import { type CommitList, commitsBetween, readConfigAtCommit, syncMirror } from '../repos/index.ts';

/**
 * Several servers on one PostgreSQL: each run is driven by the server that owns it (its `server:`
 * lease held), and another server recovers it only once that owner is dead.
 */
export interface RunOwnership {
  /** This server's id, recorded as the owner of the runs it triggers or takes over. */
  self: string;
  /**
   * True when the server `owner` is dead (its lease expired or released) and this server has
   * now claimed that lease — raising its token, so writes the old owner still had under way are
   * refused (docs/decisions/0037) — or had claimed it already; false while the owner lives or
   * another survivor claimed it first.
   */
  claimIfDead(owner: string): Promise<boolean>;
}

export interface RunServiceDeps {
  store: Store;
  /** Several servers: the owners of runs; without it (one server) every run is this server's. */
  ownership?: RunOwnership;
  /**
   * The background loops' fenced view of the store (several servers): runs a loop fires (cron,
   * polling: `TriggerRequest.byLoop`) are stored through it, so an owner paused past its lease
   * fires nothing once it wakes. Default: `store`.
   */
  loopStore?: Store;
  dataDir: string;
  logCapBytes: number;
  sandbox: 'auto' | 'off';
  /** More host variables for job steps (the `passEnv` server option). */
  passEnv?: readonly string[];
  /** How many times a job whose server died under it is retried. */
  interruptedRetries: number;
  slots: SlotPool;
  /** Slots of jobs with `runs-on` (build agents): apart from this host's, which they do not use. Default: `slots`. */
  agentSlots?: SlotPool;
  runJob: RunJob;
  /** Decrypted secrets of a project, name → value. */
  secrets(projectId: string): Promise<Record<string, string>>;
  eventEnv(): EventEnvironment;
  /** Called after anything about a run was stored (drives live streams). */
  notify(runId: string): void;
  /** Called once a run was stored (its forge hears it is pending). Must not throw. */
  onRunCreated?(run: RunRecord): void;
  /** Called once a run has ended (releases are made from successful ones). Must not throw. */
  onRunFinished?(run: RunRecord, status: RunRecord['status']): void;
  /** Time of transitions (job and run start/end). */
  clock: Clock;
  /** How runs' security job starts `gantry`; null: runs get no security job. */
  securityJob?: SecurityJobRunner | null;
}

export interface TriggerRequest {
  kind: TriggerKind;
  /** Branch name or full ref; default HEAD (the default branch). */
  ref?: string;
  /** Known sha (hooks, webhooks); resolved from `ref` otherwise. */
  sha?: string;
  /** The ref's commit before a push (null for a new branch): the security job scans the lines added since. */
  before?: string | null;
  /**
   * The files the push changed. A promise lets the caller's `git diff` run while the trigger
   * reads the commit's gantry.yaml (two git processes at once instead of one after the other);
   * undefined (or a promise of it) when unknown.
   */
  changedFiles?: string[] | Promise<string[] | undefined>;
  inputs?: Record<string, string>;
  schedule?: string;
  /** For `pull_request`: the pull request; its changed files are read from git (against the base branch). */
  pullRequest?: PullRequestInfo;
  /** For a forge's deliveries: where the run's commit statuses go. */
  forge?: ForgeTarget;
  actor: string;
  /** Fired by a background loop (cron, polling) rather than for a caller: stored through `loopStore`. */
  byLoop?: boolean;
}

export type TriggerOutcome = { run: RunRecord } | { skipped: string };

const ACTIVE: RunRecord['status'][] = ['queued', 'running'];

export class RunService {
  readonly #deps: RunServiceDeps;
  readonly #drivers = new Map<string, RunDriver>();
  /** Run ids whose source checkout / driver start is under way. */
  readonly #starting = new Map<string, Promise<void>>();
  #stopping = false;
  /** Local repositories' git directories, resolved once: checkouts read their objects directly. */
  readonly #localGitDirs = new Map<string, string>();

  constructor(deps: RunServiceDeps) {
    this.#deps = deps;
  }

  /** Where a project's git objects are read from: the repository itself, or the mirror of a URL. */
  gitDir(project: Project): string {
    return project.source.kind === 'local' ? project.source.path : join(this.#deps.dataDir, 'mirrors', `${project.id}.git`);
  }

  async trigger(project: Project, req: TriggerRequest): Promise<TriggerOutcome> {
    const store = (req.byLoop && this.#deps.loopStore) || this.#deps.store;
    if (project.source.kind === 'url') await syncMirror(project.source.url, this.gitDir(project));
    const resolved = req.sha
      ? { sha: req.sha, ref: fullRef(req.ref ?? 'HEAD') }
      : await resolveRef(this.gitDir(project), req.ref ?? 'HEAD');
    if (req.sha && resolved.ref.startsWith('refs/tags/')) {
      // An annotated tag's update names the tag object: the run is of the commit it points to.
      const commit = await peeledCommit(this.gitDir(project), req.sha);
      if (commit === null) {
        const reason = `tag '${resolved.ref.slice('refs/tags/'.length)}' points to no commit`;
        await this.#ignored(project, req, { ref: resolved.ref, sha: req.sha }, reason);
        return { skipped: reason };
      }
      resolved.sha = commit;
    }
    let read: { text: string; file: string };
    try {
      read = await readConfigAtCommit(this.gitDir(project), resolved.sha);
    } catch (error) {
      // A pushed branch or tag without a gantry.yaml (gh-pages, an old tag) has nothing to run, as
      // on GitHub (nor has a pull request's); asked by hand, it is the caller's error.
      if ((req.kind !== 'push' && req.kind !== 'pull_request') || !(error instanceof InputError)) throw error;
      await this.#ignored(project, req, resolved, error.message);
      return { skipped: error.message };
    }
    const { text, file } = read;
    // Computed by git meanwhile (the caller started it).
    const changedFiles = req.pullRequest
      ? await pullRequestChangedFiles(this.gitDir(project), req.pullRequest.baseRef, resolved.sha)
      : await req.changedFiles;
    const event: TriggerEvent = {
      kind: req.kind,
      ref: resolved.ref,
      sha: resolved.sha,
      changedFiles,
      schedule: req.schedule,
      ...(req.before ? { before: req.before } : {}),
      ...(req.pullRequest ? { pullRequest: req.pullRequest } : {}),
      ...(req.forge ? { forge: req.forge } : {}),
    };
    let config: GantryConfig;
    try {
      config = parseCommitConfig(text, file);
    } catch (error) {
      await this.#event({
        type: 'run.rejected',
        subject: `project:${project.id}`,
        actor: req.actor,
        data: { reason: (error as Error).message, sha: resolved.sha, ref: resolved.ref },
        commit: resolved.sha,
      });
      throw error;
    }
    if (req.kind !== 'manual') {
      const match = matchTrigger(config.pipeline.on, event);
      if (!match.matched) {
        await this.#ignored(project, req, event, match.reason);
        return { skipped: match.reason };
      }
    }
    const inputs = resolveInputs(config.pipeline.on.manual?.inputs, req.inputs ?? {});
    const runId = newId();
    const gantry = gantryContextOf(event, runId);
    const plan = compilePlan(this.#pipelineOf(config), { inputs, gantry });
    const state = initialRunState(runId, plan);
    const concurrency = config.pipeline.concurrency;
    const group = concurrency ? interpolate(concurrency.group, { contexts: { gantry: { ...gantry }, inputs } }) : null;
    const configHash = hashText(text);
    // The checkout runs while the run is stored: it is most of the time from trigger to first
    // job. A run that waits for its concurrency group does not need it yet.
    const pushDiff = this.#writePushDiff(project, runId, event, plan.jobs);
    const source = group ? undefined : Promise.all([this.#prepareSource(project, runId, event.sha), pushDiff]).then(() => undefined);
    source?.catch(() => undefined);
    if (!source) await pushDiff;
    let run: RunRecord;
    try {
      run = await store.runs.create(
        {
          projectId: project.id,
          event,
          inputs,
          configText: text,
          configHash,
          concurrencyGroup: group,
          parentRunId: null,
          id: runId,
          owner: this.#deps.ownership?.self ?? null,
        },
        jobRecordsOf(state),
      );
    } catch (error) {
      // Not accepted: nothing of the run may stay behind, whether its checkout got through or not.
      await source?.catch(() => undefined);
      await rm(runDir(this.#deps.dataDir, runId), { recursive: true, force: true });
      throw error;
    }
    await this.#event({
      type: 'run.created',
      subject: `run:${run.id}`,
      actor: req.actor,
      data: { runId: run.id, number: run.number, projectId: project.id, kind: req.kind, ref: event.ref, sha: event.sha },
      commit: event.sha,
      configHash,
    });
    this.#deps.notify(run.id);
    this.#deps.onRunCreated?.(run);
    if (group && concurrency?.cancelInProgress) await this.#cancelGroup(group, run.id, req.actor);
    this.#schedule(run, false, source && { source, planned: { config, state, plannedJobs: planMap(plan.jobs), inputs, gantry } });
    return { run };
  }

  /** Tags pushed together beyond GitHub's limit (splitTagBurst): one ignored trigger for them all, no run. */
  async ignoreTagBurst(project: Project, tags: { ref: string; after: string }[], actor: string): Promise<void> {
    const shown = tags.slice(0, 20).map((t) => t.ref);
    await this.#event({
      type: 'trigger.ignored',
      subject: `project:${project.id}`,
      actor,
      data: { reason: tagBurstReason(tags.length), kind: 'push', refs: shown, count: tags.length },
    });
  }

  async #ignored(project: Project, req: TriggerRequest, event: { ref: string; sha: string }, reason: string): Promise<void> {
    await this.#event({
      type: 'trigger.ignored',
      subject: `project:${project.id}`,
      actor: req.actor,
      data: { reason, kind: req.kind, ref: event.ref, sha: event.sha },
      commit: event.sha,
    });
  }

  async cancel(runId: string, actor: string): Promise<RunRecord> {
    const run = await this.#requireRun(runId);
    if (!ACTIVE.includes(run.status)) throw new ConflictError(`run ${runId} has already ended (${run.status})`);
    await this.#starting.get(runId);
    // A run that never started (waiting for its concurrency group) needs no checkout to be cancelled.
    const driver = this.#drivers.get(runId) ?? (await this.#loadDriver(run, run.status !== 'queued'));
    await this.#event({ type: 'run.cancel', subject: `run:${runId}`, actor, data: { runId } });
    await driver.cancel();
    if (!this.#drivers.has(runId)) this.#watch(run, driver);
    return this.#requireRun(runId);
  }

  /** A new run of the same commit and config: all jobs, or (`failed`) only what did not succeed and what depends on it. */
  async rerun(runId: string, mode: 'all' | 'failed', actor: string): Promise<RunRecord> {
    const previous = await this.#requireRun(runId);
    if (ACTIVE.includes(previous.status))
      throw new ConflictError(`run ${runId} is still ${previous.status}: cancel it or wait for it to end`);
    const previousJobs = await this.#deps.store.runs.jobs(runId);
    const { state: previousState } = this.#replan(previous, previousJobs);
    const newId_ = newId();
    const state = rerunState(previousState, newId_, mode);
    const byKey = new Map(previousJobs.map((j) => [j.key, j]));
    const records: Omit<JobRecord, 'runId'>[] = Object.values(state.jobs).map((job) => {
      const old = byKey.get(job.key);
      if (job.status === 'success' && old) return { ...stripRunId(old), reusedFromRunId: old.reusedFromRunId ?? runId };
      return blankJobRecord(job);
    });
    const run = await this.#deps.store.runs.create(
      {
        projectId: previous.projectId,
        event: previous.event,
        inputs: previous.inputs,
        configText: previous.configText,
        configHash: previous.configHash,
        concurrencyGroup: previous.concurrencyGroup,
        parentRunId: runId,
        id: newId_,
        owner: this.#deps.ownership?.self ?? null,
      },
      records,
    );
    await this.#event({
      type: 'run.created',
      subject: `run:${run.id}`,
      actor,
      data: { runId: run.id, number: run.number, rerunOf: runId, mode },
      commit: previous.event.sha,
      configHash: previous.configHash,
    });
    this.#schedule(run);
    return run;
  }

  /**
   * Resumes the runs a previous process left queued or running — with several servers, only
   * those whose owner is dead (taken over first). Called again while the server runs, so the runs
   * of a server that dies later are resumed too. Returns how many it resumed.
   */
  async recover(): Promise<number> {
    const active = (await this.#deps.store.runs.list({ status: ACTIVE, limit: 10_000 })).reverse();
    let resumed = 0;
    for (const run of active) {
      if (this.#stopping || this.#starting.has(run.id) || this.#drivers.has(run.id)) continue;
      if (!(await this.#takeOwnership(run, true))) continue;
      this.#schedule({ ...run, owner: this.#deps.ownership?.self ?? run.owner }, true);
      resumed++;
    }
    return resumed;
  }

  /**
   * Makes this server the run's owner before it drives it; false when it is another live server's
   * (or another survivor took it first). A run being recovered is taken only from a dead owner; a run started
   * here otherwise (its concurrency group freed by a run this server drove) is queued and driven
   * by nobody, so it is taken from whoever triggered it.
   */
  async #takeOwnership(run: RunRecord, recovering: boolean): Promise<boolean> {
    const { ownership, store } = this.#deps;
    if (ownership === undefined || run.owner === ownership.self) return true;
    if (recovering && run.owner !== null && !(await ownership.claimIfDead(run.owner))) return false;
    return store.runs.takeOver(run.id, run.owner, ownership.self);
  }

  /** Stops taking work; waits up to `drainMs` for running jobs, then stops them without recording an end, so a restart resumes them. */
  async shutdown(drainMs: number): Promise<void> {
    this.#stopping = true;
    const all = Promise.allSettled([...this.#drivers.values()].map((d) => d.done));
    const { clock } = this.#deps;
    let timer: TimerHandle | undefined;
    const deadline = new Promise((resolve) => {
      timer = clock.setTimeout(() => resolve(undefined), drainMs);
    });
    await Promise.race([all, deadline]);
    if (timer) clock.clearTimeout(timer);
    for (const driver of this.#drivers.values()) driver.detach();
  }

  /** The environment recorded with every event (versions, host). */
  eventEnv(): EventEnvironment {
    return this.#deps.eventEnv();
  }

  activeRuns(): number {
    return this.#drivers.size;
  }

  #schedule(run: RunRecord, recovering = false, fresh?: FreshRun): void {
    if (this.#stopping || this.#starting.has(run.id) || this.#drivers.has(run.id)) return;
    const starting = this.#startRun(run, recovering, fresh)
      .catch(async (error: unknown) => {
        await this.#event({
          type: 'run.start-failed',
          subject: `run:${run.id}`,
          actor: 'server',
          data: { runId: run.id, reason: (error as Error).message },
        }).catch(() => undefined);
      })
      .finally(() => this.#starting.delete(run.id));
    this.#starting.set(run.id, starting);
  }

  async #startRun(run: RunRecord, recovering: boolean, fresh?: FreshRun): Promise<void> {
    if (run.concurrencyGroup && (await this.#groupBusy(run))) return; // started when the group frees up
    if (!(await this.#takeOwnership(run, recovering))) return;
    const driver = await this.#loadDriver(run, true, fresh);
    this.#watch(run, driver, fresh?.source);
    if (recovering) {
      for (const job of Object.values(driver.state.jobs)) {
        if (job.status === 'running') await killJobProcesses(run.id, job.key);
      }
      await driver.resume(this.#deps.interruptedRetries);
    } else {
      await driver.start();
    }
  }

  /**
   * A driver for a stored run. For a run trigger() has just stored (`fresh`), the plan it compiled
   * spares reading the job rows back and planning again (no job has a past yet), and the jobs
   * start while its checkout is still under way: they wait for it only to copy the source.
   */
  async #loadDriver(run: RunRecord, checkout = true, fresh?: FreshRun): Promise<RunDriver> {
    const { dataDir } = this.#deps;
    const jobs = fresh ? [] : await this.#deps.store.runs.jobs(run.id);
    const { config, state, plannedJobs, inputs, gantry } = fresh?.planned ?? this.#replan(run, jobs);
    const source = sourceDir(dataDir, run.id);
    if (checkout && !fresh && !existsSync(source)) {
      const project = run.projectId ? await this.#deps.store.projects.get(run.projectId) : undefined;
      if (!project) throw new NotFoundError(`the project of run ${run.id} no longer exists`);
      await this.#prepareSource(project, run.id, run.event.sha);
    }
    const reused = new Map(jobs.filter((j) => j.reusedFromRunId).map((j) => [j.key, j.reusedFromRunId as string]));
    const setting: RunSetting = {
      dataDir,
      runId: run.id,
      sourceDir: source,
      sourceReady: fresh?.source,
      plannedJobs,
      pipelineEnv: config.pipeline.env,
      inputs,
      // A pull request from a fork runs code from outside with its own gantry.yaml: no secrets, as on GitHub.
      secrets: run.projectId && !run.event.pullRequest?.fork ? await this.#deps.secrets(run.projectId) : {},
      gantry,
      logCapBytes: this.#deps.logCapBytes,
      sandbox: this.#deps.sandbox,
      passEnv: this.#deps.passEnv,
      artifactRunOf: (key) => reused.get(key) ?? run.id,
      ...cacheScopesOf(run),
    };
    const env = this.#deps.eventEnv();
    return new RunDriver(
      state,
      { inputs, gantry, env: config.pipeline.env },
      {
        slots: this.#deps.slots,
        slotsFor: (key) => (plannedJobs.get(key)?.config.runsOn ? this.#deps.agentSlots : undefined),
        now: () => new Date(this.#deps.clock.now()),
        runJob: async (spec) => {
          try {
            return await this.#deps.runJob(spec);
          } finally {
            await rm(spec.workspaceDir, { recursive: true, force: true });
            await rm(`${spec.workspaceDir}.tmp`, { recursive: true, force: true });
          }
        },
        jobSpec: async (job, current, signal) => buildJobSpec(setting, job, current, signal),
        persist: async (t: Transition) => {
          await this.#deps.store.runs.transition(run.id, {
            run: runPatch(t),
            jobs: jobPatches(t),
            events: transitionEvents(t, { actor: 'server', env: { ...env, configHash: run.configHash, commit: run.event.sha } }),
          });
          this.#deps.notify(run.id);
        },
      },
    );
  }

  /**
   * Checks a run's commit out into its source dir, whole or not at all: git writes into a
   * sibling that is renamed into place, so a crash mid-checkout never leaves a partial tree that
   * `#loadDriver` would take for a finished one on the next start.
   */
  #prepareSource(project: Project, runId: string, sha: string): Promise<void> {
    const dest = sourceDir(this.#deps.dataDir, runId);
    const partial = `${dest}.partial`;
    const done = (async () => {
      await rm(partial, { recursive: true, force: true });
      await checkoutCommit(this.gitDir(project), sha, partial, await this.#objectsDir(project));
      await rename(partial, dest);
    })();
    // Awaited later (or never, when the run cannot be stored): a failure must not go unhandled meanwhile.
    done.catch(() => undefined);
    return done;
  }

  /** The pipeline a run of this config executes: the file's, with the security job when the server adds it. */
  #pipelineOf(config: GantryConfig): GantryConfig['pipeline'] {
    const runner = this.#deps.securityJob;
    return runner ? withSecurityJob(config.pipeline, config.security, runner) : config.pipeline;
  }

  /**
   * The lines each commit of a push added (`git log -p --unified=0 before..after`), where the run's security job
   * finds them (engine/job-spec.ts): secrets are looked for there as well as in the tree. Nothing
   * for a run without the job, or without a before (a new branch, a manual run): the job then
   * scans the whole tree for secrets. A diff git cannot make leaves the job to the tree too.
   */
  async #writePushDiff(project: Project, runId: string, event: TriggerEvent, jobs: readonly PlannedJob[]): Promise<void> {
    if (!event.before || !jobs.some((j) => j.config.builtin === 'security')) return;
    try {
      // Each commit's own diff, not before..after's net one: a secret added by one commit of
      // the push and removed by the next is in the history all the same.
      const diff = await runGit(
        [
          'log',
          '--format=',
          '-p',
          '--unified=0',
          '--no-color',
          '--no-ext-diff',
          '--no-renames',
          '--diff-filter=ACM',
          `${event.before}..${event.sha}`,
        ],
        { cwd: this.gitDir(project) },
      );
      const dir = join(securityInputDir(this.#deps.dataDir, runId), SECURITY_INPUT_FOLDER);
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, 'push.diff'), diff);
    } catch {
      // The before commit may be gone (a force push onto a pruned mirror): the tree is still scanned.
    }
  }

  /** The tree of a commit of the project into `dest` (releases start from it). */
  async checkout(project: Project, sha: string, dest: string): Promise<void> {
    await checkoutCommit(this.gitDir(project), sha, dest, await this.#objectsDir(project));
  }

  /** The commits between two of the project's commits, with their dates (for a release's event). */
  async commitsBetween(project: Project, from: string | null, to: string): Promise<CommitList> {
    return commitsBetween(await this.#objectsDir(project), from, to);
  }

  /**
   * Where a checkout reads git objects from: a local repository's own git directory (no mirror to
   * clone and fetch on every commit: that was most of the trigger latency), a URL's mirror.
   */
  async #objectsDir(project: Project): Promise<string> {
    if (project.source.kind !== 'local') return join(this.#deps.dataDir, 'mirrors', `${project.id}.git`);
    let dir = this.#localGitDirs.get(project.id);
    if (!dir) {
      dir = (await runGit(['-C', project.source.path, 'rev-parse', '--path-format=absolute', '--git-common-dir'])).trim();
      this.#localGitDirs.set(project.id, dir);
    }
    return dir;
  }

  /** Keeps the driver until its run ends, then removes the run's working files (`source`: a checkout still under way). */
  #watch(run: RunRecord, driver: RunDriver, source?: Promise<void>): void {
    this.#drivers.set(run.id, driver);
    void driver.done
      .then(
        (status) => {
          if (!this.#stopping) this.#deps.onRunFinished?.(run, status);
        },
        () => undefined,
      )
      .finally(async () => {
        this.#drivers.delete(run.id);
        await rm(join(this.#deps.dataDir, 'work', run.id), { recursive: true, force: true }).catch(() => undefined);
        // The source tree is only needed while jobs run; a rerun checks the commit out again. A run
        // cancelled before its first job is still checking out: removed once that has ended.
        await source?.catch(() => undefined);
        const tree = sourceDir(this.#deps.dataDir, run.id);
        await rm(tree, { recursive: true, force: true }).catch(() => undefined);
        await rm(`${tree}.partial`, { recursive: true, force: true }).catch(() => undefined);
        await rm(securityInputDir(this.#deps.dataDir, run.id), { recursive: true, force: true }).catch(() => undefined);
        if (run.concurrencyGroup && !this.#stopping) await this.#startNextInGroup(run.concurrencyGroup);
      })
      .catch(() => undefined);
  }

  /** Re-plans a stored run from its own config text and inputs (deterministic), then lays the stored job rows over it. */
  #replan(run: RunRecord, jobs: JobRecord[]) {
    const config = parseStoredConfig(run.configText);
    const inputs = run.inputs;
    const gantry = gantryContextOf(run.event, run.id);
    const plan = compilePlan(this.#pipelineOf(config), { inputs, gantry });
    const plannedJobs = planMap(plan.jobs);
    const initial = initialRunState(run.id, plan);
    const state: RunState = { ...initial, status: run.status, cancelRequested: run.cancelRequested, jobs: { ...initial.jobs } };
    for (const record of jobs) {
      const job = state.jobs[record.key];
      if (!job) continue;
      state.jobs[record.key] = {
        ...job,
        status: record.status,
        attempt: record.attempt,
        outputs: record.outputs,
        reason: record.reason,
        interruptions: record.interruptions,
      };
    }
    return { config, state, plannedJobs, inputs, gantry };
  }

  /**
   * One run of a concurrency group at a time, oldest first: busy while another run of the group
   * is running (in the store), or an older one is being started or driven by this process.
   */
  async #groupBusy(run: RunRecord): Promise<boolean> {
    const others = await this.#deps.store.runs.list({ concurrencyGroup: run.concurrencyGroup ?? undefined, status: ACTIVE });
    return others.some(
      (o) => o.id !== run.id && (o.status === 'running' || (o.id < run.id && (this.#starting.has(o.id) || this.#drivers.has(o.id)))),
    );
  }

  async #startNextInGroup(group: string): Promise<void> {
    const queued = await this.#deps.store.runs.list({ concurrencyGroup: group, status: ['queued'] });
    const oldest = queued.at(-1);
    if (oldest) this.#schedule(oldest);
  }

  async #cancelGroup(group: string, exceptRunId: string, actor: string): Promise<void> {
    const active = await this.#deps.store.runs.list({ concurrencyGroup: group, status: ACTIVE });
    for (const other of active) {
      if (other.id === exceptRunId) continue;
      await this.cancel(other.id, `${actor} (cancel-in-progress)`).catch(() => undefined);
    }
  }

  async #requireRun(runId: string): Promise<RunRecord> {
    const run = await this.#deps.store.runs.get(runId);
    if (!run) throw new NotFoundError(`run ${runId} does not exist`);
    return run;
  }

  async #event(e: {
    type: string;
    subject: string;
    actor: string;
    data: Record<string, Value>;
    commit?: string;
    configHash?: string;
  }): Promise<void> {
    const env = {
      ...this.#deps.eventEnv(),
      ...(e.commit ? { commit: e.commit } : {}),
      ...(e.configHash ? { configHash: e.configHash } : {}),
    };
    const event: NewEvent = { type: e.type, subject: e.subject, actor: e.actor, data: e.data, env };
    await this.#deps.store.events.append(event);
  }
}

/** What a driver is built from: the config, the reducer state and the plan of a run. */
interface PlannedRun {
  config: GantryConfig;
  state: RunState;
  plannedJobs: Map<string, PlannedJob>;
  inputs: Record<string, Value>;
  gantry: GantryContext;
}

/** A run trigger() has just stored: its plan, and its source checkout under way. */
interface FreshRun {
  planned: PlannedRun;
  source: Promise<void>;
}

function planMap(jobs: readonly PlannedJob[]): Map<string, PlannedJob> {
  return new Map(jobs.map((j) => [j.key, j]));
}

/** The commit a tag (annotated or not) points to, or null when it points to a tree or a blob. */
async function peeledCommit(gitDir: string, sha: string): Promise<string | null> {
  try {
    return (await runGit(['rev-parse', '--verify', '-q', '--end-of-options', `${sha}^{commit}`], { cwd: gitDir })).trim();
  } catch {
    return null;
  }
}

function fullRef(ref: string): string {
  return ref.startsWith('refs/') || ref === 'HEAD' ? ref : `refs/heads/${ref}`;
}

function hashText(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}

function blankJobRecord(job: RunState['jobs'][string]): Omit<JobRecord, 'runId'> {
  return {
    key: job.key,
    jobId: job.jobId,
    matrix: job.matrix,
    needs: job.needs,
    status: job.status,
    attempt: job.attempt,
    outputs: job.outputs,
    steps: [],
    tests: null,
    logTruncated: false,
    reason: job.reason,
    startedAt: null,
    finishedAt: null,
    reusedFromRunId: null,
    interruptions: 0,
  };
}

function jobRecordsOf(state: RunState): Omit<JobRecord, 'runId'>[] {
  return Object.values(state.jobs).map(blankJobRecord);
}

function stripRunId(record: JobRecord): Omit<JobRecord, 'runId'> {
  const { runId: _runId, ...rest } = record;
  return rest;
}
