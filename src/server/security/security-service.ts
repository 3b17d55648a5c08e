/**
 * Security findings as the server keeps them. Each finished job's SARIF log
 * (`<job dir>/sarif.json`, written by the pipeline's scan step) is read once: the event log is
 * read by this service's own cursor, and the job's findings are stored with the cursor in one
 * transaction, so a crash never loses or doubles a job's findings. Findings are compared by
 * fingerprint with the baseline — the newest scanned run of the project's default branch
 * numbered below the run (docs/decisions/0028) — and counted against the project's policy, minus
 * the suppressions that have not expired. The delivery controller asks `checkDeploy` before a
 * rollout starts.
 */
import { parseExpiry } from './expiry.ts';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Clock, type Repeating, repeatEvery } from '../../core/clock.ts';
import { GantryError, InputError, NotFoundError } from '../../core/errors.ts';
import { newId } from '../../core/ids.ts';
import type { Value } from '../../core/types.ts';
import { jobDir } from '../../engine/run-paths.ts';
import { parseStoredConfig } from '../../pipeline/stored-config.ts';
import {
  compareFindings,
  effectivePolicy,
  evaluateGate,
  type Finding,
  FINDING_LEVELS,
  type FindingLevel,
  fromSarif,
  type GateResult,
  policyLevels,
  type SecurityPolicy,
  securityPolicySchema,
  suppressionApplies,
} from '../../security/index.ts';
import type {
  AdvisoryImport,
  EventEnvironment,
  GantryEvent,
  NewEvent,
  Project,
  ReleaseRecord,
  RunRecord,
  Store,
  StoredFinding,
  Suppression,
} from '../../store/ports.ts';
import { advisoryExportFile, exportAdvisories, exportedAtMs } from './advisory-export.ts';
import { importAdvisories } from './advisory-import.ts';

const CURSOR = 'security';
const BATCH = 500;
/** The file the pipeline's scan step leaves beside the job's log (engine/run-paths.ts, pipeline side). */
export const SARIF_FILE = 'sarif.json';
/** Where a release's CycloneDX SBOM is kept, in the release's directory (written by the release side). */
export const RELEASE_SBOM_FILE = 'sbom.cdx.json';

export interface SecurityServiceDeps {
  store: Store;
  clock: Clock;
  dataDir: string;
  /** The full ref of the project's default branch, e.g. `refs/heads/main`. */
  defaultRef(project: Project): Promise<string>;
  eventEnv(): EventEnvironment;
  /** After a project's findings changed (live streams). */
  changed?(projectId: string): void;
  warn(message: string, data: Record<string, unknown>): void;
  /** Default 1000 ms. */
  intervalMs?: number;
  /** Brings a job's files into the data dir first when another server ran it (several servers); absent: they are here. */
  jobFiles?(runId: string, jobKey: string): Promise<void>;
}

/** A finding of a run as the API shows it. */
export interface FindingView extends StoredFinding {
  jobKey: string;
  status: 'new' | 'existing' | 'fixed';
  /** The suppression that applies now, if any. */
  suppression: Suppression | null;
}

/** How fresh the advisory database is, shown wherever results are. */
export interface AdvisoryAge {
  records: number;
  withdrawn: number;
  newestModified: string | null;
  importedAt: string | null;
}

export interface RunSecurity {
  run: { id: string; number: number; ref: string; sha: string };
  /** False: no job of the run left a SARIF log (yet). */
  scanned: boolean;
  jobs: string[];
  baseline: { runId: string; number: number } | null;
  findings: FindingView[];
  /** In the baseline, gone from this run. */
  fixed: FindingView[];
  counts: { new: number; existing: number; fixed: number; suppressed: number };
  /** What the policy says of a release of this run (a pipeline never fails on it). */
  gate: GateResult;
  advisories: AdvisoryAge;
}

export interface ReleaseSecurity extends RunSecurity {
  release: { id: string; number: number };
  /** The gate per environment the release's config or the policy names. */
  environments: { environment: string; gate: GateResult }[];
  sbom: { available: boolean; path: string };
}

/** A deploy despite blocking findings: why (the actor is recorded with it). */
export interface SecurityOverride {
  reason: string;
}

export class SecurityService {
  readonly #deps: SecurityServiceDeps;
  #loop: Repeating | undefined;
  #exporting: Promise<void> = Promise.resolve();

  constructor(deps: SecurityServiceDeps) {
    this.#deps = deps;
  }

  start(): void {
    this.#loop ??= repeatEvery(
      this.#deps.clock,
      this.#deps.intervalMs ?? 1000,
      () => this.readJobs(),
      (error) => this.#deps.warn('reading scan results failed', { error: String(error) }),
    );
  }

  async stop(): Promise<void> {
    await this.#loop?.stop();
  }

  /** Stores the findings of each job that finished since the last call and left a SARIF log. */
  async readJobs(): Promise<void> {
    const { store } = this.#deps;
    let cursor = await store.findings.cursor(CURSOR);
    for (;;) {
      const events = await store.events.list({ afterId: cursor, limit: BATCH });
      if (events.length === 0) return;
      for (const event of events) {
        cursor = event.id;
        await this.#readJob(event);
      }
      await store.findings.setCursor(CURSOR, cursor);
      if (events.length < BATCH) return;
    }
  }

  async #readJob(event: GantryEvent): Promise<void> {
    if (!event.type.startsWith('job.') || !isFinal(event.data.status)) return;
    const runId = String(event.data.runId);
    const key = String(event.data.key);
    const { store, dataDir } = this.#deps;
    await this.#deps.jobFiles?.(runId, key);
    const file = join(jobDir(dataDir, runId, key), SARIF_FILE);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch {
      return; // the job ran no scan
    }
    const run = await store.runs.get(runId);
    if (run?.projectId == null) return;
    const project = await store.projects.get(run.projectId);
    if (!project) return;
    let findings: Finding[];
    try {
      findings = fromSarif(JSON.parse(text), file);
    } catch (error) {
      // Not the user's run's failure to decide here: the job is left unscanned, and says why.
      this.#deps.warn('a job left a SARIF log that cannot be read', { runId, key, error: String(error) });
      return;
    }
    const defaultBranch = run.event.ref === (await this.#deps.defaultRef(project).catch(() => 'refs/heads/main'));
    const levels = countLevels(findings.map((f) => f.level));
    await store.findings.recordJob(
      {
        projectId: project.id,
        runId,
        runNumber: run.number,
        jobKey: key,
        defaultBranch,
        scannedAt: new Date(this.#deps.clock.now()).toISOString(),
      },
      findings.map(toStored),
      [this.#event('security.scanned', `job:${runId}/${key}`, 'server', { runId, key, findings: findings.length, ...levels })],
      { name: CURSOR, eventId: event.id },
    );
    this.#deps.changed?.(project.id);
  }

  // ---------------------------------------------------------------- findings of runs and releases

  async runSecurity(project: Project, run: RunRecord): Promise<RunSecurity> {
    const { store } = this.#deps;
    const jobs = await store.findings.scannedJobs(run.id);
    const baselineRun = await store.findings.baselineRun(project.id, run.number);
    const current = await store.findings.runFindings(run.id);
    const baseline = baselineRun ? await store.findings.runFindings(baselineRun.runId) : null;
    const compared = compareFindings(current, baseline);
    const suppressions = await store.findings.suppressions(project.id);
    const now = new Date(this.#deps.clock.now()).toISOString();
    const suppressionOf = (f: StoredFinding): Suppression | null =>
      suppressions.find((s) => suppressionApplies(s, { fingerprint: f.fingerprint, ruleId: f.ruleId, path: f.path }, now)) ?? null;
    const findings: FindingView[] = compared.current.map(({ finding, status }) => ({
      ...finding,
      status,
      suppression: suppressionOf(finding),
    }));
    const fixed: FindingView[] = compared.fixed.map((f) => ({ ...f, status: 'fixed', suppression: null }));
    const policy = await this.policy(project);
    return {
      run: { id: run.id, number: run.number, ref: run.event.ref, sha: run.event.sha },
      scanned: jobs.length > 0,
      jobs: jobs.map((j) => j.jobKey),
      baseline: baselineRun ? { runId: baselineRun.runId, number: baselineRun.runNumber } : null,
      findings,
      fixed,
      counts: {
        new: findings.filter((f) => f.status === 'new').length,
        existing: findings.filter((f) => f.status === 'existing').length,
        fixed: fixed.length,
        suppressed: findings.filter((f) => f.suppression !== null).length,
      },
      gate: gateOf(findings, policyLevels(policy, null), 'any environment', jobs.length > 0),
      advisories: await this.advisoryAge(),
    };
  }

  async releaseSecurity(project: Project, release: ReleaseRecord): Promise<ReleaseSecurity> {
    const sbomPath = join(this.#deps.dataDir, release.artifactsPath, RELEASE_SBOM_FILE);
    const sbom = {
      available: await readFile(sbomPath).then(
        () => true,
        () => false,
      ),
      path: sbomPath,
    };
    const run = release.runId ? await this.#deps.store.runs.get(release.runId) : undefined;
    const policy = await this.policy(project, release.configText);
    const base: RunSecurity = run
      ? await this.runSecurity(project, run)
      : {
          run: { id: release.runId ?? '', number: 0, ref: release.ref, sha: release.sha },
          scanned: false,
          jobs: [],
          baseline: null,
          findings: [],
          fixed: [],
          counts: { new: 0, existing: 0, fixed: 0, suppressed: 0 },
          gate: gateOf([], policyLevels(policy, null), 'any environment', false),
          advisories: await this.advisoryAge(),
        };
    const names = new Set<string>([...releaseEnvironments(release), ...Object.keys(policy.environments)]);
    return {
      ...base,
      release: { id: release.id, number: release.number },
      environments: [...names].map((environment) => ({
        environment,
        gate: gateOf(base.findings, policyLevels(policy, environment), environment, base.scanned),
      })),
      sbom,
    };
  }

  /**
   * The gate before a rollout: a release whose run has new, unsuppressed findings at a level the
   * environment's policy blocks is refused unless overridden with a reason; a warning and an
   * override are recorded as events. Rollbacks never come here.
   */
  async checkDeploy(
    project: Project,
    release: ReleaseRecord,
    environment: string,
    actor: string,
    override: SecurityOverride | undefined,
  ): Promise<void> {
    const security = await this.releaseSecurity(project, release);
    const gate = gateOf(
      security.findings,
      policyLevels(await this.policy(project, release.configText), environment),
      environment,
      security.scanned,
    );
    if (gate.decision === 'pass') return;
    const blocking = gate.blocking.map((f) => f.fingerprint);
    if (gate.decision === 'block' && override === undefined) {
      throw new GantryError(
        'SECURITY_GATE_BLOCKED',
        `release #${release.number} cannot go to ${environment}: ${gate.reason}. See \`gantry findings ${project.name} --release ${release.number} --new\`; fix them, suppress them with a reason (\`gantry findings suppress FINGERPRINT --reason "…"\`), or deploy anyway with \`gantry deploy ${project.name} ${release.number} --env ${environment} --override-security "reason"\``,
        { environment, release: release.number, blocking },
      );
    }
    await this.#deps.store.events.append(
      this.#event(
        gate.decision === 'block' ? 'deploy.security-override' : 'deploy.security-warning',
        `environment:${project.id}/${environment}`,
        actor,
        {
          releaseId: release.id,
          release: release.number,
          reason: gate.reason,
          blocking,
          warning: gate.warning.map((f) => f.fingerprint),
          ...(override && gate.decision === 'block' ? { overrideReason: override.reason } : {}),
        },
      ),
    );
  }

  async trend(
    project: Project,
    limit: number,
  ): Promise<{ runNumber: number; runId: string; scannedAt: string; levels: Record<string, number> }[]> {
    return (await this.#deps.store.findings.trend(project.id, limit)).reverse();
  }

  // ---------------------------------------------------------------- suppressions

  async suppress(
    project: Project,
    target: { fingerprint?: string; ruleId?: string; path?: string },
    reason: string,
    /** A span from now (`30d`), a date, or null/`never`: read against the same instant the suppression is made at. */
    expires: string | null,
    author: string,
  ): Promise<Suppression> {
    if ((target.fingerprint === undefined) === (target.ruleId === undefined))
      throw new InputError('suppress one finding by its fingerprint, or a rule by its id (optionally under a path), not both');
    if (target.path !== undefined && target.ruleId === undefined) throw new InputError('a path narrows a rule: give the rule id too');
    const nowMs = this.#deps.clock.now();
    const now = new Date(nowMs).toISOString();
    const expiresAt = parseExpiry(expires ?? undefined, nowMs);
    if (expiresAt !== null && expiresAt <= now) throw new InputError(`the expiry ${expiresAt} is already past`);
    const suppression: Suppression = {
      id: newId(),
      projectId: project.id,
      fingerprint: target.fingerprint ?? null,
      ruleId: target.ruleId ?? null,
      path: target.path ?? null,
      reason,
      author,
      createdAt: now,
      expiresAt,
      removedAt: null,
    };
    await this.#deps.store.findings.addSuppression(suppression, [
      this.#event('finding.suppressed', `project:${project.id}`, author, {
        suppressionId: suppression.id,
        fingerprint: suppression.fingerprint,
        ruleId: suppression.ruleId,
        path: suppression.path,
        reason,
        expiresAt,
      }),
    ]);
    this.#deps.changed?.(project.id);
    return suppression;
  }

  async unsuppress(project: Project, id: string, actor: string): Promise<void> {
    const suppression = await this.#deps.store.findings.getSuppression(id);
    if (!suppression || suppression.projectId !== project.id || suppression.removedAt !== null)
      throw new NotFoundError(`no suppression ${id} in ${project.name} (\`gantry findings suppressions ${project.name}\` lists them)`);
    const now = new Date(this.#deps.clock.now()).toISOString();
    await this.#deps.store.findings.removeSuppression(id, now, [
      this.#event('finding.unsuppressed', `project:${project.id}`, actor, {
        suppressionId: id,
        fingerprint: suppression.fingerprint,
        ruleId: suppression.ruleId,
        path: suppression.path,
      }),
    ]);
    this.#deps.changed?.(project.id);
  }

  /** Suppressions not lifted, each saying whether it still applies. */
  async suppressions(project: Project): Promise<(Suppression & { expired: boolean })[]> {
    const now = new Date(this.#deps.clock.now()).toISOString();
    return (await this.#deps.store.findings.suppressions(project.id)).map((s) => ({
      ...s,
      expired: s.expiresAt !== null && s.expiresAt <= now,
    }));
  }

  // ---------------------------------------------------------------- policy

  /**
   * The policy gates use: the one set on the server for the project, else the one the release's
   * gantry.yaml declares (`security.policy`), over the default.
   */
  async policy(project: Project, configText?: string): Promise<Required<SecurityPolicy>> {
    const text = await this.#deps.store.findings.policy(project.id);
    if (text !== undefined) return effectivePolicy(securityPolicySchema.parse(JSON.parse(text)));
    return effectivePolicy(configText === undefined ? null : (configPolicy(configText) ?? null));
  }

  async setPolicy(project: Project, policy: SecurityPolicy, actor: string): Promise<Required<SecurityPolicy>> {
    const text = JSON.stringify(policy);
    await this.#deps.store.findings.setPolicy(project.id, text, [
      this.#event('security.policy-set', `project:${project.id}`, actor, { policy: policy as unknown as Value }),
    ]);
    return effectivePolicy(policy);
  }

  // ---------------------------------------------------------------- advisories

  async importAdvisories(path: string, actor: string): Promise<AdvisoryImport> {
    const summary = await importAdvisories(this.#deps.store, path, new Date(this.#deps.clock.now()).toISOString());
    await this.#deps.store.events.append(this.#event('advisories.imported', 'advisories', actor, { ...summary }));
    // Before answering: a run started after the import must be checked against it.
    await this.#exportAdvisories();
    return summary;
  }

  /** The store's advisories as a file a run's security job reads, or null before the first import. */
  advisoryFile(): string | null {
    const file = advisoryExportFile(this.#deps.dataDir);
    return exportedAtMs(file) === null ? null : file;
  }

  /** At start: rewrites the file when it is missing or older than the last import (a crash between the two). */
  async refreshAdvisoryFile(): Promise<void> {
    const { lastImport } = await this.#deps.store.advisories.status();
    if (lastImport === null) return;
    const exported = exportedAtMs(advisoryExportFile(this.#deps.dataDir));
    if (exported === null || exported < Date.parse(lastImport.importedAt)) await this.#exportAdvisories();
  }

  #exportAdvisories(): Promise<void> {
    // One writer at a time: two imports close together must not rename over each other's file.
    const next = this.#exporting.then(async () => {
      await exportAdvisories(this.#deps.store.advisories, advisoryExportFile(this.#deps.dataDir));
    });
    this.#exporting = next.catch(() => undefined);
    return next;
  }

  async advisoryAge(): Promise<AdvisoryAge> {
    const status = await this.#deps.store.advisories.status();
    return {
      records: status.records,
      withdrawn: status.withdrawn,
      newestModified: status.lastImport?.newestModified ?? null,
      importedAt: status.lastImport?.importedAt ?? null,
    };
  }

  #event(type: string, subject: string, actor: string, data: Record<string, Value>): NewEvent {
    return { type, subject, actor, data, env: this.#deps.eventEnv(), at: new Date(this.#deps.clock.now()).toISOString() };
  }
}

const FINAL = new Set(['success', 'failure', 'skipped', 'cancelled']);
function isFinal(status: unknown): boolean {
  return typeof status === 'string' && FINAL.has(status);
}

function toStored(f: Finding): StoredFinding {
  return {
    fingerprint: f.fingerprint,
    scanner: f.scanner,
    ruleId: f.ruleId,
    ruleName: f.ruleName,
    level: f.level,
    message: f.message,
    path: f.location?.path ?? null,
    startLine: f.location?.startLine ?? null,
    properties: f.properties ?? {},
  };
}

function countLevels(levels: readonly FindingLevel[]): Record<string, number> {
  return Object.fromEntries(FINDING_LEVELS.map((level) => [level, levels.filter((l) => l === level).length]));
}

function gateOf(findings: readonly FindingView[], levels: ReturnType<typeof policyLevels>, place: string, scanned: boolean): GateResult {
  if (!scanned) return { decision: 'pass', blocking: [], warning: [], reason: 'not scanned: no job of its run left a SARIF log' };
  return evaluateGate(
    findings
      .filter((f) => f.status !== 'fixed')
      .map((f) => ({
        fingerprint: f.fingerprint,
        ruleId: f.ruleId,
        level: (FINDING_LEVELS as readonly string[]).includes(f.level) ? (f.level as FindingLevel) : 'medium',
        status: f.status === 'new' ? 'new' : 'existing',
        suppressed: f.suppression !== null,
      })),
    levels,
    place,
  );
}

/** The environments a release's gantry.yaml defines (none when it does not parse: the policy's still apply). */
function configPolicy(configText: string): SecurityPolicy | undefined {
  try {
    return parseStoredConfig(configText).security?.policy;
  } catch {
    return undefined;
  }
}

function releaseEnvironments(release: ReleaseRecord): string[] {
  try {
    return Object.keys(parseStoredConfig(release.configText).environments ?? {});
  } catch {
    return [];
  }
}
