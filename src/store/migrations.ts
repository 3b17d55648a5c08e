/**
 * The schema: its row types and the migrations that create it, kept in code (no migration files
 * to ship) and run on every open. One schema for both dialects: JSON and timestamps are text
 * (ISO-8601 UTC sorts as text), so the stores read and write them identically; only the
 * autoincrement, big-integer and boolean column types differ.
 */
import { sql } from 'kysely';
import type { ColumnType, Kysely } from 'kysely';
import { Migrator } from 'kysely/migration';
import type { Migration } from 'kysely/migration';

export type StoreDialect = 'sqlite' | 'postgres';

/** Written as a boolean; read back as 0/1 from SQLite and as a boolean from PostgreSQL. */
export type DbBool = ColumnType<boolean | number, boolean, boolean>;

export interface ProjectsTable {
  id: string;
  name: string;
  /** JSON ProjectSource. */
  source: string;
  webhook_secret: string;
  /** JSON object. */
  state: string;
  created_at: string;
}

export interface RunsTable {
  id: string;
  project_id: string | null;
  /** project_id, or '' for local runs: NULLs are distinct in unique indexes, so numbering needs a non-null scope. */
  number_scope: string;
  number: number;
  status: string;
  /** JSON TriggerEvent. */
  event: string;
  /** JSON object. */
  inputs: string;
  config_text: string;
  config_hash: string;
  concurrency_group: string | null;
  parent_run_id: string | null;
  cancel_requested: DbBool;
  /** The server driving the run (0020); null on SQLite and before 0020. */
  owner: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
}

export interface JobsTable {
  run_id: string;
  key: string;
  /** Order the jobs were given in at create, so jobs() returns them in plan order. */
  position: number;
  job_id: string;
  matrix: string | null;
  needs: string;
  status: string;
  attempt: number;
  outputs: string;
  steps: string;
  tests: string | null;
  log_truncated: DbBool;
  reason: string | null;
  started_at: string | null;
  finished_at: string | null;
  reused_from_run_id: string | null;
  interruptions: number;
}

export interface EventsTable {
  /** PostgreSQL's bigserial comes back as a string. */
  id: ColumnType<number | string, never, never>;
  type: string;
  subject: string;
  actor: string;
  at: string;
  data: string;
  env: string;
}

export interface SecretsTable {
  project_id: string;
  name: string;
  ciphertext: string;
  updated_at: string;
}

export interface TokensTable {
  id: string;
  name: string;
  hash: string;
  created_at: string;
  owner: string | null;
  scopes: string | null;
  expires_at: string | null;
  revoked_at: string | null;
}

export interface AgentsTable {
  id: string;
  name: string;
  token_hash: string;
  labels: string;
  created_at: string;
  revoked_at: string | null;
  last_seen_at: string | null;
}

export interface AgentAttemptsTable {
  run_id: string;
  job_key: string;
  fence: number;
  agent_id: string;
  started_at: string;
  ended_at: string | null;
  outcome: string | null;
}

export interface UsersTable {
  name: string;
  kind: string;
  display_name: string;
  email: string | null;
  external_id: string | null;
  created_at: string;
  disabled_at: string | null;
}

export interface GroupMembersTable {
  group_name: string;
  user_name: string;
}

export interface GrantsTable {
  subject: string;
  role: string;
  /** '' for none: part of the primary key, which cannot hold NULL. */
  project: string;
  environment: string;
  created_at: string;
  created_by: string;
}

export interface ReleasesTable {
  id: string;
  project_id: string;
  /** 1, 2, 3… per project; unique with project_id. */
  number: number;
  run_id: string | null;
  sha: string;
  ref: string;
  config_text: string;
  config_hash: string;
  artifacts_path: string;
  created_by: string;
  created_at: string;
}

export interface RolloutsTable {
  id: string;
  project_id: string;
  environment: string;
  release_id: string;
  previous_release_id: string | null;
  phase: string;
  /** JSON object: the rollout machine's state. */
  state: string;
  created_by: string;
  created_at: string;
  updated_at: string;
  /** Null while the rollout runs; a partial unique index allows one such row per environment. */
  finished_at: string | null;
}

export interface EnvironmentsTable {
  project_id: string;
  name: string;
  current_release_id: string | null;
  previous_release_id: string | null;
  port: number | null;
  updated_at: string;
}

/** Milliseconds since the epoch need 64 bits: bigint on PostgreSQL, which pg returns as a string. */
export type DbBigInt = ColumnType<number | string, number, number>;

export interface MetricRollupsTable {
  /** Insertion order, so rows with equal start_ms come back in the order they were appended. */
  id: ColumnType<number | string, never, never>;
  project_id: string;
  environment: string;
  version: string;
  pool: string;
  start_ms: DbBigInt;
  end_ms: DbBigInt;
  requests: number;
  errors: number;
  /** JSON object. */
  data: string;
}

export interface EnvironmentSecretsTable {
  project_id: string;
  environment: string;
  name: string;
  ciphertext: string;
  updated_at: string;
}

/** One bucket of an SLO's downsampled good/total history (src/slo/event-history.ts). */
export interface SloBucketsTable {
  project_id: string;
  environment: string;
  slo: string;
  start_ms: DbBigInt;
  end_ms: DbBigInt;
  good: number;
  total: number;
}

/** An SLO's alert states (JSON) and, in the row with empty key parts, the roll-up cursor. */
export interface SloStatesTable {
  project_id: string;
  environment: string;
  slo: string;
  /** JSON: the alert state per severity. */
  alerts: string;
  updated_at: string;
}

/** How far the SLO histories have read the stored roll-ups (one row). */
export interface SloCursorTable {
  name: string;
  rollup_id: DbBigInt;
}

/** Where notifications go: a Slack-compatible or a signed JSON webhook (target and secret encrypted). */
export interface NotificationChannelsTable {
  id: string;
  /** null: a default channel, for every project. */
  project_id: string | null;
  name: string;
  kind: string;
  target_ciphertext: string;
  secret_ciphertext: string | null;
  /** JSON: which events go there. */
  routes: string;
  created_at: string;
}

/** One notification of one event to one channel: the outbox row and its delivery log. */
export interface NotificationDeliveriesTable {
  id: ColumnType<number | string, never, never>;
  channel_id: string;
  event_id: DbBigInt;
  idempotency_key: string;
  status: string;
  attempts: number;
  next_attempt_ms: DbBigInt;
  last_error: string | null;
  /** JSON: the event as it was when it was queued. */
  payload: string;
  created_at: string;
  delivered_at: string | null;
}

/** How far the notifier has read the event log (one row). */
export interface NotificationCursorTable {
  name: string;
  event_id: DbBigInt;
}

export interface IncidentsTable {
  id: string;
  project_id: string;
  environment: string | null;
  number: number;
  title: string;
  severity: string;
  state: string;
  owner: string | null;
  alert_key: string | null;
  opened_by: string;
  opened_at: DbBigInt;
  acknowledged_at: DbBigInt | null;
  mitigated_at: DbBigInt | null;
  resolved_at: DbBigInt | null;
}

export interface IncidentNotesTable {
  id: ColumnType<number | string, never, never>;
  incident_id: string;
  at: DbBigInt;
  author: string;
  text: string;
}

/** How far a consumer of the event log has read it, by consumer name. */
export interface EventCursorsTable {
  name: string;
  event_id: DbBigInt;
}

/** One OSV advisory (`gantry advisories import`); the record is JSON text. */
export interface AdvisoriesTable {
  id: string;
  modified: string;
  withdrawn: string | null;
  record: string;
}

/** The packages each advisory names (base ecosystem, normalised name): the scans' lookup index. */
export interface AdvisoryPackagesTable {
  ecosystem: string;
  name: string;
  advisory_id: string;
}

/** One row per advisory import: what it did and how fresh the database was after it. */
export interface AdvisoryImportsTable {
  id: ColumnType<number | string, never, never>;
  source: string;
  imported_at: string;
  newest_modified: string | null;
  added: number;
  updated: number;
  unchanged: number;
  withdrawn: number;
  rejected: number;
}

/** A job whose SARIF log was read (with or without findings): its run counts as scanned. */
export interface SecurityScansTable {
  run_id: string;
  job_key: string;
  project_id: string;
  run_number: number;
  default_branch: DbBool;
  scanned_at: string;
}

/** One finding of a scanned job. */
export interface SecurityFindingsTable {
  run_id: string;
  job_key: string;
  fingerprint: string;
  project_id: string;
  scanner: string;
  rule_id: string;
  rule_name: string;
  level: string;
  message: string;
  path: string | null;
  start_line: number | null;
  /** JSON object. */
  properties: string;
}

/** A suppression of a finding (by fingerprint) or of a rule (optionally under a path). */
export interface SecuritySuppressionsTable {
  id: string;
  project_id: string;
  fingerprint: string | null;
  rule_id: string | null;
  path: string | null;
  reason: string;
  author: string;
  created_at: string;
  expires_at: string | null;
  removed_at: string | null;
}

/** A project's security policy (JSON, src/security/policy.ts). */
export interface SecurityPoliciesTable {
  project_id: string;
  policy: string;
  updated_at: string;
}

/**
 * The search index's row per event (`search-store.ts`). Its words and filter lexemes live in
 * `search_fts` (SQLite FTS5, contentless, rowid = event id) or in `lexemes` (PostgreSQL tsvector).
 */
export interface SearchDocsTable {
  event_id: DbBigInt;
  at: string;
  /** The greatest `at` of this and every earlier-indexed event: rises with the id, so a `since` finds its first id by index. */
  at_high: string;
}

/** The whole database, as Kysely sees it. */
/** A job's files (its log as it was written, then its artifacts, tests and SARIF), in chunks at their byte offsets: several servers all read them. */
export interface JobFileChunksTable {
  run_id: string;
  job_key: string;
  /** Relative to the job's directory: `log`, `artifacts/…`, `tests.json`, `sarif.json`. */
  path: string;
  offset_bytes: ColumnType<number | string, number, number>;
  bytes: Uint8Array;
}

/** A lease over background work (src/leases): one row per lease name. */
export interface LeasesTable {
  name: string;
  /** The holding server's id; '' once released. */
  holder: string;
  holder_url: string;
  /** Fencing token: bigint on PostgreSQL (read back as a string), integer on SQLite. */
  token: ColumnType<number | string, number, number>;
  expires_at_ms: ColumnType<number | string, number, number>;
}

export interface Database {
  projects: ProjectsTable;
  runs: RunsTable;
  jobs: JobsTable;
  events: EventsTable;
  secrets: SecretsTable;
  tokens: TokensTable;
  users: UsersTable;
  group_members: GroupMembersTable;
  grants: GrantsTable;
  releases: ReleasesTable;
  rollouts: RolloutsTable;
  environments: EnvironmentsTable;
  metric_rollups: MetricRollupsTable;
  environment_secrets: EnvironmentSecretsTable;
  slo_buckets: SloBucketsTable;
  slo_states: SloStatesTable;
  slo_cursor: SloCursorTable;
  notification_channels: NotificationChannelsTable;
  notification_deliveries: NotificationDeliveriesTable;
  notification_cursor: NotificationCursorTable;
  incidents: IncidentsTable;
  incident_notes: IncidentNotesTable;
  event_cursors: EventCursorsTable;
  advisories: AdvisoriesTable;
  advisory_packages: AdvisoryPackagesTable;
  advisory_imports: AdvisoryImportsTable;
  security_scans: SecurityScansTable;
  security_findings: SecurityFindingsTable;
  security_suppressions: SecuritySuppressionsTable;
  security_policies: SecurityPoliciesTable;
  search_docs: SearchDocsTable;
  environment_protection: EnvironmentProtectionTable;
  approval_requests: ApprovalRequestsTable;
  deploy_approvals: DeployApprovalsTable;
  agents: AgentsTable;
  agent_attempts: AgentAttemptsTable;
  leases: LeasesTable;
  job_file_chunks: JobFileChunksTable;
}

/** An environment's protection (core/protection.ts) as JSON. */
export interface EnvironmentProtectionTable {
  project_id: string;
  environment: string;
  protection: string;
  updated_at: string;
}

export interface ApprovalRequestsTable {
  project_id: string;
  environment: string;
  release_id: string;
  requested_by: string;
  requested_at: string;
}

export interface DeployApprovalsTable {
  project_id: string;
  environment: string;
  release_id: string;
  approver: string;
  at: string;
}

/** Every migration, in order. Never edit one that has shipped: add the next. */
export function migrations(dialect: StoreDialect): Record<string, Migration> {
  const bool = dialect === 'postgres' ? 'boolean' : 'integer';
  return {
    '0001_initial': {
      async up(db: Kysely<any>): Promise<void> {
        await db.schema
          .createTable('projects')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('name', 'text', (c) => c.notNull().unique())
          .addColumn('source', 'text', (c) => c.notNull())
          .addColumn('webhook_secret', 'text', (c) => c.notNull())
          .addColumn('state', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .execute();

        await db.schema
          .createTable('runs')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('project_id', 'text', (c) => c.references('projects.id').onDelete('cascade'))
          .addColumn('number_scope', 'text', (c) => c.notNull())
          .addColumn('number', 'integer', (c) => c.notNull())
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('event', 'text', (c) => c.notNull())
          .addColumn('inputs', 'text', (c) => c.notNull())
          .addColumn('config_text', 'text', (c) => c.notNull())
          .addColumn('config_hash', 'text', (c) => c.notNull())
          .addColumn('concurrency_group', 'text')
          .addColumn('parent_run_id', 'text')
          .addColumn('cancel_requested', sql.raw(bool), (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('started_at', 'text')
          .addColumn('finished_at', 'text')
          .addUniqueConstraint('runs_number_unique', ['number_scope', 'number'])
          .execute();
        await db.schema.createIndex('runs_created_idx').on('runs').columns(['created_at', 'id']).execute();
        await db.schema.createIndex('runs_status_idx').on('runs').column('status').execute();
        await db.schema.createIndex('runs_group_idx').on('runs').column('concurrency_group').execute();
        await db.schema.createIndex('runs_project_idx').on('runs').column('project_id').execute();

        await db.schema
          .createTable('jobs')
          .addColumn('run_id', 'text', (c) => c.notNull().references('runs.id').onDelete('cascade'))
          .addColumn('key', 'text', (c) => c.notNull())
          .addColumn('position', 'integer', (c) => c.notNull())
          .addColumn('job_id', 'text', (c) => c.notNull())
          .addColumn('matrix', 'text')
          .addColumn('needs', 'text', (c) => c.notNull())
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('attempt', 'integer', (c) => c.notNull())
          .addColumn('outputs', 'text', (c) => c.notNull())
          .addColumn('steps', 'text', (c) => c.notNull())
          .addColumn('tests', 'text')
          .addColumn('log_truncated', sql.raw(bool), (c) => c.notNull())
          .addColumn('reason', 'text')
          .addColumn('started_at', 'text')
          .addColumn('finished_at', 'text')
          .addColumn('reused_from_run_id', 'text')
          .addColumn('interruptions', 'integer', (c) => c.notNull().defaultTo(0))
          .addPrimaryKeyConstraint('jobs_pk', ['run_id', 'key'])
          .execute();

        await db.schema
          .createTable('events')
          .addColumn('id', dialect === 'postgres' ? 'bigserial' : 'integer', (c) =>
            dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement(),
          )
          .addColumn('type', 'text', (c) => c.notNull())
          .addColumn('subject', 'text', (c) => c.notNull())
          .addColumn('actor', 'text', (c) => c.notNull())
          .addColumn('at', 'text', (c) => c.notNull())
          .addColumn('data', 'text', (c) => c.notNull())
          .addColumn('env', 'text', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('events_type_idx').on('events').columns(['type', 'id']).execute();
        await db.schema.createIndex('events_subject_idx').on('events').columns(['subject', 'id']).execute();

        await db.schema
          .createTable('secrets')
          .addColumn('project_id', 'text', (c) => c.notNull().references('projects.id').onDelete('cascade'))
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('ciphertext', 'text', (c) => c.notNull())
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('secrets_pk', ['project_id', 'name'])
          .execute();

        await db.schema
          .createTable('tokens')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('hash', 'text', (c) => c.notNull().unique())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .execute();
      },
    },

    // Progressive delivery: releases, rollouts, environments, request roll-ups and secrets per
    // environment. Everything hangs off a project and goes with it (foreign keys cascade).
    '0002_delivery': {
      async up(db: Kysely<any>): Promise<void> {
        const bigint = dialect === 'postgres' ? 'bigint' : 'integer';

        await db.schema
          .createTable('releases')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('project_id', 'text', (c) => c.notNull().references('projects.id').onDelete('cascade'))
          .addColumn('number', 'integer', (c) => c.notNull())
          // No foreign key: a release outlives the pruning of the run it was cut from.
          .addColumn('run_id', 'text')
          .addColumn('sha', 'text', (c) => c.notNull())
          .addColumn('ref', 'text', (c) => c.notNull())
          .addColumn('config_text', 'text', (c) => c.notNull())
          .addColumn('config_hash', 'text', (c) => c.notNull())
          .addColumn('artifacts_path', 'text', (c) => c.notNull())
          .addColumn('created_by', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addUniqueConstraint('releases_number_unique', ['project_id', 'number'])
          .execute();

        await db.schema
          .createTable('rollouts')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('project_id', 'text', (c) => c.notNull().references('projects.id').onDelete('cascade'))
          .addColumn('environment', 'text', (c) => c.notNull())
          .addColumn('release_id', 'text', (c) => c.notNull().references('releases.id').onDelete('cascade'))
          .addColumn('previous_release_id', 'text')
          .addColumn('phase', 'text', (c) => c.notNull())
          .addColumn('state', 'text', (c) => c.notNull())
          .addColumn('created_by', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .addColumn('finished_at', 'text')
          .execute();
        // The database itself keeps "at most one unfinished rollout per environment", so two
        // servers (or two requests) racing to start one cannot both succeed.
        await db.schema
          .createIndex('rollouts_one_active_idx')
          .on('rollouts')
          .columns(['project_id', 'environment'])
          .unique()
          .where(sql.ref('finished_at'), 'is', null)
          .execute();
        await db.schema
          .createIndex('rollouts_env_created_idx')
          .on('rollouts')
          .columns(['project_id', 'environment', 'created_at', 'id'])
          .execute();
        await db.schema.createIndex('rollouts_created_idx').on('rollouts').columns(['created_at', 'id']).execute();
        await db.schema.createIndex('rollouts_release_idx').on('rollouts').column('release_id').execute();

        await db.schema
          .createTable('environments')
          .addColumn('project_id', 'text', (c) => c.notNull().references('projects.id').onDelete('cascade'))
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('current_release_id', 'text')
          .addColumn('previous_release_id', 'text')
          .addColumn('port', 'integer')
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('environments_pk', ['project_id', 'name'])
          .execute();

        await db.schema
          .createTable('metric_rollups')
          .addColumn('id', dialect === 'postgres' ? 'bigserial' : 'integer', (c) =>
            dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement(),
          )
          .addColumn('project_id', 'text', (c) => c.notNull().references('projects.id').onDelete('cascade'))
          .addColumn('environment', 'text', (c) => c.notNull())
          .addColumn('version', 'text', (c) => c.notNull())
          .addColumn('pool', 'text', (c) => c.notNull())
          .addColumn('start_ms', sql.raw(bigint), (c) => c.notNull())
          .addColumn('end_ms', sql.raw(bigint), (c) => c.notNull())
          .addColumn('requests', 'integer', (c) => c.notNull())
          .addColumn('errors', 'integer', (c) => c.notNull())
          .addColumn('data', 'text', (c) => c.notNull())
          .execute();
        await db.schema
          .createIndex('metric_rollups_window_idx')
          .on('metric_rollups')
          .columns(['project_id', 'environment', 'start_ms'])
          .execute();
        await db.schema.createIndex('metric_rollups_end_idx').on('metric_rollups').column('end_ms').execute();

        await db.schema
          .createTable('environment_secrets')
          .addColumn('project_id', 'text', (c) => c.notNull().references('projects.id').onDelete('cascade'))
          .addColumn('environment', 'text', (c) => c.notNull())
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('ciphertext', 'text', (c) => c.notNull())
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('environment_secrets_pk', ['project_id', 'environment', 'name'])
          .execute();
      },
    },

    // A roll-up is stored once: the proxy hands it out again until the server acknowledges it, and
    // the store skips one it has (append's ON CONFLICT). Earlier copies, if any, keep the first.
    '0003_metric_rollup_identity': {
      async up(db: Kysely<any>): Promise<void> {
        await sql`delete from metric_rollups where id not in (select min(id) from metric_rollups group by project_id, environment, version, pool, start_ms)`.execute(
          db,
        );
        await db.schema
          .createIndex('metric_rollups_identity_idx')
          .on('metric_rollups')
          .columns(['project_id', 'environment', 'version', 'pool', 'start_ms'])
          .unique()
          .execute();
      },
    },
    '0004_slos': {
      async up(db: Kysely<any>): Promise<void> {
        const bigint = dialect === 'postgres' ? 'bigint' : 'integer';
        await db.schema
          .createTable('slo_buckets')
          .addColumn('project_id', 'text', (c) => c.notNull().references('projects.id').onDelete('cascade'))
          .addColumn('environment', 'text', (c) => c.notNull())
          .addColumn('slo', 'text', (c) => c.notNull())
          .addColumn('start_ms', sql.raw(bigint), (c) => c.notNull())
          .addColumn('end_ms', sql.raw(bigint), (c) => c.notNull())
          .addColumn('good', 'double precision', (c) => c.notNull())
          .addColumn('total', 'double precision', (c) => c.notNull())
          .addPrimaryKeyConstraint('slo_buckets_pk', ['project_id', 'environment', 'slo', 'start_ms'])
          .execute();
        await db.schema
          .createTable('slo_states')
          .addColumn('project_id', 'text', (c) => c.notNull().references('projects.id').onDelete('cascade'))
          .addColumn('environment', 'text', (c) => c.notNull())
          .addColumn('slo', 'text', (c) => c.notNull())
          .addColumn('alerts', 'text', (c) => c.notNull())
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('slo_states_pk', ['project_id', 'environment', 'slo'])
          .execute();
        await db.schema
          .createTable('slo_cursor')
          .addColumn('name', 'text', (c) => c.primaryKey())
          .addColumn('rollup_id', sql.raw(bigint), (c) => c.notNull())
          .execute();
      },
    },
    '0005_notifications': {
      async up(db: Kysely<any>): Promise<void> {
        const bigint = dialect === 'postgres' ? 'bigint' : 'integer';
        await db.schema
          .createTable('notification_channels')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('project_id', 'text', (c) => c.references('projects.id').onDelete('cascade'))
          .addColumn('name', 'text', (c) => c.notNull().unique())
          .addColumn('kind', 'text', (c) => c.notNull())
          .addColumn('target_ciphertext', 'text', (c) => c.notNull())
          .addColumn('secret_ciphertext', 'text')
          .addColumn('routes', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('notification_deliveries')
          .addColumn('id', dialect === 'postgres' ? 'bigserial' : 'integer', (c) =>
            dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement(),
          )
          .addColumn('channel_id', 'text', (c) => c.notNull().references('notification_channels.id').onDelete('cascade'))
          .addColumn('event_id', sql.raw(bigint), (c) => c.notNull())
          .addColumn('idempotency_key', 'text', (c) => c.notNull().unique())
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('attempts', 'integer', (c) => c.notNull())
          .addColumn('next_attempt_ms', sql.raw(bigint), (c) => c.notNull())
          .addColumn('last_error', 'text')
          .addColumn('payload', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('delivered_at', 'text')
          .execute();
        await db.schema
          .createIndex('notification_deliveries_due_idx')
          .on('notification_deliveries')
          .columns(['status', 'next_attempt_ms'])
          .execute();
        await db.schema
          .createTable('notification_cursor')
          .addColumn('name', 'text', (c) => c.primaryKey())
          .addColumn('event_id', sql.raw(bigint), (c) => c.notNull())
          .execute();
      },
    },
    '0006_incidents': {
      async up(db: Kysely<any>): Promise<void> {
        const bigint = dialect === 'postgres' ? 'bigint' : 'integer';
        await db.schema
          .createTable('incidents')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('project_id', 'text', (c) => c.notNull().references('projects.id').onDelete('cascade'))
          .addColumn('environment', 'text')
          .addColumn('number', 'integer', (c) => c.notNull())
          .addColumn('title', 'text', (c) => c.notNull())
          .addColumn('severity', 'text', (c) => c.notNull())
          .addColumn('state', 'text', (c) => c.notNull())
          .addColumn('owner', 'text')
          .addColumn('alert_key', 'text')
          .addColumn('opened_by', 'text', (c) => c.notNull())
          .addColumn('opened_at', sql.raw(bigint), (c) => c.notNull())
          .addColumn('acknowledged_at', sql.raw(bigint))
          .addColumn('mitigated_at', sql.raw(bigint))
          .addColumn('resolved_at', sql.raw(bigint))
          .addUniqueConstraint('incidents_number_uq', ['project_id', 'number'])
          .execute();
        await db.schema
          .createTable('incident_notes')
          .addColumn('id', dialect === 'postgres' ? 'bigserial' : 'integer', (c) =>
            dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement(),
          )
          .addColumn('incident_id', 'text', (c) => c.notNull().references('incidents.id').onDelete('cascade'))
          .addColumn('at', sql.raw(bigint), (c) => c.notNull())
          .addColumn('author', 'text', (c) => c.notNull())
          .addColumn('text', 'text', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('event_cursors')
          .addColumn('name', 'text', (c) => c.primaryKey())
          .addColumn('event_id', sql.raw(bigint), (c) => c.notNull())
          .execute();
      },
    },
    '0009_search': {
      // Empty at first on an existing store: the server's indexer fills it from the event log.
      async up(db: Kysely<any>): Promise<void> {
        const bigint = dialect === 'postgres' ? 'bigint' : 'integer';
        let table = db.schema
          .createTable('search_docs')
          .addColumn('event_id', sql.raw(bigint), (c) => c.primaryKey())
          .addColumn('at', 'text', (c) => c.notNull())
          .addColumn('at_high', 'text', (c) => c.notNull());
        if (dialect === 'postgres') table = table.addColumn('lexemes', sql.raw('tsvector'), (c) => c.notNull());
        await table.execute();
        await db.schema.createIndex('search_docs_at_high_idx').on('search_docs').columns(['at_high', 'event_id']).execute();
        if (dialect === 'postgres') {
          await sql`create index search_docs_lexemes_idx on search_docs using gin (lexemes)`.execute(db);
        } else {
          // Lexemes are made by src/search (lowercase letters, digits, '_'), so the tokenizer only
          // splits on spaces; detail=none: matching needs no positions (phrases are checked on the event).
          await sql`create virtual table search_fts using fts5(lexemes, content='', detail=none, tokenize="unicode61 remove_diacritics 0 tokenchars '_'")`.execute(
            db,
          );
        }
      },
    },
    // Security gates: the OSV database imported into the store, findings of scanned jobs,
    // suppressions and policies. Findings have no foreign key to runs: a run pruned later must
    // not take a release's findings with it.
    '0010_security': {
      async up(db: Kysely<any>): Promise<void> {
        await db.schema
          .createTable('advisories')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('modified', 'text', (c) => c.notNull())
          .addColumn('withdrawn', 'text')
          .addColumn('record', 'text', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('advisory_packages')
          .addColumn('ecosystem', 'text', (c) => c.notNull())
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('advisory_id', 'text', (c) => c.notNull().references('advisories.id').onDelete('cascade'))
          .addPrimaryKeyConstraint('advisory_packages_pk', ['ecosystem', 'name', 'advisory_id'])
          .execute();
        await db.schema.createIndex('advisory_packages_advisory_idx').on('advisory_packages').column('advisory_id').execute();
        await db.schema
          .createTable('advisory_imports')
          .addColumn('id', dialect === 'postgres' ? 'bigserial' : 'integer', (c) =>
            dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement(),
          )
          .addColumn('source', 'text', (c) => c.notNull())
          .addColumn('imported_at', 'text', (c) => c.notNull())
          .addColumn('newest_modified', 'text')
          .addColumn('added', 'integer', (c) => c.notNull())
          .addColumn('updated', 'integer', (c) => c.notNull())
          .addColumn('unchanged', 'integer', (c) => c.notNull())
          .addColumn('withdrawn', 'integer', (c) => c.notNull())
          .addColumn('rejected', 'integer', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('security_scans')
          .addColumn('run_id', 'text', (c) => c.notNull())
          .addColumn('job_key', 'text', (c) => c.notNull())
          .addColumn('project_id', 'text', (c) => c.notNull().references('projects.id').onDelete('cascade'))
          .addColumn('run_number', 'integer', (c) => c.notNull())
          .addColumn('default_branch', sql.raw(bool), (c) => c.notNull())
          .addColumn('scanned_at', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('security_scans_pk', ['run_id', 'job_key'])
          .execute();
        await db.schema
          .createIndex('security_scans_project_idx')
          .on('security_scans')
          .columns(['project_id', 'default_branch', 'run_number'])
          .execute();
        await db.schema
          .createTable('security_findings')
          .addColumn('run_id', 'text', (c) => c.notNull())
          .addColumn('job_key', 'text', (c) => c.notNull())
          .addColumn('fingerprint', 'text', (c) => c.notNull())
          .addColumn('project_id', 'text', (c) => c.notNull().references('projects.id').onDelete('cascade'))
          .addColumn('scanner', 'text', (c) => c.notNull())
          .addColumn('rule_id', 'text', (c) => c.notNull())
          .addColumn('rule_name', 'text', (c) => c.notNull())
          .addColumn('level', 'text', (c) => c.notNull())
          .addColumn('message', 'text', (c) => c.notNull())
          .addColumn('path', 'text')
          .addColumn('start_line', 'integer')
          .addColumn('properties', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('security_findings_pk', ['run_id', 'job_key', 'fingerprint'])
          .execute();
        await db.schema
          .createIndex('security_findings_project_idx')
          .on('security_findings')
          .columns(['project_id', 'fingerprint'])
          .execute();
        await db.schema
          .createTable('security_suppressions')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('project_id', 'text', (c) => c.notNull().references('projects.id').onDelete('cascade'))
          .addColumn('fingerprint', 'text')
          .addColumn('rule_id', 'text')
          .addColumn('path', 'text')
          .addColumn('reason', 'text', (c) => c.notNull())
          .addColumn('author', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('expires_at', 'text')
          .addColumn('removed_at', 'text')
          .execute();
        await db.schema.createIndex('security_suppressions_project_idx').on('security_suppressions').column('project_id').execute();
        await db.schema
          .createTable('security_policies')
          .addColumn('project_id', 'text', (c) => c.primaryKey().references('projects.id').onDelete('cascade'))
          .addColumn('policy', 'text', (c) => c.notNull())
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .execute();
      },
    },
    '0012_access': {
      async up(db: Kysely<any>): Promise<void> {
        for (const column of ['owner', 'scopes', 'expires_at', 'revoked_at'])
          await db.schema.alterTable('tokens').addColumn(column, 'text').execute();
        await db.schema.createIndex('tokens_owner_idx').on('tokens').column('owner').execute();
        await db.schema
          .createTable('users')
          .addColumn('name', 'text', (c) => c.primaryKey())
          .addColumn('kind', 'text', (c) => c.notNull())
          .addColumn('display_name', 'text', (c) => c.notNull())
          .addColumn('email', 'text')
          .addColumn('external_id', 'text', (c) => c.unique())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('disabled_at', 'text')
          .execute();
        await db.schema
          .createTable('group_members')
          .addColumn('group_name', 'text', (c) => c.notNull())
          .addColumn('user_name', 'text', (c) => c.notNull().references('users.name').onDelete('cascade'))
          .addPrimaryKeyConstraint('group_members_pk', ['group_name', 'user_name'])
          .execute();
        await db.schema.createIndex('group_members_user_idx').on('group_members').column('user_name').execute();
        await db.schema
          .createTable('grants')
          .addColumn('subject', 'text', (c) => c.notNull())
          .addColumn('role', 'text', (c) => c.notNull())
          .addColumn('project', 'text', (c) => c.notNull())
          .addColumn('environment', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('created_by', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('grants_pk', ['subject', 'project', 'environment'])
          .execute();
        await db.schema.createIndex('grants_project_idx').on('grants').column('project').execute();
      },
    },
    '0014_protection': {
      async up(db: Kysely<any>): Promise<void> {
        await db.schema
          .createTable('environment_protection')
          .addColumn('project_id', 'text', (c) => c.notNull().references('projects.id').onDelete('cascade'))
          .addColumn('environment', 'text', (c) => c.notNull())
          .addColumn('protection', 'text', (c) => c.notNull())
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('environment_protection_pk', ['project_id', 'environment'])
          .execute();
        await db.schema
          .createTable('approval_requests')
          .addColumn('project_id', 'text', (c) => c.notNull().references('projects.id').onDelete('cascade'))
          .addColumn('environment', 'text', (c) => c.notNull())
          .addColumn('release_id', 'text', (c) => c.notNull())
          .addColumn('requested_by', 'text', (c) => c.notNull())
          .addColumn('requested_at', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('approval_requests_pk', ['project_id', 'environment', 'release_id'])
          .execute();
        await db.schema
          .createTable('deploy_approvals')
          .addColumn('project_id', 'text', (c) => c.notNull().references('projects.id').onDelete('cascade'))
          .addColumn('environment', 'text', (c) => c.notNull())
          .addColumn('release_id', 'text', (c) => c.notNull())
          .addColumn('approver', 'text', (c) => c.notNull())
          .addColumn('at', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('deploy_approvals_pk', ['project_id', 'environment', 'release_id', 'approver'])
          .execute();
      },
    },
    '0016_agents': {
      async up(db: Kysely<any>): Promise<void> {
        await db.schema
          .createTable('agents')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('name', 'text', (c) => c.notNull().unique())
          .addColumn('token_hash', 'text', (c) => c.notNull().unique())
          .addColumn('labels', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('revoked_at', 'text')
          .addColumn('last_seen_at', 'text')
          .execute();
        // No foreign key to runs: the attempts are the audit of who ran what, kept as written.
        await db.schema
          .createTable('agent_attempts')
          .addColumn('run_id', 'text', (c) => c.notNull())
          .addColumn('job_key', 'text', (c) => c.notNull())
          .addColumn('fence', 'integer', (c) => c.notNull())
          .addColumn('agent_id', 'text', (c) => c.notNull())
          .addColumn('started_at', 'text', (c) => c.notNull())
          .addColumn('ended_at', 'text')
          .addColumn('outcome', 'text')
          .addPrimaryKeyConstraint('agent_attempts_pk', ['run_id', 'job_key', 'fence'])
          .execute();
      },
    },
    '0017_leases': {
      async up(db: Kysely<any>): Promise<void> {
        const bigint = dialect === 'postgres' ? 'bigint' : 'integer';
        await db.schema
          .createTable('leases')
          .addColumn('name', 'text', (c) => c.primaryKey())
          .addColumn('holder', 'text', (c) => c.notNull())
          .addColumn('holder_url', 'text', (c) => c.notNull())
          .addColumn('token', bigint, (c) => c.notNull())
          .addColumn('expires_at_ms', bigint, (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('job_file_chunks')
          .addColumn('run_id', 'text', (c) => c.notNull())
          .addColumn('job_key', 'text', (c) => c.notNull())
          .addColumn('path', 'text', (c) => c.notNull())
          .addColumn('offset_bytes', bigint, (c) => c.notNull())
          .addColumn('bytes', dialect === 'postgres' ? 'bytea' : 'blob', (c) => c.notNull())
          .addPrimaryKeyConstraint('job_file_chunks_pk', ['run_id', 'job_key', 'path', 'offset_bytes'])
          .execute();
        if (dialect !== 'postgres') return;
        // Every committed event is announced to every server (LISTEN gantry_events) with its id,
        // whichever code path inserted it; NOTIFY is transactional, so a listener never hears of
        // an event it cannot read yet.
        await sql`create function gantry_announce_event() returns trigger language plpgsql as $$
          begin perform pg_notify('gantry_events', new.id::text); return null; end $$`.execute(db);
        await sql`create trigger gantry_events_announce after insert on events
          for each row execute function gantry_announce_event()`.execute(db);
      },
    },
    '0020_run_owners': {
      // Several servers: which one drives each run, so a survivor recovers only a dead one's runs.
      async up(db: Kysely<any>): Promise<void> {
        await db.schema.alterTable('runs').addColumn('owner', 'text').execute();
      },
    },
  };
}

/** Brings the schema up to date. Safe to run from several processes at once (the Migrator locks). */
export async function migrateToLatest(db: Kysely<any>, dialect: StoreDialect): Promise<void> {
  const all = migrations(dialect);
  const migrator = new Migrator({
    db,
    provider: { getMigrations: async () => all },
    migrationTableName: 'gantry_migrations',
    migrationLockTableName: 'gantry_migrations_lock',
  });
  const { error } = await migrator.migrateToLatest();
  if (error !== undefined) throw error;
}
