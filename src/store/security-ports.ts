/**
 * The security stores (re-exported by ./ports.ts): the OSV advisory database imported into the
 * store, and the findings of scanned jobs with their suppressions and the projects' policies.
 * The same contract as every port there: a resolved promise means committed.
 */
import type { NewEvent } from './ports.ts';

/** One advisory as stored: its OSV record (JSON text) and the packages it names, for lookups. */
export interface StoredAdvisory {
  id: string;
  modified: string;
  withdrawn: string | null;
  /** The OSV record as JSON text. */
  record: string;
  /** Base ecosystem and normalised name of each package it names. */
  packages: { ecosystem: string; name: string }[];
}

/** What one import did, and how fresh the database is after it. */
export interface AdvisoryImport {
  source: string;
  importedAt: string;
  /** The newest `modified` of any stored record after the import. */
  newestModified: string | null;
  added: number;
  updated: number;
  unchanged: number;
  /** Among added and updated, those that are withdrawn (kept, marked, never matched). */
  withdrawn: number;
  rejected: number;
}

export interface AdvisoryStore {
  /** Every stored record's `modified`, by id: an import compares against it to skip what did not change. */
  modifiedById(): Promise<Map<string, string>>;
  /** Inserts or replaces the records and their package rows, in one transaction. */
  upsert(records: readonly StoredAdvisory[]): Promise<void>;
  recordImport(summary: AdvisoryImport): Promise<void>;
  /** The latest import, and how many records there are (withdrawn included). */
  status(): Promise<{ lastImport: AdvisoryImport | null; records: number; withdrawn: number }>;
  /** The query port scans use: the records (JSON text) naming any of these packages, withdrawn ones left out. */
  byPackages(packages: readonly { ecosystem: string; name: string }[]): Promise<string[]>;
  /** Every record not withdrawn (JSON text), by id, a page at a time: what a run's security job reads. */
  current(): AsyncIterable<string>;
}

/** One finding of a scanned job, as stored (the model is src/security's Finding). */
export interface StoredFinding {
  fingerprint: string;
  scanner: string;
  ruleId: string;
  ruleName: string;
  level: string;
  message: string;
  path: string | null;
  startLine: number | null;
  properties: Record<string, unknown>;
}

/** A job whose SARIF was read: its findings belong to the run, and the run counts as scanned. */
export interface ScannedJob {
  projectId: string;
  runId: string;
  runNumber: number;
  jobKey: string;
  /** The run was on the project's default branch: it can be the baseline of later runs. */
  defaultBranch: boolean;
  scannedAt: string;
}

export interface Suppression {
  id: string;
  projectId: string;
  fingerprint: string | null;
  ruleId: string | null;
  path: string | null;
  reason: string;
  author: string;
  createdAt: string;
  /** Null: never expires. */
  expiresAt: string | null;
  /** Set when someone lifted it before it expired. */
  removedAt: string | null;
}

export interface FindingStore {
  /**
   * Stores a job's findings and marks it scanned, with its events, and moves the event-log
   * consumer's cursor, all in one transaction: a job's SARIF is read exactly once across crashes.
   * A job stored already is left as it is (the cursor still moves).
   */
  recordJob(
    job: ScannedJob,
    findings: readonly StoredFinding[],
    events: NewEvent[],
    cursor: { name: string; eventId: number },
  ): Promise<void>;
  /** The scanned jobs of a run (none: the run was not scanned). */
  scannedJobs(runId: string): Promise<ScannedJob[]>;
  /** A run's findings, each with the job it came from, deduplicated by fingerprint (the first job's). */
  runFindings(runId: string): Promise<(StoredFinding & { jobKey: string })[]>;
  /** The newest scanned default-branch run of a project with a number below `beforeNumber` (all when absent). */
  baselineRun(projectId: string, beforeNumber?: number): Promise<{ runId: string; runNumber: number } | undefined>;
  /** Per scanned run of a project, newest first: its number and its findings' counts by level. */
  trend(
    projectId: string,
    limit: number,
  ): Promise<{ runId: string; runNumber: number; scannedAt: string; levels: Record<string, number> }[]>;
  /** The projects that have a finding with this fingerprint (to suppress it without naming the project). */
  projectsWithFingerprint(fingerprint: string): Promise<string[]>;
  addSuppression(s: Suppression, events: NewEvent[]): Promise<void>;
  /** Marks it removed (not deleted: the record of who suppressed what stays). */
  removeSuppression(id: string, removedAt: string, events: NewEvent[]): Promise<void>;
  getSuppression(id: string): Promise<Suppression | undefined>;
  /** Not removed; expired ones included (callers tell them apart by time). Newest first. */
  suppressions(projectId: string): Promise<Suppression[]>;
  /** The project's policy as JSON text, or undefined when it has none. */
  policy(projectId: string): Promise<string | undefined>;
  setPolicy(projectId: string, policy: string, events: NewEvent[]): Promise<void>;
  cursor(name: string): Promise<number>;
  setCursor(name: string, eventId: number): Promise<void>;
}
