/**
 * Store ports: one small interface per aggregate. Implemented once with Kysely for both
 * SQLite (node:sqlite, the embedded default) and PostgreSQL; `test/store/contract.test.ts`
 * runs the same suite against both.
 *
 * Contract for every method: when the returned promise resolves, the write is durable
 * (committed). Methods are safe to call concurrently. Timestamps are ISO-8601 UTC strings.
 */
import type { Incident } from '../core/incident.ts';
import type { ApprovalRequest, DeployApproval, EnvironmentProtection } from '../core/protection.ts';
import type { ClaimOutcome, LeaseClaim, LeaseRecord } from '../leases/index.ts';
import type { AdvisoryStore, FindingStore } from './security-ports.ts';
import type { JobStatus, MatrixValues, RunStatus, StepResult, TestCounts, TriggerEvent, Value } from '../core/types.ts';

export type * from './security-ports.ts';
export type { ClaimOutcome, LeaseClaim, LeaseRecord } from '../leases/index.ts';
import type { WriteFence } from './write-fence.ts';
export type { WriteFence } from './write-fence.ts';

export type ProjectSource = { kind: 'local'; path: string } | { kind: 'url'; url: string };

export interface Project {
  id: string;
  name: string;
  source: ProjectSource;
  /** Secret for webhook signature checks (stored encrypted by the caller's choice; opaque here). */
  webhookSecret: string;
  /** Poller/trigger bookkeeping, e.g. last seen sha per ref. */
  state: Record<string, Value>;
  createdAt: string;
}

export interface ProjectStore {
  /** Throws ConflictError when the name is taken. */
  create(p: { name: string; source: ProjectSource; webhookSecret: string }): Promise<Project>;
  /** By id or by name. */
  get(idOrName: string): Promise<Project | undefined>;
  list(): Promise<Project[]>;
  setState(id: string, state: Record<string, Value>): Promise<void>;
  delete(id: string): Promise<void>;
}

export interface RunRecord {
  id: string;
  projectId: string | null;
  /** 1, 2, 3… per project (per null project for local runs). */
  number: number;
  status: RunStatus;
  event: TriggerEvent;
  inputs: Record<string, Value>;
  /** The gantry.yaml text the run was planned from, so a restart re-plans identically. */
  configText: string;
  configHash: string;
  concurrencyGroup: string | null;
  /** Set for reruns. */
  parentRunId: string | null;
  cancelRequested: boolean;
  /**
   * The server driving the run (several servers on PostgreSQL: the holder id of its `server:`
   * lease), so another recovers it only once that lease has expired; null on SQLite and for runs
   * from before owners were recorded, which any recovering server takes.
   */
  owner: string | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
}

export interface JobRecord {
  runId: string;
  key: string;
  jobId: string;
  matrix: MatrixValues | null;
  /** Keys of the job instances this one waits for. */
  needs: string[];
  status: JobStatus;
  /** 1 for the first attempt. */
  attempt: number;
  outputs: Record<string, string>;
  steps: StepResult[];
  tests: TestCounts | null;
  logTruncated: boolean;
  /** Why it was skipped, cancelled or failed outside a step. */
  reason: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  /** Reused from an earlier run (rerun --failed): the id of that run. */
  reusedFromRunId: string | null;
  /** How often the server died while this job ran (a job is retried once after an interruption). */
  interruptions: number;
}

export type NewRun = Omit<
  RunRecord,
  'id' | 'number' | 'createdAt' | 'startedAt' | 'finishedAt' | 'cancelRequested' | 'status' | 'owner'
> & {
  status?: RunStatus;
  owner?: string | null;
  /** Given when the caller needs the id before the run is stored (it plans with it); generated otherwise. */
  id?: string;
};

export interface RunPatch {
  status?: RunStatus;
  cancelRequested?: boolean;
  startedAt?: string | null;
  finishedAt?: string | null;
}

export type JobPatch = Partial<Omit<JobRecord, 'runId' | 'key' | 'jobId' | 'matrix' | 'needs'>>;

export interface RunFilter {
  projectId?: string;
  status?: RunStatus[];
  concurrencyGroup?: string;
  limit?: number;
}

export interface RunStore {
  /** Creates the run and all its job rows in one transaction; assigns `number`. */
  create(run: NewRun, jobs: Omit<JobRecord, 'runId'>[]): Promise<RunRecord>;
  get(runId: string): Promise<RunRecord | undefined>;
  /**
   * The name of the run's project: null for a run of no project, undefined for no such run.
   * What authorising a request about a run needs, without reading the run (its config can be large).
   */
  projectOf(runId: string): Promise<string | null | undefined>;
  /** Newest first. */
  list(filter?: RunFilter): Promise<RunRecord[]>;
  jobs(runId: string): Promise<JobRecord[]>;
  /**
   * Applies a run patch, job patches and appends events in ONE transaction: this is how a
   * state transition is persisted before it is acted on.
   */
  transition(runId: string, change: { run?: RunPatch; jobs?: { key: string; patch: JobPatch }[]; events?: NewEvent[] }): Promise<void>;
  /**
   * Makes `owner` the run's owner if its owner is still `from` (compare and set); false when
   * another server changed it first (two survivors recovering the same dead server's run).
   */
  takeOver(runId: string, from: string | null, owner: string): Promise<boolean>;
}

export interface EventEnvironment {
  gantryVersion: string;
  nodeVersion: string;
  host: string;
  configHash?: string;
  commit?: string;
}

export interface GantryEvent {
  /** Monotonic per store. */
  id: number;
  /** e.g. `run.created`, `job.started`, `project.added`, `secret.set`. */
  type: string;
  /** e.g. `run:<id>`, `job:<runId>/<key>`, `project:<id>`. */
  subject: string;
  /** `cli`, `api:<token name>`, `trigger:push`, `server`. */
  actor: string;
  at: string;
  data: Record<string, Value>;
  env: EventEnvironment;
}

export type NewEvent = Omit<GantryEvent, 'id' | 'at'> & { at?: string };

export interface EventStore {
  append(e: NewEvent): Promise<GantryEvent>;
  /**
   * Oldest first; `afterId` for catching up a stream. `newestFirst` with `beforeId` pages back
   * through history (the dashboard's timeline). `type` ending in `.*` matches a family (`rollout.*`);
   * `types` is a list of exact types (any of them), served by the type index.
   */
  list(filter?: {
    afterId?: number;
    beforeId?: number;
    newestFirst?: boolean;
    type?: string;
    types?: readonly string[];
    subjectPrefix?: string;
    /** Only events by this actor (`user:alice`). */
    actor?: string;
    /** Only events at or after this ISO time. */
    since?: string;
    limit?: number;
  }): Promise<GantryEvent[]>;
}

/**
 * Secrets of a project, and of its environments: `environment` names an environment's own value
 * (`gantry secret set P N --env E`), which overrides the project's for deploys there.
 */
export interface SecretStore {
  /** Upsert. `ciphertext` is already encrypted by the caller (see src/server/secret-box.ts). */
  set(projectId: string, name: string, ciphertext: string, environment?: string): Promise<void>;
  get(projectId: string, name: string, environment?: string): Promise<string | undefined>;
  /** name → ciphertext (project-level only when `environment` is absent; that environment's only when given). */
  all(projectId: string, environment?: string): Promise<Record<string, string>>;
  names(projectId: string, environment?: string): Promise<string[]>;
  delete(projectId: string, name: string, environment?: string): Promise<boolean>;
}

export interface TokenRecord {
  id: string;
  name: string;
  /** sha256 hex of the token; the token itself is never stored. */
  hash: string;
  createdAt: string;
  /** The user (person or service account) it acts for; null: the admin token, links and sessions. */
  owner: string | null;
  /** Permissions it may be used for at most; null: all its owner's roles allow. */
  scopes: string[] | null;
  expiresAt: string | null;
  revokedAt: string | null;
}

export interface NewToken {
  name: string;
  hash: string;
  owner?: string;
  scopes?: string[];
  expiresAt?: string;
}

export interface TokenStore {
  create(t: NewToken): Promise<TokenRecord>;
  findByHash(hash: string): Promise<TokenRecord | undefined>;
  findById(id: string): Promise<TokenRecord | undefined>;
  list(): Promise<TokenRecord[]>;
  /** The tokens acting for `owner`, oldest first. */
  listByOwner(owner: string): Promise<TokenRecord[]>;
  /** True when this call removed it: one-time tokens are consumed by whoever deletes them first. */
  delete(hash: string): Promise<boolean>;
  /** Marks it revoked (kept for the audit trail); false when unknown or already revoked. */
  revoke(id: string, at: string): Promise<boolean>;
  /**
   * Trades a one-time token for a new one in ONE transaction: deletes the token `consumedHash`
   * names, creates `created` and appends `events(the created record)` — all of it, or, when that
   * token is already gone, nothing (null). Of calls with the same hash at the same moment exactly
   * one gets the record, as with `delete`. A sign-in's callback consumes its state and starts the
   * session with its events in one commit this way: the event log never tells of a session the
   * store does not hold, and a refused replay writes nothing.
   */
  trade(consumedHash: string, created: NewToken, events: (created: TokenRecord) => readonly NewEvent[]): Promise<TokenRecord | null>;
}

// ---------------------------------------------------------------- agents

/** A build agent (`gantry agent`): its token is kept as a sha256 only. */
export interface AgentRecord {
  id: string;
  name: string;
  /** The labels it was registered with (it may announce more when it polls). */
  labels: string[];
  createdAt: string;
  revokedAt: string | null;
  lastSeenAt: string | null;
}

/** How an agent's hold on a job ended: reported its result, its lease ran out, or the job was cancelled. */
export type AttemptOutcome = 'finished' | 'lease-lost' | 'withdrawn';

/** One grant of a job to an agent, under one fencing token. */
export interface AgentAttempt {
  runId: string;
  jobKey: string;
  fence: number;
  agentId: string;
  startedAt: string;
  endedAt: string | null;
  outcome: AttemptOutcome | null;
}

/**
 * Agents and the record of every grant of a job to one of them. Fencing tokens are monotonic
 * per job: `beginAttempt` refuses a token not above every earlier one of the same job (ConflictError),
 * so a server that restarts continues from `lastFence` and never hands out a token twice.
 * `endAttempt` ends an attempt once; a second end (a zombie's late result) changes nothing.
 */
export interface AgentStore {
  /** Throws ConflictError when the name is taken. */
  create(a: { name: string; tokenHash: string; labels: string[] }): Promise<AgentRecord>;
  findByTokenHash(hash: string): Promise<AgentRecord | undefined>;
  findByName(name: string): Promise<AgentRecord | undefined>;
  /** Oldest first. */
  list(): Promise<AgentRecord[]>;
  /** False when unknown or already revoked. */
  revoke(name: string, at: string): Promise<boolean>;
  /** Records when the agent was last heard from. */
  touch(name: string, at: string): Promise<void>;
  /** The highest fencing token granted for the job, 0 when none. */
  lastFence(runId: string, jobKey: string): Promise<number>;
  beginAttempt(a: { runId: string; jobKey: string; fence: number; agentId: string; startedAt: string }): Promise<void>;
  /** True when this call ended it. */
  endAttempt(runId: string, jobKey: string, fence: number, outcome: AttemptOutcome, at: string): Promise<boolean>;
  /** A run's attempts, by job then fence. */
  attempts(runId: string): Promise<AgentAttempt[]>;
}

// ---------------------------------------------------------------- access

/** A person or a service account. `name` is the login (`alice`, `deploy-bot`), unique. */
export interface UserRecord {
  name: string;
  kind: 'person' | 'service';
  displayName: string;
  email: string | null;
  /** The identity provider's subject (`iss|sub`) once the user signed in through OIDC. */
  externalId: string | null;
  createdAt: string;
  disabledAt: string | null;
}

/** A role on the server (no project), a project, or one environment of a project. */
export interface GrantRecord {
  /** `user:NAME` or `group:NAME`. */
  subject: string;
  role: string;
  project: string | null;
  environment: string | null;
  createdAt: string;
  createdBy: string;
}

export interface AccessStore {
  /** Throws ConflictError when the name is taken. */
  createUser(u: { name: string; kind: UserRecord['kind']; displayName: string; email?: string; externalId?: string }): Promise<UserRecord>;
  findUser(name: string): Promise<UserRecord | undefined>;
  findUserByExternalId(externalId: string): Promise<UserRecord | undefined>;
  listUsers(): Promise<UserRecord[]>;
  /**
   * Replaces the profile fields given (a field left out stays; `email: null` clears it): what an
   * identity provider says at each sign-in. False when there is no such user. The name and the
   * identity never change here (a name is how grants and audit entries refer to the person).
   */
  updateUser(name: string, profile: { displayName?: string; email?: string | null }): Promise<boolean>;
  /** False when there is no such user. */
  setUserDisabled(name: string, at: string | null): Promise<boolean>;
  /** Replaces the user's groups (what an identity provider's claim says, or a platform file). */
  setGroups(user: string, groups: string[]): Promise<void>;
  groupsOf(user: string): Promise<string[]>;
  membersOf(group: string): Promise<string[]>;
  /** Sets the subject's role at that scope (one role per subject and scope). */
  grant(g: Omit<GrantRecord, 'createdAt'>): Promise<GrantRecord>;
  /** False when there was no such grant. */
  revokeGrant(subject: string, project: string | null, environment: string | null): Promise<boolean>;
  /** Every grant held by any of `subjects`. */
  grantsOf(subjects: string[]): Promise<GrantRecord[]>;
  /**
   * A user's groups (by name) and every grant the user holds, itself or through a group (by
   * subject, project, environment; code-point order): one query, since every request of a user's reads them.
   */
  holdingsOf(user: string): Promise<{ groups: string[]; grants: GrantRecord[] }>;
  /** Every grant, or those on one project (its environments included). */
  listGrants(filter?: { project?: string }): Promise<GrantRecord[]>;
}

// ---------------------------------------------------------------- delivery

/** An immutable release: a commit, the artifacts of its run, and the resolved config. */
export interface ReleaseRecord {
  id: string;
  projectId: string;
  /** 1, 2, 3… per project. */
  number: number;
  /** The run whose artifacts it carries; null for a release made from a bare commit. */
  runId: string | null;
  sha: string;
  ref: string;
  /** The gantry.yaml text of the commit (service and environments are resolved from it). */
  configText: string;
  configHash: string;
  /** Where its artifacts were copied, relative to the data directory. */
  artifactsPath: string;
  createdBy: string;
  createdAt: string;
}

export interface ReleaseStore {
  /** Assigns `number` in the same transaction. */
  create(r: Omit<ReleaseRecord, 'id' | 'number' | 'createdAt'> & { id?: string }): Promise<ReleaseRecord>;
  /** By id, or by `<projectId>#<number>`. */
  get(id: string): Promise<ReleaseRecord | undefined>;
  getByNumber(projectId: string, number: number): Promise<ReleaseRecord | undefined>;
  /** The newest release made from a ref (`refs/tags/v1.2.0`), if any. */
  latestOfRef(projectId: string, ref: string): Promise<ReleaseRecord | undefined>;
  /** Newest first. */
  list(projectId: string, limit?: number): Promise<ReleaseRecord[]>;
}

/** A rollout of a release to an environment; `state` is the rollout machine's state (plain JSON). */
export interface RolloutRecord {
  id: string;
  projectId: string;
  environment: string;
  releaseId: string;
  previousReleaseId: string | null;
  phase: string;
  state: Record<string, Value>;
  createdBy: string;
  createdAt: string;
  updatedAt: string;
  finishedAt: string | null;
}

/** What runs in an environment now: its live release (after a rollout succeeded) and its proxy port. */
export interface EnvironmentRecord {
  projectId: string;
  name: string;
  currentReleaseId: string | null;
  previousReleaseId: string | null;
  /** The proxy listener port (`gantry env expose` or `port:` in the config). */
  port: number | null;
  updatedAt: string;
}

export interface RolloutStore {
  create(r: Omit<RolloutRecord, 'createdAt' | 'updatedAt' | 'finishedAt'>): Promise<RolloutRecord>;
  get(id: string): Promise<RolloutRecord | undefined>;
  /** The unfinished rollout of an environment, if any (at most one exists). */
  active(projectId: string, environment: string): Promise<RolloutRecord | undefined>;
  /** Every unfinished rollout (for recovery). */
  listActive(): Promise<RolloutRecord[]>;
  /** Newest first. */
  list(filter: { projectId?: string; environment?: string; limit?: number }): Promise<RolloutRecord[]>;
  /**
   * Persists a rollout transition in ONE transaction: the new phase and state, the environment's
   * record when given (e.g. the current release after a promotion), and the events.
   */
  transition(
    id: string,
    change: {
      phase: string;
      state: Record<string, Value>;
      finishedAt?: string | null;
      environment?: Omit<EnvironmentRecord, 'updatedAt'>;
      events?: NewEvent[];
    },
  ): Promise<void>;
  environment(projectId: string, name: string): Promise<EnvironmentRecord | undefined>;
  environments(projectId: string): Promise<EnvironmentRecord[]>;
  setEnvironment(e: Omit<EnvironmentRecord, 'updatedAt'>): Promise<void>;
}

/** Ten-second request roll-ups recorded by the proxy, kept for charts and history. */
export interface MetricRollup {
  projectId: string;
  environment: string;
  version: string;
  pool: string;
  startMs: number;
  endMs: number;
  requests: number;
  errors: number;
  /** Bucketed latencies `{ valueMs, count }[]` and per-route counts, as JSON. */
  data: Record<string, Value>;
}

export interface MetricStore {
  /**
   * Adds the rows in one transaction (all or none). Idempotent by roll-up: a row whose project,
   * environment, version, pool and start are already stored is skipped, so a batch handed out
   * again (a server killed before it acknowledged it to the proxy) is not counted twice.
   */
  append(rows: MetricRollup[]): Promise<void>;
  /** Oldest first, rows overlapping [sinceMs, untilMs). */
  query(filter: { projectId: string; environment?: string; version?: string; sinceMs: number; untilMs: number }): Promise<MetricRollup[]>;
  /** Drops rows older than `beforeMs`; returns how many. */
  prune(beforeMs: number): Promise<number>;
  /** Rows appended after the row with id `afterId`, in the order they were appended, with their ids; at most `limit`. */
  after(afterId: number, limit: number): Promise<(MetricRollup & { id: number })[]>;
}

/** One SLO of one environment. */
export interface SloKey {
  projectId: string;
  environment: string;
  slo: string;
}

/** Good and total events in [startMs, endMs) (a bucket of src/slo/event-history.ts). */
export interface SloBucket {
  startMs: number;
  endMs: number;
  good: number;
  total: number;
}

export interface SloRecord extends SloKey {
  /** Oldest first. */
  buckets: SloBucket[];
  /** The alert state per severity, as the SLO service keeps it. */
  alerts: Record<string, Value>;
}

/** What one evaluation of the SLOs changed; stored all or nothing. */
export interface SloChange {
  /** The last stored roll-up id the histories now include. */
  cursor?: number;
  /** Buckets written whole (replacing any with the same start). */
  buckets: (SloKey & SloBucket)[];
  /** Buckets gone (merged into a coarser one, or older than the period). */
  removed: (SloKey & { startMs: number })[];
  alerts: (SloKey & { alerts: Record<string, Value> })[];
  events: NewEvent[];
}

/**
 * SLO histories and alert states. The SLO service holds them in memory and writes each
 * evaluation's difference here, with the roll-up cursor in the same transaction, so a history
 * counts every stored roll-up exactly once across crashes.
 */
export interface SloStore {
  /** Every SLO's history and alert state, for the service's start. */
  load(): Promise<SloRecord[]>;
  /** 0 before any roll-up has been read. */
  cursor(): Promise<number>;
  apply(change: SloChange): Promise<void>;
  /** Forgets SLOs no longer configured (history and state). */
  remove(keys: SloKey[]): Promise<void>;
}

/** Which events a channel receives; every list present must match (absent = any). */
export interface NotificationRoutes {
  /** Event types; `slo.alert.*` matches a family. */
  events: string[];
  environments?: string[];
  /** For events that carry one (alerts, incidents): page, ticket, … */
  severities?: string[];
}

export interface NotificationChannel {
  id: string;
  /** null: a default channel, for events of every project. */
  projectId: string | null;
  name: string;
  kind: 'slack' | 'webhook';
  /** The URL, encrypted by the caller (an incoming-webhook URL is a credential). */
  targetCiphertext: string;
  /** The webhook's HMAC key, encrypted by the caller. */
  secretCiphertext: string | null;
  routes: NotificationRoutes;
  createdAt: string;
}

export type DeliveryStatus = 'pending' | 'delivered' | 'failed';

export interface NotificationDelivery {
  id: number;
  channelId: string;
  eventId: number;
  /** `<channel id>:<event id>`: the same for every attempt, so a receiver can drop repeats. */
  idempotencyKey: string;
  status: DeliveryStatus;
  attempts: number;
  nextAttemptMs: number;
  lastError: string | null;
  /** The event (and its project and environment) as queued. */
  payload: Record<string, Value>;
  createdAt: string;
  deliveredAt: string | null;
}

/**
 * Notification channels and the outbox. The notifier reads the event log by id and queues one
 * delivery per (event, matching channel) together with its cursor, so an event is queued exactly
 * once across crashes; deliveries stay until delivered or given up, and are the delivery log.
 */
export interface NotificationStore {
  addChannel(c: Omit<NotificationChannel, 'createdAt'>): Promise<NotificationChannel>;
  channels(): Promise<NotificationChannel[]>;
  /** Removes it and its deliveries; false when there was none. */
  removeChannel(id: string): Promise<boolean>;
  /** 0 before any event was read. */
  cursor(): Promise<number>;
  /**
   * Queues deliveries (a repeated idempotency key is skipped) and moves the cursor, all or
   * nothing. `createdAt` is the caller's clock: the day of retries counts from it.
   */
  enqueue(
    cursor: number,
    deliveries: Omit<NotificationDelivery, 'id' | 'status' | 'attempts' | 'lastError' | 'deliveredAt'>[],
  ): Promise<void>;
  /** Pending deliveries due at `nowMs`, oldest first. */
  due(nowMs: number, limit: number): Promise<NotificationDelivery[]>;
  /** After an attempt: delivered, another attempt at `nextAttemptMs`, or failed for good. */
  record(
    id: number,
    outcome: { status: DeliveryStatus; attempts: number; nextAttemptMs?: number; error?: string | null; at: string },
  ): Promise<void>;
  /** Newest first. */
  deliveries(filter: { channelId?: string; status?: DeliveryStatus; limit: number }): Promise<NotificationDelivery[]>;
}

export interface IncidentNote {
  at: number;
  author: string;
  text: string;
}

/**
 * Incidents (the lifecycle is src/incidents' state machine; this stores its results) and their
 * notes, each change with its events in one transaction.
 */
export interface IncidentStore {
  /**
   * Stores a new incident with the next number of its project, and its events; with `cursor`,
   * also moves that event-log consumer's cursor (an alert read once opens one incident).
   */
  open(incident: Omit<Incident, 'number'>, events: NewEvent[], cursor?: { name: string; eventId: number }): Promise<Incident>;
  get(id: string): Promise<Incident | undefined>;
  byNumber(projectId: string, number: number): Promise<Incident | undefined>;
  /** Newest first. */
  list(filter: { projectId?: string; states?: string[]; limit: number }): Promise<Incident[]>;
  /** The incident an alert opened that is not resolved yet. */
  openForAlert(projectId: string, alertKey: string): Promise<Incident | undefined>;
  save(incident: Incident, events: NewEvent[]): Promise<void>;
  addNote(incidentId: string, note: IncidentNote, events: NewEvent[]): Promise<void>;
  notes(incidentId: string): Promise<IncidentNote[]>;
  /** A consumer's cursor (0 before it read anything), and moving it alone. */
  cursor(name: string): Promise<number>;
  setCursor(name: string, eventId: number): Promise<void>;
}

/** All stores over one database, plus its lifecycle. */
/** One event as the search index holds it: its lexemes (made by src/search/search-document.ts). */
export interface SearchIndexDoc {
  eventId: number;
  at: string;
  lexemes: string[];
}

/** What a search asks the index (src/search/index-query.ts makes it). */
export interface SearchIndexMatch {
  /** Every group must match; a group matches when any of its terms does (a prefix: any lexeme starting with it). */
  all: { term: string; prefix: boolean }[][];
  /** Lowercase text that must appear in the event's type, actor or data as stored. */
  phrases: string[];
  /** ISO times, inclusive. */
  since: string | null;
  until: string | null;
  /** Only events older than this id (paging on). */
  beforeId?: number;
  limit: number;
}

/**
 * The search index: a projection of the event log, filled by the server's indexer in event id
 * order and never written elsewhere, so dropping it and re-reading the log rebuilds the same index.
 */
export interface SearchIndexStore {
  /** The id of the last event indexed, 0 when none: the indexer resumes after it. */
  lastIndexed(): Promise<number>;
  /** Adds documents in event id order, in one transaction. A document already held is an error (the indexer owns the cursor). */
  add(docs: readonly SearchIndexDoc[]): Promise<void>;
  /** Matching events, newest (greatest id) first. */
  match(m: SearchIndexMatch): Promise<GantryEvent[]>;
  /**
   * The smallest indexed id that an event at or after `since` can have, or null when no indexed
   * event is that recent (then only events after `lastIndexed()` can be). Exact, not a guess:
   * events may be stored a little out of time order, and this accounts for it.
   */
  firstIdSince(since: string): Promise<number | null>;
  /** Empties the index (the indexer then rebuilds it from the event log). */
  clear(): Promise<void>;
  /**
   * Tidies the index after a large catch-up (a rebuild): SQLite merges FTS5's segments into one,
   * which a rebuild leaves in the hundreds, each probed by every prefix query; PostgreSQL
   * refreshes the planner's statistics. Safe at any time; costs about what the catch-up did.
   */
  compact(): Promise<void>;
}

// ---------------------------------------------------------------- protection and the platform as code

/** Environments' protection, deploys waiting for approvals, and the approvals given. */
export interface ProtectionStore {
  get(projectId: string, environment: string): Promise<EnvironmentProtection | undefined>;
  /** Every protected environment (of one project when given). */
  list(projectId?: string): Promise<{ projectId: string; environment: string; protection: EnvironmentProtection }[]>;
  /** Sets (or with null removes) an environment's protection, with the events, in one transaction. */
  set(projectId: string, environment: string, protection: EnvironmentProtection | null, events: NewEvent[]): Promise<void>;
  /** Records a deploy waiting for approvals; false when one for that release is already waiting (nothing written). */
  request(r: ApprovalRequest, events: NewEvent[]): Promise<boolean>;
  /** Deploys waiting for approvals, oldest first (of one project when given). */
  requests(projectId?: string): Promise<ApprovalRequest[]>;
  /** The deploy went ahead: it waits no more. */
  closeRequest(projectId: string, environment: string, releaseId: string, events: NewEvent[]): Promise<void>;
  /** Throws ConflictError when that person already approved that release there. */
  approve(a: DeployApproval, events: NewEvent[]): Promise<void>;
  /** Approvals of a release for an environment, oldest first. */
  approvals(projectId: string, environment: string, releaseId: string): Promise<DeployApproval[]>;
}

/** What the platform as code manages, as stored (EstateStore.snapshot). */
export interface EstateSnapshot {
  projects: { id: string; name: string }[];
  grants: GrantRecord[];
  protections: { projectId: string; environment: string; protection: EnvironmentProtection }[];
  /** Security policies as their JSON text. */
  policies: { projectId: string; policy: string }[];
  /** Secret names (project-wide; never values). */
  secrets: { projectId: string; name: string }[];
  groups: { group: string; user: string }[];
  /** Notification channels of a project (a default one, of every project, is not the platform's). */
  channels: (Omit<NotificationChannel, 'projectId'> & { projectId: string })[];
  /**
   * A hash of every row a plan reads (the above with secrets' values and every channel, as
   * stored) and of the newest `platform.applied` event: equal versions, equal plans.
   */
  version: string;
}

/** What one `gantry platform apply` writes, all in one transaction. */
export interface EstateWrites {
  grants: { subject: string; role: string; project: string; environment: string | null }[];
  revokedGrants: { subject: string; project: string; environment: string | null }[];
  /** A group's whole membership (an empty list empties it); missing users are created as people. */
  groups: { group: string; members: string[] }[];
  protections: { projectId: string; environment: string; protection: EnvironmentProtection | null }[];
  policies: { projectId: string; policy: string | null }[];
  /**
   * A project's channel by name, created or replaced in place (its delivery log kept), or with
   * `channel: null` removed (its log with it). Target and secret are encrypted by the caller.
   */
  channels: {
    projectId: string;
    name: string;
    channel: Pick<NotificationChannel, 'kind' | 'targetCiphertext' | 'secretCiphertext' | 'routes'> | null;
  }[];
  /** Who applied (grants' createdBy). */
  actor: string;
}

export interface EstateStore {
  snapshot(): Promise<EstateSnapshot>;
  /**
   * Writes everything and appends the events in ONE transaction: all of it happens or none. With
   * `planned` (the version of the snapshot the writes were computed from), the transaction first
   * reads the version again — on PostgreSQL after locking the estate's tables against other
   * writers (SHARE ROW EXCLUSIVE, so concurrent applies queue) — and writes nothing when it
   * differs: 'changed'.
   */
  apply(writes: EstateWrites, events: NewEvent[], planned?: string): Promise<'applied' | 'changed'>;
}

/**
 * Leases (src/leases): each claim and release is one transaction applying the pure rule of
 * src/leases/lease-claim.ts to the stored row, so concurrent claimants on one PostgreSQL are
 * serialised by the row lock and exactly one is granted. Times are the claimant's clock.
 */
export interface LeaseStore {
  /** Takes or renews the lease; refused (with the current holder) while another holds it unexpired. */
  claim(claim: LeaseClaim): Promise<ClaimOutcome>;
  /** Frees the lease at once if `holder` still holds it with `token`; otherwise does nothing. */
  release(name: string, holder: string, token: number): Promise<void>;
  get(name: string): Promise<LeaseRecord | null>;
}

/**
 * Jobs' files copied into the store — the log as it is written, the rest (artifacts, tests.json,
 * sarif.json) when the job ends — so every server sharing a PostgreSQL can serve a job another
 * one ran (docs/decisions/0037). Chunks are keyed by the file's path in the job's directory and
 * their byte offset; an append of a chunk already stored is a no-op, so a writer may re-send.
 */
export interface JobFileStore {
  append(runId: string, jobKey: string, path: string, offset: number, bytes: Uint8Array): Promise<void>;
  /** The stored bytes of a file from `fromOffset` on (whole chunks starting there or later, contiguous), at most about `maxBytes`. */
  read(runId: string, jobKey: string, path: string, fromOffset: number, maxBytes: number): Promise<Buffer>;
  /** The job's stored files with the bytes stored of each. */
  files(runId: string, jobKey: string): Promise<{ path: string; bytes: number }[]>;
}

/**
 * Events committed by other processes sharing the store, as they commit (PostgreSQL LISTEN/NOTIFY;
 * nothing on SQLite, where one server owns the file). An announcement carries only the event's id:
 * listeners read the events from the store by their own cursor, so a lost announcement costs a
 * delay until the next one, never an event.
 */
export interface EventAnnouncements {
  /**
   * Calls `onEvent` with each committed event's id (in commit order, possibly repeated), and
   * `onReconnect` after the connection was lost and re-opened (announcements in between are
   * lost: read from the cursor). Resolves once listening; the returned function stops.
   */
  listen(onEvent: (id: number) => void, onReconnect: () => void): Promise<() => Promise<void>>;
}

export interface Store {
  projects: ProjectStore;
  runs: RunStore;
  events: EventStore;
  secrets: SecretStore;
  tokens: TokenStore;
  access: AccessStore;
  releases: ReleaseStore;
  rollouts: RolloutStore;
  metrics: MetricStore;
  slos: SloStore;
  notifications: NotificationStore;
  incidents: IncidentStore;
  /** The OSV advisory database (`gantry advisories import`). */
  advisories: AdvisoryStore;
  /** Findings of scanned jobs, suppressions, security policies. */
  findings: FindingStore;
  search: SearchIndexStore;
  protection: ProtectionStore;
  /** The platform as code: a snapshot of what it manages, and its all-or-nothing apply. */
  estate: EstateStore;
  /** Leases over background work that one server at a time must do (several servers on PostgreSQL). */
  leases: LeaseStore;
  announcements: EventAnnouncements;
  jobFiles: JobFileStore;
  /** Build agents and their attempts at jobs. */
  agents: AgentStore;
  /** `sqlite` or `postgres`. */
  readonly dialect: 'sqlite' | 'postgres';
  /**
   * A view of this store whose writes commit only while `fence`'s lease token is current (each
   * transaction checks it first; a stale one fails with LEASE_FENCED: src/store/write-fence.ts).
   * The same connections, and leases unfenced. On SQLite, where one server owns the file, the
   * store itself. Closing the view does nothing.
   */
  fenced(fence: WriteFence): Store;
  close(): Promise<void>;
}
