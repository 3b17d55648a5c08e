/**
 * The saved plan's stale check happens inside the apply's transaction (docs/decisions/0046), on
 * SQLite and PostgreSQL: a change that lands after the plan was checked and before its writes
 * commit refuses a saved plan, makes an apply without one plan again, and of two applies of the
 * same saved plan at once exactly one is applied. The store is the real one; only its
 * `estate.apply` is wrapped, to let the other change land at that moment.
 */
import { expect, it } from 'vitest';
import type { Estate } from '../../../src/estate/index.ts';
import { EstateService } from '../../../src/server/estate/index.ts';
import { openStore, type Store } from '../../../src/store/index.ts';
import { describeOnEachStore } from '../../support/store-contract.ts';

const ENV = { gantryVersion: '0.1.0', nodeVersion: 'v24', host: 'test' };

function serviceOn(store: Store): EstateService {
  return new EstateService({
    store,
    eventEnv: () => ENV,
    encrypt: (text) => text,
    decrypt: (text) => text,
    defaultChannelEvents: [],
  });
}

/** `store` whose estate.apply runs `before` first: what lands between the check and the write. */
function withHook(store: Store, before: () => Promise<void>): Store {
  const hooked = Object.create(store) as Store;
  hooked.estate = {
    snapshot: () => store.estate.snapshot(),
    apply: async (writes, events, planned) => {
      await before();
      return store.estate.apply(writes, events, planned);
    },
  };
  return hooked;
}

function estateWith(project: string, members: Record<string, 'viewer' | 'developer'>): Estate {
  return { projects: { [project]: { members, environments: {}, secrets: [], securityPolicy: null } }, groups: {} };
}

describeOnEachStore('a saved plan checked in the apply transaction', (db) => {
  let n = 0;
  const newProject = async () => {
    n += 1;
    const name = `shop${n}`;
    await db.store.projects.create({ name, source: { kind: 'local', path: '/nowhere' }, webhookSecret: 'w' });
    return name;
  };
  const grantsOn = async (project: string) =>
    (await db.store.estate.snapshot()).grants.filter((g) => g.project === project).map((g) => `${g.subject}=${g.role}`);

  it('refuses a saved plan when the state changes between its check and its writes, writing nothing', async () => {
    const project = await newProject();
    const desired = estateWith(project, { 'user:alice': 'viewer' });
    const saved = await serviceOn(db.store).plan(desired);
    const racing = withHook(db.store, () =>
      db.store.access
        .grant({ subject: 'user:mallory', role: 'developer', project, environment: null, createdBy: 'test' })
        .then(() => undefined),
    );

    await expect(serviceOn(racing).apply(desired, 'user:ops', saved.fingerprint)).rejects.toMatchObject({ code: 'PLATFORM_PLAN_STALE' });
    expect(await grantsOn(project)).toEqual(['user:mallory=developer']);
  });

  it('plans again when the state changes under an apply without a saved plan, and applies over the new state', async () => {
    const project = await newProject();
    let raced = false;
    const racing = withHook(db.store, async () => {
      if (raced) return;
      raced = true;
      await db.store.access.grant({ subject: 'user:bob', role: 'viewer', project, environment: null, createdBy: 'test' });
    });

    const plan = await serviceOn(racing).apply(estateWith(project, { 'user:alice': 'viewer' }), 'user:ops');
    // The plan that ran is the second one: it saw bob's grant, which the folder does not name.
    expect(plan.changes.map((c) => `${c.action} ${c.address}`).sort()).toEqual([
      `create ${project} user:alice`,
      `delete ${project} user:bob`,
    ]);
    expect(await grantsOn(project)).toEqual(['user:alice=viewer']);
  });

  it('applies one of two applies of the same saved plan at once, and refuses the other', async () => {
    const project = await newProject();
    const desired = estateWith(project, { 'user:carol': 'developer' });
    const saved = await serviceOn(db.store).plan(desired);
    // Both have planned and passed the check before either writes; on PostgreSQL each has its own connections.
    let arrived = 0;
    let bothArrived: () => void = () => undefined;
    const barrier = new Promise<void>((resolve) => {
      bothArrived = resolve;
    });
    const atBarrier = async () => {
      arrived += 1;
      if (arrived === 2) bothArrived();
      await barrier;
    };
    const second = db.kind === 'postgres' ? await openStore({ url: db.url }) : db.store;
    try {
      const outcomes = await Promise.allSettled([
        serviceOn(withHook(db.store, atBarrier)).apply(desired, 'user:ops', saved.fingerprint),
        serviceOn(withHook(second, atBarrier)).apply(desired, 'user:ops', saved.fingerprint),
      ]);
      expect(outcomes.map((o) => o.status).sort()).toEqual(['fulfilled', 'rejected']);
      expect(outcomes.find((o) => o.status === 'rejected')?.reason).toMatchObject({ code: 'PLATFORM_PLAN_STALE' });
      expect(await grantsOn(project)).toEqual(['user:carol=developer']);
    } finally {
      if (second !== db.store) await second.close();
    }
  });
});
