/**
 * The platform as code as the server runs it: plans a desired estate against the store (with
 * drift against the last apply, read from the newest `platform.applied` event) and applies a
 * plan in ONE store transaction with its `platform.applied` event — all of it or nothing. An
 * apply that would change nothing writes nothing, so a second apply is a no-op.
 */
import { GantryError } from '../../core/errors.ts';
import type { Value } from '../../core/types.ts';
import { countChanges, type Estate, type EstatePlan, planEstate } from '../../estate/index.ts';
import type { EstateWrites, EventEnvironment, Store } from '../../store/ports.ts';
import { currentEstate } from './current-estate.ts';

export const PLATFORM_APPLIED_EVENT = 'platform.applied';

export interface EstateServiceDeps {
  store: Store;
  eventEnv(): EventEnvironment;
}

export class EstateService {
  readonly #deps: EstateServiceDeps;

  constructor(deps: EstateServiceDeps) {
    this.#deps = deps;
  }

  async plan(desired: Estate): Promise<EstatePlan> {
    const { store } = this.#deps;
    const snapshot = await store.estate.snapshot();
    const current = currentEstate(snapshot, Object.keys(desired.projects), Object.keys(desired.groups));
    const [last] = await store.events.list({ type: PLATFORM_APPLIED_EVENT, newestFirst: true, limit: 1 });
    const lastApplied = (last?.data as { estate?: Estate } | undefined)?.estate ?? null;
    return planEstate(desired, current, lastApplied);
  }

  async apply(desired: Estate, actor: string): Promise<EstatePlan> {
    const { store } = this.#deps;
    const plan = await this.plan(desired);
    const unknown = plan.changes.filter((c) => c.kind === 'project').map((c) => c.project as string);
    if (unknown.length > 0)
      throw new GantryError(
        'PLATFORM_UNKNOWN_PROJECT',
        `the platform folder declares ${unknown.join(', ')}, which the server does not know: register ${unknown.length === 1 ? 'it' : 'them'} first (\`gantry project add PATH --name NAME\`); nothing was applied`,
        { projects: unknown },
      );
    if (plan.changes.length === 0) return plan;
    const snapshot = await store.estate.snapshot();
    const idOf = new Map(snapshot.projects.map((p) => [p.name, p.id]));
    const writes: EstateWrites = { grants: [], revokedGrants: [], groups: [], protections: [], policies: [], actor };
    for (const c of plan.changes) {
      const projectId = idOf.get(c.project ?? '') ?? '';
      if (c.kind === 'member') {
        const grant = { subject: c.subject as string, project: c.project as string, environment: c.environment ?? null };
        if (c.after === null) writes.revokedGrants.push(grant);
        else writes.grants.push({ ...grant, role: c.after as string });
      } else if (c.kind === 'group') writes.groups.push({ group: c.group as string, members: (c.after as string[] | null) ?? [] });
      else if (c.kind === 'protection')
        writes.protections.push({ projectId, environment: c.environment as string, protection: c.after as never });
      else if (c.kind === 'security-policy') writes.policies.push({ projectId, policy: c.after === null ? null : JSON.stringify(c.after) });
    }
    const counts = countChanges(plan);
    await store.estate.apply(writes, [
      {
        type: PLATFORM_APPLIED_EVENT,
        subject: 'platform',
        actor,
        data: {
          created: counts.create,
          updated: counts.update,
          deleted: counts.delete,
          drifted: counts.drift,
          changes: plan.changes.map((c) => `${c.action} ${c.kind} ${c.address}`),
          estate: desired as unknown as Value,
        },
        env: this.#deps.eventEnv(),
      },
    ]);
    return plan;
  }
}
