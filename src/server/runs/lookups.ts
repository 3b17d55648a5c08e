/** Finding a run or a job named in a URL, with the 404 a user can act on. */
import { GantryError, NotFoundError } from '../../core/errors.ts';
import type { JobRecord, RunRecord, Store } from '../../store/ports.ts';

export async function requireRun(store: Store, runId: string): Promise<RunRecord> {
  const run = await store.runs.get(runId);
  if (!run) throw new NotFoundError(`run ${runId} does not exist`);
  return run;
}

/** A job by its key, or by its id when that names exactly one job instance. */
export async function requireJob(store: Store, runId: string, keyOrId: string): Promise<JobRecord> {
  const jobs = await store.runs.jobs(runId);
  const exact = jobs.find((j) => j.key === keyOrId);
  if (exact) return exact;
  const byId = jobs.filter((j) => j.jobId === keyOrId);
  if (byId.length === 1 && byId[0]) return byId[0];
  if (byId.length > 1)
    throw new GantryError(
      'AMBIGUOUS_JOB',
      `job '${keyOrId}' has ${byId.length} matrix instances: name one of ${byId.map((j) => `'${j.key}'`).join(', ')}`,
    );
  throw new NotFoundError(`run ${runId} has no job '${keyOrId}' (jobs: ${jobs.map((j) => j.key).join(', ')})`);
}
