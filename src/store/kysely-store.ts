/** The Store of ./ports.ts assembled from the per-aggregate stores over one Kysely handle. */
import type { Kysely } from 'kysely';
import type { EventAnnouncements, Store } from './ports.ts';
import { silentAnnouncements } from './pg-announcements.ts';
import type { Database, StoreDialect } from './migrations.ts';
import { createProjectStore } from './project-store.ts';
import { createRunStore } from './run-store.ts';
import { createEventStore } from './event-store.ts';
import { createSecretStore } from './secret-store.ts';
import { createTokenStore } from './token-store.ts';
import { createAccessStore } from './access-store.ts';
import { createReleaseStore } from './release-store.ts';
import { createRolloutStore } from './rollout-store.ts';
import { createMetricStore } from './metric-store.ts';
import { createSloStore } from './slo-store.ts';
import { createNotificationStore } from './notification-store.ts';
import { createIncidentStore } from './incident-store.ts';
import { createAdvisoryStore, createFindingStore } from './security-store.ts';
import { createSearchIndexStore } from './search-store.ts';
import { createLeaseStore } from './lease-store.ts';
import { createJobFileStore } from './job-file-store.ts';
import { createProtectionStore } from './protection-store.ts';
import { createEstateStore } from './estate-store.ts';
import { createAgentStore } from './agent-store.ts';
import type { StoreContext } from './codec.ts';
import type { WriteFence } from './write-fence.ts';

/**
 * Wraps an already migrated database. The store owns `db`: `close()` destroys it (once;
 * later calls are no-ops, so shutdown hooks may call it freely).
 */
export function createKyselyStore(
  db: Kysely<Database>,
  dialect: StoreDialect,
  announcements: EventAnnouncements = silentAnnouncements,
  fencedDb?: (fence: WriteFence) => Kysely<Database>,
): Store {
  let closing: Promise<void> | undefined;
  const store: Store = {
    ...aggregateStores({ db, dialect }),
    leases: createLeaseStore({ db, dialect }),
    announcements,
    dialect,
    fenced(fence) {
      if (fencedDb === undefined) return store;
      // The same pool and lease store; only the aggregates' writes are checked against the lease.
      return { ...store, ...aggregateStores({ db: fencedDb(fence), dialect }), fenced: () => store.fenced(fence), close: async () => {} };
    },
    close() {
      closing ??= db.destroy();
      return closing;
    },
  };
  return store;
}

/** The per-aggregate stores over one handle (every one but the leases, which are never fenced). */
function aggregateStores(ctx: StoreContext): Omit<Store, 'leases' | 'announcements' | 'dialect' | 'fenced' | 'close'> {
  return {
    projects: createProjectStore(ctx),
    runs: createRunStore(ctx),
    events: createEventStore(ctx),
    secrets: createSecretStore(ctx),
    tokens: createTokenStore(ctx),
    access: createAccessStore(ctx),
    releases: createReleaseStore(ctx),
    rollouts: createRolloutStore(ctx),
    metrics: createMetricStore(ctx),
    slos: createSloStore(ctx),
    notifications: createNotificationStore(ctx),
    incidents: createIncidentStore(ctx),
    advisories: createAdvisoryStore(ctx),
    findings: createFindingStore(ctx),
    search: createSearchIndexStore(ctx),
    protection: createProtectionStore(ctx),
    estate: createEstateStore(ctx),
    jobFiles: createJobFileStore(ctx),
    agents: createAgentStore(ctx),
  };
}
