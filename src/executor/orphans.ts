/**
 * After a crash of the server (kill -9), the processes of jobs that were running may still be
 * alive (outside bubblewrap nothing ties them to the server). Before such a job is retried they
 * are found by the GANTRY_RUN_ID/GANTRY_JOB variables every step carries, and killed, so a job
 * never runs twice at the same time.
 */
import { readdir, readFile } from 'node:fs/promises';

export async function findJobProcesses(runId: string, jobKey: string): Promise<number[]> {
  const wantRun = `GANTRY_RUN_ID=${runId}`;
  const wantJob = `GANTRY_JOB=${jobKey}`;
  const found: number[] = [];
  for (const entry of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(entry)) continue;
    const environ = await readFile(`/proc/${entry}/environ`, 'latin1').catch(() => '');
    if (!environ) continue;
    const vars = environ.split('\0');
    if (vars.includes(wantRun) && vars.includes(wantJob)) found.push(Number(entry));
  }
  return found;
}

/** SIGKILLs every process of that job; returns their PIDs. */
export async function killJobProcesses(runId: string, jobKey: string): Promise<number[]> {
  const pids = await findJobProcesses(runId, jobKey);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  return pids;
}
