/**
 * How a node of the job graph reads, shared by both renderers: its status icon, a matrix
 * group's one status and counts, a job's running time and the URL it opens.
 */
import { elapsed } from '../format.ts';
import type { Job, JobStatus } from '../types.ts';

export const STATUS_ICONS: Record<JobStatus, string> = {
  success: '✓',
  failure: '✗',
  cancelled: '⊘',
  skipped: '↷',
  running: '●',
  queued: '○',
  waiting: '○',
};

/** The order statuses are listed in a group's counts (the ones needing attention first). */
export const STATUS_ORDER: readonly JobStatus[] = ['failure', 'running', 'queued', 'waiting', 'cancelled', 'skipped', 'success'];

/**
 * The URL of a job inside its run's page. `search` (e.g. `?graph=canvas`) is kept, so a
 * renderer chosen in the URL stays while moving between jobs.
 */
export function jobHref(runId: string, key: string, search = ''): string {
  return `/runs/${encodeURIComponent(runId)}/jobs/${encodeURIComponent(key)}${search}`;
}

/** How long a job ran, or has been running at `now`; '' before it started. */
export function jobDuration(job: Job, now: number): string {
  // The page's clock ticks each second: a job that started since then has run for ~0 s, not "–".
  const started = job.startedAt ? Date.parse(job.startedAt) : 0;
  return elapsed(job.startedAt, job.finishedAt, Math.max(now, started));
}

/** One status standing for a group: failure wins, then activity, success only when all succeeded. */
export function groupStatus(jobs: readonly Job[]): JobStatus {
  for (const status of STATUS_ORDER) if (status !== 'success' && jobs.some((j) => j.status === status)) return status;
  return jobs.length > 0 ? 'success' : 'waiting';
}

/** A group's members counted by status, in STATUS_ORDER. */
export function countsOf(jobs: readonly Job[]): [JobStatus, number][] {
  const counts = new Map<JobStatus, number>();
  for (const j of jobs) counts.set(j.status, (counts.get(j.status) ?? 0) + 1);
  return STATUS_ORDER.filter((s) => counts.has(s)).map((s) => [s, counts.get(s) ?? 0]);
}
