/**
 * The platform as code as the server runs it: plans a desired estate against the store (with
 * drift against the last apply, read from the newest `platform.applied` event) and applies a
 * plan in ONE store transaction with its `platform.applied` event — all of it or nothing. An
 * apply that would change nothing writes nothing, so a second apply is a no-op.
 *
 * Every plan carries a fingerprint (a hash of the folder's estate and one of the server's state
 * it was planned against, names only); an apply given the fingerprint of the plan a person
 * reviewed refuses when either changed since (Terraform's saved plan), so what is applied is
 * what was shown.
 */
import { createHash } from 'node:crypto';
import { GantryError } from '../../core/errors.ts';
import type { Value } from '../../core/types.ts';
import { canonical, countChanges, type Estate, type EstateChannel, type EstatePlan, planEstate } from '../../estate/index.ts';
import type { EstateSnapshot, EstateWrites, EventEnvironment, Store } from '../../store/ports.ts';
import { type ChannelSecretsDeps, channelCredentials, credentialResolver } from './channel-secrets.ts';
import { currentEstate } from './current-estate.ts';

export const PLATFORM_APPLIED_EVENT = 'platform.applied';
/** An apply without a saved plan re-plans when the state changed under it, this many times in all. */
const APPLY_ATTEMPTS = 3;

export interface EstateServiceDeps {
  store: Store;
  eventEnv(): EventEnvironment;
  /** The server's secret box: channels' credentials are read from projects' secrets and stored encrypted. */
  encrypt(plaintext: string): string;
  decrypt(ciphertext: string): string;
  /** What a channel that names no events receives (the notifications' defaults). */
  defaultChannelEvents: readonly string[];
}

/** What a plan was made from, as hashes: the folder's estate and the server's state. */
export interface PlanFingerprint {
  folder: string;
  server: string;
}

export type FingerprintedPlan = EstatePlan & { fingerprint: PlanFingerprint };

interface Planned {
  plan: FingerprintedPlan;
  desired: Estate;
  snapshot: EstateSnapshot;
}

export class EstateService {
  readonly #deps: EstateServiceDeps;

  constructor(deps: EstateServiceDeps) {
    this.#deps = deps;
  }

  async plan(desired: Estate): Promise<FingerprintedPlan> {
    return (await this.#plan(desired)).plan;
  }

  /**
   * With `expected`, refuses (PLATFORM_PLAN_STALE) unless the plan now is the one that fingerprint
   * was made of. The writes commit only if the state they were planned from is still the store's
   * inside their transaction: a change landing in between refuses a saved plan (the plan shown is
   * no longer the one that would run), and makes an apply without one plan again.
   */
  async apply(desiredAsSent: Estate, actor: string, expected?: PlanFingerprint): Promise<FingerprintedPlan> {
    for (let attempt = 1; ; attempt += 1) {
      const outcome = await this.#applyOnce(desiredAsSent, actor, expected);
      if (outcome !== 'changed') return outcome;
      if (expected !== undefined || attempt === APPLY_ATTEMPTS) throw stale(["the server's state"], 'while it was being applied');
    }
  }

  async #applyOnce(desiredAsSent: Estate, actor: string, expected?: PlanFingerprint): Promise<FingerprintedPlan | 'changed'> {
    const { store } = this.#deps;
    const { plan, desired, snapshot } = await this.#plan(desiredAsSent);
    if (expected !== undefined) refuseStale(expected, plan.fingerprint);
    const unknown = plan.changes.filter((c) => c.kind === 'project').map((c) => c.project as string);
    if (unknown.length > 0)
      throw new GantryError(
        'PLATFORM_UNKNOWN_PROJECT',
        `the platform folder declares ${unknown.join(', ')}, which the server does not know: register ${unknown.length === 1 ? 'it' : 'them'} first (\`gantry project add PATH --name NAME\`); nothing was applied`,
        { projects: unknown },
      );
    if (plan.changes.length === 0) return plan;
    const idOf = new Map(snapshot.projects.map((p) => [p.name, p.id]));
    const writes: EstateWrites = { grants: [], revokedGrants: [], groups: [], protections: [], policies: [], channels: [], actor };
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
      else if (c.kind === 'channel')
        writes.channels.push(
          await this.#channelWrite(snapshot, { id: projectId, name: c.project as string }, c.channel as string, c.after),
        );
    }
    const counts = countChanges(plan);
    const outcome = await store.estate.apply(
      writes,
      [
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
            // Names only: a channel's credentials are secret references, never values.
            estate: desired as unknown as Value,
          },
          env: this.#deps.eventEnv(),
        },
      ],
      snapshot.version,
    );
    return outcome === 'changed' ? 'changed' : plan;
  }

  async #plan(sent: Estate): Promise<Planned> {
    const { store } = this.#deps;
    const desired = this.#withDefaults(sent);
    const snapshot = await store.estate.snapshot();
    const idOf = new Map(snapshot.projects.map((p) => [p.name, p.id]));
    const withChannels = new Set([
      ...snapshot.channels.map((c) => c.projectId),
      ...Object.entries(desired.projects)
        .filter(([, p]) => Object.keys(p.channels ?? {}).length > 0)
        .map(([name]) => idOf.get(name) ?? ''),
    ]);
    const refOf = await credentialResolver(this.#secrets(), desired, idOf, withChannels);
    const current = currentEstate(snapshot, Object.keys(desired.projects), Object.keys(desired.groups), refOf);
    const [last] = await store.events.list({ type: PLATFORM_APPLIED_EVENT, newestFirst: true, limit: 1 });
    const lastApplied = (last?.data as { estate?: Estate } | undefined)?.estate ?? null;
    const plan = planEstate(desired, current, lastApplied);
    // The server's side is what the plan was computed from: its state and the last apply (drift marks).
    const fingerprint = { folder: hash(desired), server: hash({ current, lastApplied: last?.id ?? null }) };
    return { plan: { ...plan, fingerprint }, desired, snapshot };
  }

  /** A channel that names no events gets the defaults, as one made with `gantry notify channel add` does. */
  #withDefaults(estate: Estate): Estate {
    const projects = Object.fromEntries(
      Object.entries(estate.projects).map(([name, p]) => [
        name,
        p.channels === undefined
          ? p
          : {
              ...p,
              channels: Object.fromEntries(
                Object.entries(p.channels).map(([c, channel]): [string, EstateChannel] => [
                  c,
                  { ...channel, events: channel.events ?? [...this.#deps.defaultChannelEvents] },
                ]),
              ),
            },
      ]),
    );
    return { ...estate, projects };
  }

  async #channelWrite(
    snapshot: EstateSnapshot,
    project: { id: string; name: string },
    name: string,
    after: unknown,
  ): Promise<EstateWrites['channels'][number]> {
    if (after === null) return { projectId: project.id, name, channel: null };
    const taken = snapshot.channels.find((c) => c.name === name && c.projectId !== project.id);
    const global = (await this.#deps.store.notifications.channels()).find((c) => c.name === name && c.projectId !== project.id);
    if (taken !== undefined || global !== undefined)
      throw new GantryError(
        'PLATFORM_CHANNEL_NAME_TAKEN',
        `channel ${name} of ${project.name}: the server has a channel of that name for ${global?.projectId === null ? 'every project' : 'another project'}; rename one of them; nothing was applied`,
        { project: project.name, channel: name },
      );
    const channel = after as EstateChannel;
    const credentials = await channelCredentials(this.#secrets(), project, name, channel);
    return {
      projectId: project.id,
      name,
      channel: {
        kind: channel.type,
        ...credentials,
        routes: {
          events: channel.events ?? [...this.#deps.defaultChannelEvents],
          ...(channel.environments ? { environments: channel.environments } : {}),
          ...(channel.severities ? { severities: channel.severities } : {}),
        },
      },
    };
  }

  #secrets(): ChannelSecretsDeps {
    return { secrets: this.#deps.store.secrets, encrypt: this.#deps.encrypt, decrypt: this.#deps.decrypt };
  }
}

function refuseStale(expected: PlanFingerprint, now: PlanFingerprint): void {
  const changed = [
    ...(expected.folder !== now.folder ? ['the platform folder'] : []),
    ...(expected.server !== now.server ? ["the server's state"] : []),
  ];
  if (changed.length > 0) throw stale(changed, 'since the saved plan was made');
}

function stale(changed: string[], when: string): GantryError {
  return new GantryError(
    'PLATFORM_PLAN_STALE',
    `${changed.join(' and ')} changed ${when}; nothing was applied: make a new plan (\`gantry platform plan DIR --out FILE\`), review it and apply that`,
    { changed },
  );
}

function hash(value: unknown): string {
  return createHash('sha256').update(canonical(value)).digest('hex');
}
