/**
 * Turns a reducer transition into the rows that record it (run patch, job patches, events), and
 * rows into the JSON reports of `gantry run --json` / `gantry runs show --json`. Shared by the
 * in-memory host of `gantry run` and the store host of the server, so both report alike.
 */
import type { JobReport, RunReport, RunStatus } from '../core/types.ts';
import type { JobPatch, JobRecord, NewEvent, RunPatch, RunRecord } from '../store/ports.ts';
import type { Transition } from './run-driver.ts';

const FINAL = new Set(['success', 'failure', 'skipped', 'cancelled']);

export function runPatch(t: Transition): RunPatch | undefined {
  const patch: RunPatch = {};
  if (t.state.status !== t.previous.status) {
    patch.status = t.state.status;
    if (t.state.status === 'running') patch.startedAt = t.at;
    if (FINAL.has(t.state.status)) patch.finishedAt = t.at;
  }
  if (t.state.cancelRequested !== t.previous.cancelRequested) patch.cancelRequested = t.state.cancelRequested;
  return Object.keys(patch).length > 0 ? patch : undefined;
}

export function jobPatches(t: Transition): { key: string; patch: JobPatch }[] {
  return t.changed.map((key) => {
    const job = t.state.jobs[key];
    const before = t.previous.jobs[key];
    if (!job) throw new Error(`transition changed unknown job ${key}`);
    const patch: JobPatch = {
      status: job.status,
      attempt: job.attempt,
      outputs: job.outputs,
      reason: job.reason,
      interruptions: job.interruptions,
    };
    const startedNow = t.event.type === 'job-started' && t.event.key === key;
    if (startedNow) {
      Object.assign(patch, { startedAt: t.at, finishedAt: null, steps: [], tests: null, logTruncated: false });
    }
    const finishedByRunner = t.event.type === 'job-finished' && t.event.key === key && t.result;
    if (finishedByRunner && t.result) {
      Object.assign(patch, { steps: t.result.steps, tests: t.result.tests, logTruncated: t.result.logTruncated });
      if (t.result.error && !job.reason) patch.reason = t.result.error;
    }
    if (FINAL.has(job.status) && before?.status !== job.status) patch.finishedAt = t.at;
    return { key, patch };
  });
}

/** One event per job status change and per run status change. */
export function transitionEvents(t: Transition, base: Omit<NewEvent, 'type' | 'subject' | 'data'>): NewEvent[] {
  const events: NewEvent[] = [];
  const runId = t.state.runId;
  for (const key of t.changed) {
    const job = t.state.jobs[key];
    const before = t.previous.jobs[key];
    if (!job || before?.status === job.status) continue;
    const data: Record<string, string | number | null> = { runId, key, status: job.status, attempt: job.attempt, reason: job.reason };
    if (t.result && t.event.type === 'job-finished' && t.event.key === key && t.result.error) data.error = t.result.error;
    events.push({ ...base, at: t.at, type: `job.${job.status}`, subject: `job:${runId}/${key}`, data });
  }
  if (t.state.status !== t.previous.status) {
    events.push({ ...base, at: t.at, type: `run.${t.state.status}`, subject: `run:${runId}`, data: { runId, status: t.state.status } });
  } else if (t.state.cancelRequested && !t.previous.cancelRequested) {
    events.push({ ...base, at: t.at, type: 'run.cancel-requested', subject: `run:${runId}`, data: { runId } });
  }
  return events;
}

export function applyJobPatch(record: JobRecord, patch: JobPatch): JobRecord {
  return { ...record, ...patch };
}

export function jobReport(r: JobRecord): JobReport {
  return {
    id: r.jobId,
    key: r.key,
    matrix: r.matrix,
    needs: r.needs,
    status: r.status,
    startedAt: r.startedAt,
    finishedAt: r.finishedAt,
    outputs: r.outputs,
    tests: r.tests ? { passed: r.tests.passed, failed: r.tests.failed, skipped: r.tests.skipped } : null,
    steps: r.steps,
    attempt: r.attempt,
    logTruncated: r.logTruncated,
    ...(r.reason ? { reason: r.reason } : {}),
  };
}

export function runReport(run: Pick<RunRecord, 'id' | 'status'>, jobs: JobRecord[]): RunReport & { status: RunStatus } {
  return { id: run.id, status: run.status, jobs: jobs.map(jobReport) };
}
