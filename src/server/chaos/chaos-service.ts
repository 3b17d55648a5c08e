/**
 * Chaos experiments as the server runs them: `run` finds the experiment in the gantry.yaml of the
 * environment's current release (experiments are code: they change with a deploy), refuses a
 * second one in the same environment, and hands it to an `ExperimentRunner`; `abort`, the list of
 * runs and one run's record; `start` settles runs a previous server left mid-way — the proxy has
 * cleared their faults by their deadline (or this clears them now), and the record says how the
 * run ended. Runs are kept in the event log alone (`experiment.*` events of the environment).
 */
import { createHash } from 'node:crypto';
import {
  experimentRecord,
  initialExperiment,
  isFinishedExperiment,
  resolveFaultReleases,
  resolveInstanceReleases,
  type ExperimentState,
  type HypothesisSlo,
} from '../../chaos/index.ts';
import type { AppliedInstanceFault, ExperimentConfig } from '../../core/chaos-config.ts';
import { ConflictError, GantryError, InputError, NotFoundError } from '../../core/errors.ts';
import { createIdGenerator } from '../../core/ids.ts';
import type { Value } from '../../core/types.ts';
import { mergeExperiments } from '../../pipeline/experiment-files.ts';
import { parseStoredConfig } from '../../pipeline/stored-config.ts';
import type { GantryEvent, Project } from '../../store/ports.ts';
import { ExperimentRunner, countsOf } from './experiment-runner.ts';
import { ExperimentScheduler } from './experiment-scheduler.ts';
import { lastScheduledStart } from './scheduled-starts.ts';
import { diskFullRefusal, revertInstanceFaults } from './instance-fault-driver.ts';
import type { ChaosDeps } from './ports.ts';

const newId = createIdGenerator();

/** One experiment as declared, and where it would run. */
export interface DeclaredExperiment {
  name: string;
  environment: string;
  release: string;
  config: ExperimentConfig;
}

/** A run as the API shows it: the record of a finished one, the live state of one running. */
export type ExperimentRunView = Record<string, unknown>;

/** What a dry run says it would do. */
export interface DryRunPlan {
  dryRun: true;
  name: string;
  environment: string;
  release: string | null;
  configHash: string;
  faults: ExperimentConfig['faults'];
  hypothesis: ExperimentConfig['hypothesis'];
  durationMs: number;
  /** What the guard says now; empty = it would start. */
  guardProblems: string[];
}

export class ChaosService {
  readonly #deps: ChaosDeps;
  /** `callerKeys`: what the proxy was last told of each fault's caller instances (null: not on a service edge). */
  readonly #running = new Map<string, { runner: ExperimentRunner; projectId: string; callerKeys: (string[] | null)[] }>();
  /** Follows of the callers' instances, one at a time (instance changes come in bursts). */
  #following: Promise<void> = Promise.resolve();
  #unsubscribe: (() => void) | null = null;

  readonly #scheduler: ExperimentScheduler;

  constructor(deps: ChaosDeps) {
    this.#deps = deps;
    this.#scheduler = new ExperimentScheduler({
      clock: deps.clock,
      projects: () => deps.store.projects.list(),
      declared: (project) => this.declared(project),
      run: (project, name, o) => this.run(project, name, o),
      lastScheduledStart: (project, d) => lastScheduledStart(deps.store.events, project.id, d.environment, d.name),
      warn: deps.warn,
    });
  }

  /** Settles runs a previous server left mid-way (call after delivery opened the environments). */
  async start(): Promise<void> {
    const started = await this.#deps.store.events.list({ type: 'experiment.started', newestFirst: true, limit: 200 });
    const finished = new Set(
      (await this.#deps.store.events.list({ type: 'experiment.finished', newestFirst: true, limit: 1000 })).map((e) =>
        String(e.data.experimentId),
      ),
    );
    for (const event of started) {
      const id = String(event.data.experimentId);
      if (finished.has(id) || this.#running.has(id)) continue;
      await this.#settleInterrupted(event).catch((error: unknown) =>
        this.#deps.warn('settling an interrupted experiment failed', { experimentId: id, err: error }),
      );
    }
    this.#unsubscribe = this.#deps.onInstanceChange?.(() => this.#instancesChanged()) ?? null;
    this.#scheduler.start();
  }

  /** Server shutdown: every running experiment is aborted (faults out, recorded). */
  async stop(): Promise<void> {
    this.#unsubscribe?.();
    await this.#scheduler.stop();
    const runs = [...this.#running.values()];
    await Promise.all(runs.map(({ runner }) => runner.abort('the server is shutting down')));
    await Promise.all(runs.map(({ runner }) => runner.done));
  }

  /** The experiments the current releases of a project's environments declare. */
  async declared(project: Project): Promise<DeclaredExperiment[]> {
    const out: DeclaredExperiment[] = [];
    for (const env of await this.#deps.store.rollouts.environments(project.id)) {
      if (env.currentReleaseId === null) continue;
      for (const config of await this.#experimentsOf(env.currentReleaseId))
        if (config.environment === env.name) out.push({ name: config.name, environment: env.name, release: env.currentReleaseId, config });
    }
    return out;
  }

  /** Starts experiment `name` (in `environment`, when several environments declare one of that name). */
  async run(
    project: Project,
    name: string,
    o: { environment?: string; dryRun?: boolean; actor: string },
  ): Promise<ExperimentState | DryRunPlan> {
    const candidates = (await this.declared(project)).filter(
      (d) => d.name === name && (o.environment === undefined || d.environment === o.environment),
    );
    if (candidates.length === 0) {
      const known = (await this.declared(project)).map((d) => `${d.name} (${d.environment})`);
      throw new NotFoundError(
        `no experiment '${name}'${o.environment ? ` in ${o.environment}` : ''} in the gantry.yaml of the running releases${known.length > 0 ? ` (declared: ${known.join(', ')})` : ''}`,
      );
    }
    if (candidates.length > 1) throw new InputError(`experiment '${name}' is declared for several environments: say which with --env`);
    const declared = (candidates[0] as DeclaredExperiment).config;
    const target = await this.#deps.target(project.id, declared.environment);
    if (target === undefined) throw new ConflictError(`environment ${declared.environment} is not running: deploy a release first`);
    // Faults set on a proxy no request passes through would let the hypothesis "hold" on nothing.
    if (target.gateway)
      throw new GantryError(
        'CHAOS_FAULT_NOT_ON_GATEWAY',
        `experiment '${name}' is refused: ${declared.environment}'s traffic is split by a Gateway API HTTPRoute (traffic: gateway), with no Gantry proxy in its path to inject faults into or measure; use traffic: proxy`,
      );
    // The faults as applied: `release: canary` / `stable` name the releases running now.
    const running = { stable: target.release, canary: target.rolloutRelease };
    const config: ExperimentConfig = {
      ...declared,
      faults: await this.#resolveCallers(project, resolveFaultReleases(declared.faults, running)),
    };
    if (declared.instanceFaults !== undefined && target.pods !== undefined) {
      const notKill = declared.instanceFaults.find((f) => f.kind !== 'kill');
      if (notKill !== undefined)
        throw new GantryError(
          'CHAOS_FAULT_NOT_ON_KUBERNETES',
          `experiment '${name}' is refused: a ${notKill.kind} fault acts on a process of this host, and ${declared.environment}'s instances are pods of a Kubernetes cluster (only kill takes them)`,
        );
      config.instanceFaults = resolveInstanceReleases(declared.instanceFaults, running);
    } else if (declared.instanceFaults !== undefined) {
      if (!target.instances)
        throw new ConflictError(
          `experiment '${name}' has instance faults, but ${declared.environment}'s instances are not processes of this host`,
        );
      config.instanceFaults = resolveInstanceReleases(declared.instanceFaults, running);
      const unsafe = diskFullRefusal(target.instances, config.instanceFaults);
      if (unsafe !== null) throw new GantryError('CHAOS_DISK_FULL_UNSAFE', `experiment '${name}' is refused: ${unsafe}`);
    }
    const slo = await this.#sloOf(candidates[0] as DeclaredExperiment);
    const configHash = createHash('sha256').update(JSON.stringify(declared)).digest('hex').slice(0, 16);
    if (o.dryRun) {
      const guardProblems: string[] = [];
      if (config.guard.noRollout && target.rolloutRelease !== null)
        guardProblems.push(`a rollout of release ${target.rolloutRelease} is under way`);
      if (config.guard.minBudget !== undefined)
        for (const b of this.#deps.budgets(project.id, config.environment))
          if (b.remaining < config.guard.minBudget)
            guardProblems.push(`SLO '${b.slo}' has less of its error budget left than the guard asks`);
      return {
        dryRun: true,
        name,
        environment: config.environment,
        release: target.release,
        configHash,
        faults: config.faults,
        hypothesis: config.hypothesis,
        durationMs: config.durationMs,
        guardProblems,
      };
    }
    const busy = [...this.#running.values()].find((r) => r.projectId === project.id && r.runner.state.environment === config.environment);
    if (busy !== undefined)
      throw new ConflictError(`experiment ${busy.runner.state.name} (${busy.runner.state.id}) is already running in ${config.environment}`);
    const initial = initialExperiment({ id: newId(), config, configHash, release: target.release, at: this.#deps.clock.now() });
    const runner = new ExperimentRunner(this.#deps, { projectId: project.id, actor: o.actor, target, slo }, initial);
    const callerKeys = config.faults.map((f) => (f.match.caller === undefined ? null : [...(f.match.callerKeys ?? [])]));
    this.#running.set(initial.state.id, { runner, projectId: project.id, callerKeys });
    void runner.done.then(() => this.#running.delete(initial.state.id));
    return runner.state;
  }

  /** Faults on a service edge get the caller's instance keys, as they are now (the proxy matches requests on them). */
  async #resolveCallers(project: Project, faults: ExperimentConfig['faults']): Promise<ExperimentConfig['faults']> {
    const out: ExperimentConfig['faults'] = [];
    for (const fault of faults) {
      const caller = fault.match.caller;
      if (caller === undefined) {
        out.push(fault);
        continue;
      }
      const keys = await this.#callerKeys(project, caller);
      if (keys.length === 0) throw new ConflictError(`a fault's caller ${caller} has no running instance to take the calls of`);
      out.push({ ...fault, match: { ...fault.match, callerKeys: keys } });
    }
    return out;
  }

  /** The instance keys of a fault's caller (`env` of `project`, or `project/env`) as they are now. */
  async #callerKeys(project: Project, caller: string): Promise<string[]> {
    const [first, second] = caller.split('/') as [string, string | undefined];
    const callerProject = second === undefined ? project : await this.#deps.store.projects.get(first);
    if (callerProject === undefined) throw new NotFoundError(`a fault's caller ${caller} names no project '${first}'`);
    return this.#deps.instanceKeys?.(callerProject.id, second ?? first) ?? [];
  }

  /**
   * Some instance changed: a fault on the edge from a caller follows that caller's instances (a
   * deploy of the caller mid-experiment starts new ones). Costs nothing while no running
   * experiment has such a fault.
   */
  #instancesChanged(): void {
    if (![...this.#running.values()].some((r) => r.callerKeys.some((k) => k !== null))) return;
    this.#following = this.#following
      .then(() => this.#followCallers())
      .catch((error: unknown) => this.#deps.warn('following the callers of a fault failed', { err: error }));
  }

  async #followCallers(): Promise<void> {
    for (const run of this.#running.values()) {
      // Only while the faults are in the proxy: before, `set` carries the keys of the moment.
      if (run.runner.state.phase !== 'watching' || !run.callerKeys.some((k) => k !== null)) continue;
      const project = await this.#deps.store.projects.get(run.projectId);
      if (project === undefined) continue;
      const now: (string[] | null)[] = [];
      for (const f of run.runner.state.config.faults)
        now.push(f.match.caller === undefined ? null : await this.#callerKeys(project, f.match.caller));
      if (JSON.stringify(now) === JSON.stringify(run.callerKeys)) continue;
      await run.runner.followCallers(now);
      run.callerKeys = now;
    }
  }

  /** Aborts a running experiment by hand; resolves once its faults are out. */
  async abort(project: Project, experimentId: string, actor: string): Promise<ExperimentState> {
    const run = this.#running.get(experimentId);
    if (run === undefined || run.projectId !== project.id) {
      const finished = await this.#finishedRecord(project, experimentId);
      if (finished !== undefined) throw new ConflictError(`experiment ${experimentId} already ended (${String(finished.verdict)})`);
      throw new NotFoundError(`no experiment run ${experimentId} in project ${project.name}`);
    }
    await run.runner.abort(`aborted by ${actor}`);
    return run.runner.state;
  }

  /** Waits for a run to finish (tests and the CLI's progress). */
  async finished(experimentId: string): Promise<ExperimentState | undefined> {
    return this.#running.get(experimentId)?.runner.done;
  }

  /** Runs of a project, newest first: the running ones, then the records of finished ones. */
  async runs(project: Project, o: { environment?: string; limit?: number } = {}): Promise<ExperimentRunView[]> {
    const live = [...this.#running.values()]
      .filter((r) => r.projectId === project.id && (o.environment === undefined || r.runner.state.environment === o.environment))
      .map((r) => liveView(r.runner.state));
    const prefix = o.environment === undefined ? `environment:${project.id}/` : `environment:${project.id}/${o.environment}`;
    const events = await this.#deps.store.events.list({
      type: 'experiment.finished',
      subjectPrefix: prefix,
      newestFirst: true,
      limit: o.limit ?? 100,
    });
    const done = events.filter((e) => o.environment !== undefined || e.subject.startsWith(prefix)).map((e) => ({ ...e.data, at: e.at }));
    return [...live, ...done].slice(0, o.limit ?? 100);
  }

  /** One run: live while it runs, its record once finished. */
  async show(project: Project, experimentId: string): Promise<ExperimentRunView> {
    const run = this.#running.get(experimentId);
    if (run !== undefined && run.projectId === project.id) return liveView(run.runner.state);
    const record = await this.#finishedRecord(project, experimentId);
    if (record === undefined) throw new NotFoundError(`no experiment run ${experimentId} in project ${project.name}`);
    return record;
  }

  /** The experiment running in an environment at `atMs`, if any: an incident opened then is linked to it. */
  activeIn(projectId: string, environment: string): { experimentId: string; name: string } | null {
    for (const { runner, projectId: p } of this.#running.values()) {
      const s = runner.state;
      if (p === projectId && s.environment === environment && !isFinishedExperiment(s)) return { experimentId: s.id, name: s.name };
    }
    return null;
  }

  /** Stops every runner's timers without recording anything: what a killed server leaves (tests only). */
  detachForTests(): void {
    for (const { runner } of this.#running.values()) runner.detach();
    this.#running.clear();
  }

  async #finishedRecord(project: Project, experimentId: string): Promise<ExperimentRunView | undefined> {
    const events = await this.#deps.store.events.list({
      type: 'experiment.finished',
      subjectPrefix: `environment:${project.id}/`,
      newestFirst: true,
      limit: 1000,
    });
    const e = events.find((x) => x.data.experimentId === experimentId);
    return e === undefined ? undefined : { ...e.data, at: e.at };
  }

  /**
   * A run whose server stopped mid-way: the faults were set with a deadline the proxy enforces,
   * so they are gone by then; if the deadline has not come yet they are cleared now. Recorded as
   * aborted, with what the proxy counted and how the faults ended.
   */
  async #settleInterrupted(started: GantryEvent): Promise<void> {
    const id = String(started.data.experimentId);
    const [projectId = '', environment = ''] = started.subject.replace(/^environment:/, '').split('/');
    const latest = (
      await this.#deps.store.events.list({ type: 'experiment.*', subjectPrefix: started.subject, newestFirst: true, limit: 50 })
    ).find((e) => e.data.experimentId === id);
    const target = await this.#deps.target(projectId, environment);
    let report = target === undefined ? null : await target.proxy.faultReport().catch(() => null);
    if (report !== null && report.experimentId !== id) report = null;
    if (report !== null && report.endedBy === null && target !== undefined) report = await target.proxy.clearFaults(id);
    // A pause or pressure ends at the deadline by itself; a server back before it ends them now.
    const injected = (
      await this.#deps.store.events.list({ type: 'experiment.injected', subjectPrefix: started.subject, newestFirst: true, limit: 50 })
    ).find((e) => e.data.experimentId === id);
    const instanceFaults = (injected?.data.instanceFaults ?? []) as unknown as AppliedInstanceFault[];
    revertInstanceFaults(instanceFaults);
    const now = this.#deps.clock.now();
    const how =
      report === null
        ? latest?.data.phase === 'guard' || latest?.data.phase === 'before'
          ? 'before any fault was set'
          : 'and its proxy no longer knows the faults (they were cleared at their deadline at the latest)'
        : report.endedBy === 'deadline'
          ? `and the proxy cleared the faults at their deadline (${new Date(report.endedAt ?? now).toISOString()})`
          : `and the restarted server cleared the faults at ${new Date(report.endedAt ?? now).toISOString()}`;
    const data: Record<string, unknown> = {
      experimentId: id,
      name: started.data.name,
      environment,
      configHash: started.data.configHash,
      release: started.data.release,
      faults: started.data.faults,
      instanceFaults,
      verdict: 'aborted',
      reason: `the server stopped mid-experiment ${how}`,
      interrupted: true,
      startedAt: started.data.startedAt ?? Date.parse(started.at),
      injectedAt: report?.setAt ?? null,
      revertedAt: report?.endedAt ?? null,
      finishedAt: now,
      brokenAt: null,
      affected: report?.affected ?? 0,
      unaffected: report?.unaffected ?? 0,
      failedRequests: report === null ? [] : (countsOf(report).failed ?? []),
      faultsEndedBy: report?.endedBy ?? null,
      before: null,
      during: null,
      after: null,
      looks: [],
    };
    await this.#deps.store.events.append({
      type: 'experiment.finished',
      subject: started.subject,
      actor: 'server',
      at: new Date(now).toISOString(),
      data: JSON.parse(JSON.stringify(data)) as Record<string, Value>,
      env: this.#deps.eventEnv(),
    });
    this.#deps.changed?.(projectId);
  }

  readonly #configs = new Map<string, ExperimentConfig[]>();
  readonly #slos = new Map<string, ReturnType<typeof parseStoredConfig>['slos']>();

  async #experimentsOf(releaseId: string): Promise<ExperimentConfig[]> {
    const cached = this.#configs.get(releaseId);
    if (cached !== undefined) return cached;
    const release = await this.#deps.store.releases.get(releaseId);
    let experiments: ExperimentConfig[] = [];
    try {
      const config = release === undefined ? undefined : parseStoredConfig(release.configText);
      this.#slos.set(releaseId, config?.slos ?? []);
      if (release !== undefined && config !== undefined) {
        const files = (await this.#deps.experimentFiles?.(release.projectId, release.sha)) ?? [];
        experiments = mergeExperiments({ file: 'gantry.yaml', text: release.configText, config }, files);
      }
    } catch (error) {
      // A release is made from a config that validated; its experiment files may not have: say so, declare none.
      this.#deps.warn('the experiments of a release do not validate', { releaseId, err: error });
    }
    this.#configs.set(releaseId, experiments);
    return experiments;
  }

  async #sloOf(d: DeclaredExperiment): Promise<HypothesisSlo | undefined> {
    const name = d.config.hypothesis.slo;
    if (name === undefined) return undefined;
    await this.#experimentsOf(d.release);
    const slo = this.#slos.get(d.release)?.find((s) => s.name === name);
    return slo === undefined ? undefined : { objective: slo.objective, sli: slo.sli };
  }
}

function liveView(s: ExperimentState): ExperimentRunView {
  return { ...experimentRecord(s), phase: s.phase, deadlineAt: s.deadlineAt, looks: s.looks, running: true };
}
