/**
 * Store ports: one small interface per aggregate. Implemented once with Kysely for both
 * SQLite (node:sqlite, the embedded default) and PostgreSQL; `test/store/contract.test.ts`
 * runs the same suite against both.
 *
 * Contract for every method: when the returned promise resolves, the write is durable
 * (committed). Methods are safe to call concurrently. Timestamps are ISO-8601 UTC strings.
 */
import type {
  JobStatus, MatrixValues, RunStatus, StepResult, TestCounts, TriggerEvent, Value,
} from '../core/types.ts';

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

export type NewRun = Omit<RunRecord, 'id' | 'number' | 'createdAt' | 'startedAt' | 'finishedAt' | 'cancelRequested' | 'status'> & {
  status?: RunStatus;
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
  /** Newest first. */
  list(filter?: RunFilter): Promise<RunRecord[]>;
  jobs(runId: string): Promise<JobRecord[]>;
  /**
   * Applies a run patch, job patches and appends events in ONE transaction: this is how a
   * state transition is persisted before it is acted on.
   */
  transition(runId: string, change: { run?: RunPatch; jobs?: { key: string; patch: JobPatch }[]; events?: NewEvent[] }): Promise<void>;
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
  /** Oldest first; `afterId` for catching up a stream. */
  list(filter?: { afterId?: number; type?: string; subjectPrefix?: string; limit?: number }): Promise<GantryEvent[]>;
}

export interface SecretStore {
  /** Upsert. `ciphertext` is already encrypted by the caller (see src/server/secret-box.ts). */
  set(projectId: string, name: string, ciphertext: string): Promise<void>;
  get(projectId: string, name: string): Promise<string | undefined>;
  /** name → ciphertext */
  all(projectId: string): Promise<Record<string, string>>;
  names(projectId: string): Promise<string[]>;
  delete(projectId: string, name: string): Promise<boolean>;
}

export interface TokenRecord {
  id: string;
  name: string;
  /** sha256 hex of the token; the token itself is never stored. */
  hash: string;
  createdAt: string;
}

export interface TokenStore {
  create(t: { name: string; hash: string }): Promise<TokenRecord>;
  findByHash(hash: string): Promise<TokenRecord | undefined>;
  list(): Promise<TokenRecord[]>;
}

/** All stores over one database, plus its lifecycle. */
export interface Store {
  projects: ProjectStore;
  runs: RunStore;
  events: EventStore;
  secrets: SecretStore;
  tokens: TokenStore;
  /** `sqlite` or `postgres`. */
  readonly dialect: 'sqlite' | 'postgres';
  close(): Promise<void>;
}
