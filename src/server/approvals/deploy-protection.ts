/**
 * The deploy gate of protected environments: deploy windows and required approvals, checked
 * where a deploy (or an automatic promotion) to the environment starts — the delivery
 * controller calls `check` before anything else runs. A deploy outside the windows needs an
 * override (`deploy.override`, a reason, recorded as `deploy.window-override`); one without its
 * approvals is refused and waits as a request until approved (four eyes: never by whoever made
 * the release or asked to deploy it). Approvals are never overridden: that is their point.
 */
import { approvalState, type ApprovalState, deployWindowVerdict } from '../../access/index.ts';
import { ConflictError, GantryError } from '../../core/errors.ts';
import type { ApprovalRequest, EnvironmentProtection } from '../../core/protection.ts';
import type { EventEnvironment, NewEvent, Project, ReleaseRecord, Store } from '../../store/ports.ts';

export interface DeployProtectionDeps {
  store: Store;
  clock: { now(): number };
  eventEnv(): EventEnvironment;
}

/** A deploy outside the environment's windows: why (recorded with who). */
export interface WindowOverride {
  reason: string;
}

/** A deploy waiting for approvals, as `gantry approvals` shows it. */
export interface PendingApproval {
  environment: string;
  release: number;
  releaseId: string;
  requestedBy: string;
  requestedAt: string;
  required: number;
  group: string | null;
  approvedBy: string[];
  missing: number;
}

export class DeployProtection {
  readonly #deps: DeployProtectionDeps;

  constructor(deps: DeployProtectionDeps) {
    this.#deps = deps;
  }

  protection(project: Project, environment: string): Promise<EnvironmentProtection | undefined> {
    return this.#deps.store.protection.get(project.id, environment);
  }

  /** Sets an environment's protection by hand (the API); the platform's apply is the other writer. */
  async setProtection(project: Project, environment: string, protection: EnvironmentProtection | null, actor: string): Promise<void> {
    await this.#deps.store.protection.set(project.id, environment, protection, [
      this.#event('environment.protection-changed', project, environment, actor, { protection: (protection ?? null) as never }),
    ]);
  }

  /** Throws DEPLOY_WINDOW_CLOSED or APPROVAL_REQUIRED; records overrides and met approvals. */
  async check(project: Project, release: ReleaseRecord, environment: string, actor: string, override?: WindowOverride): Promise<void> {
    const { store, clock } = this.#deps;
    const protection = await store.protection.get(project.id, environment);
    if (!protection) return;
    const verdict = deployWindowVerdict(protection.windows, clock.now());
    if (!verdict.open && override === undefined) {
      throw new GantryError(
        'DEPLOY_WINDOW_CLOSED',
        `${environment} of ${project.name} takes no deploys now: ${verdict.reason}. Deploy when a window opens, or override with \`gantry deploy ${project.name} ${release.number} --env ${environment} --override-window "reason"\` (needs deploy.override; recorded)`,
        { environment, reason: verdict.reason },
      );
    }
    const events: NewEvent[] = [];
    if (protection.approvals) {
      const request = (await store.protection.requests(project.id)).find(
        (r) => r.environment === environment && r.releaseId === release.id,
      );
      const state = await this.#state(project, environment, release, protection, request?.requestedBy ?? actor);
      if (!state.satisfied) {
        await store.protection.request(
          {
            projectId: project.id,
            environment,
            releaseId: release.id,
            requestedBy: actor,
            requestedAt: new Date(clock.now()).toISOString(),
          },
          [this.#event('deploy.approval-requested', project, environment, actor, { releaseId: release.id, release: release.number })],
        );
        const from = protection.approvals.group ? ` from ${protection.approvals.group}` : '';
        throw new GantryError(
          'APPROVAL_REQUIRED',
          `release #${release.number} needs ${state.missing} more approval${state.missing === 1 ? '' : 's'}${from} before it deploys to ${environment}: someone who did not make the change runs \`gantry approve ${project.name} ${release.number} --env ${environment}\`, then deploy again (\`gantry approvals ${project.name}\` lists what waits)`,
          { environment, release: release.number, missing: state.missing, approvedBy: state.counted },
        );
      }
      events.push(
        this.#event('deploy.approvals-met', project, environment, actor, {
          releaseId: release.id,
          release: release.number,
          approvedBy: state.counted,
        }),
      );
    }
    if (!verdict.open && override !== undefined)
      events.push(
        this.#event('deploy.window-override', project, environment, actor, {
          releaseId: release.id,
          release: release.number,
          reason: override.reason,
          window: verdict.reason,
        }),
      );
    if (protection.approvals) await store.protection.closeRequest(project.id, environment, release.id, events);
    else if (events.length > 0) for (const e of events) await store.events.append(e);
  }

  /** One approval of a release for an environment; refused to its authors and to people outside the group. */
  async approve(project: Project, environment: string, release: ReleaseRecord, actor: string): Promise<PendingApproval> {
    const { store, clock } = this.#deps;
    const protection = await store.protection.get(project.id, environment);
    if (!protection?.approvals) throw new ConflictError(`${environment} of ${project.name} needs no approvals: deploy it`);
    const request = (await store.protection.requests(project.id)).find((r) => r.environment === environment && r.releaseId === release.id);
    const authors = authorsOf(release, request);
    if (authors.has(actor))
      throw new GantryError(
        'APPROVAL_REFUSED',
        `${actor} made release #${release.number} or asked to deploy it, so cannot approve it: someone else must (four eyes)`,
      );
    const group = protection.approvals.group;
    if (group !== undefined && !(await this.#members(group)).has(actor))
      throw new GantryError('APPROVAL_REFUSED', `${actor} is not a member of ${group}, whose members approve deploys to ${environment}`);
    await store.protection.approve(
      { projectId: project.id, environment, releaseId: release.id, by: actor, at: new Date(clock.now()).toISOString() },
      [this.#event('deploy.approved', project, environment, actor, { releaseId: release.id, release: release.number })],
    );
    const state = await this.#state(project, environment, release, protection, request?.requestedBy ?? null);
    return view(
      release,
      protection,
      state,
      environment,
      request ?? { requestedBy: actor, requestedAt: new Date(clock.now()).toISOString() },
    );
  }

  /** Deploys of the project waiting for approvals, oldest first. */
  async pending(project: Project): Promise<PendingApproval[]> {
    const { store } = this.#deps;
    const out: PendingApproval[] = [];
    for (const request of await store.protection.requests(project.id)) {
      const release = await store.releases.get(request.releaseId);
      const protection = await store.protection.get(project.id, request.environment);
      if (!release || !protection?.approvals) continue;
      const state = await this.#state(project, request.environment, release, protection, request.requestedBy);
      out.push(view(release, protection, state, request.environment, request));
    }
    return out;
  }

  async #state(
    project: Project,
    environment: string,
    release: ReleaseRecord,
    protection: EnvironmentProtection,
    requestedBy: string | null,
  ): Promise<ApprovalState> {
    const approvals = await this.#deps.store.protection.approvals(project.id, environment, release.id);
    const authors = new Set([release.createdBy, ...(requestedBy === null ? [] : [requestedBy])]);
    const group = protection.approvals?.group;
    return approvalState(
      protection.approvals,
      approvals.map((a) => ({ by: a.by, atMs: Date.parse(a.at) })),
      authors,
      group === undefined ? null : await this.#members(group),
    );
  }

  /** A group's members as actors (`user:NAME`). */
  async #members(group: string): Promise<Set<string>> {
    return new Set((await this.#deps.store.access.membersOf(group)).map((name) => `user:${name}`));
  }

  #event(type: string, project: Project, environment: string, actor: string, data: NewEvent['data']): NewEvent {
    return { type, subject: `environment:${project.id}/${environment}`, actor, data, env: this.#deps.eventEnv() };
  }
}

function authorsOf(release: ReleaseRecord, request: ApprovalRequest | undefined): Set<string> {
  return new Set([release.createdBy, ...(request ? [request.requestedBy] : [])]);
}

function view(
  release: ReleaseRecord,
  protection: EnvironmentProtection,
  state: ApprovalState,
  environment: string,
  request: Pick<ApprovalRequest, 'requestedBy' | 'requestedAt'>,
): PendingApproval {
  return {
    environment,
    release: release.number,
    releaseId: release.id,
    requestedBy: request.requestedBy,
    requestedAt: request.requestedAt,
    required: protection.approvals?.count ?? 0,
    group: protection.approvals?.group ?? null,
    approvedBy: state.counted,
    missing: state.missing,
  };
}
