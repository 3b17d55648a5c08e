/**
 * A job's files over HTTP: its saved test cases and its artifacts (list and download). The
 * files live under the job's directory (engine/run-paths.ts); a download never leaves the
 * artifact directory, whatever the path or the links inside say.
 */
import { createReadStream } from 'node:fs';
import { readFile, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { NotFoundError } from '../../core/errors.ts';
import { jobArtifactsDir, jobDir, jobTestsFile } from '../../engine/run-paths.ts';
import { pullJobFiles } from './job-file-replica.ts';
import { listArtifacts } from '../../executor/artifacts.ts';
import { failingFirst, type TestResults } from '../../executor/junit.ts';
import type { JobRecord, Store } from '../../store/ports.ts';
import { requireJob, requireRun } from './lookups.ts';
import type { RouteTable } from '../http/index.ts';

export interface RunFileRouteDeps {
  store: Store;
  dataDir: string;
}

const jobParams = z.object({ run: z.string(), job: z.string() });

/** Registers GET …/jobs/:job/tests, …/artifacts and …/artifacts/<path>. */
export function registerRunFileRoutes(routes: RouteTable, deps: RunFileRouteDeps): void {
  const { store, dataDir } = deps;
  /** The job whose files to read (the run that made them); another server's are copied here first. */
  const filesJob = async (runId: string, key: string) => {
    await requireRun(store, runId);
    const job = await requireJob(store, runId, key);
    const filesRun = filesRunOf(job, runId);
    if (store.dialect === 'postgres') await pullJobFiles(store.jobFiles, filesRun, job.key, jobDir(dataDir, filesRun, job.key));
    return { job, filesRun };
  };

  routes.add({
    method: 'GET',
    url: '/api/runs/:run/jobs/:job/tests',
    summary: "A job's test cases from its JUnit reports, failing first: `{ summary, cases }` (`summary: null` without a report)",
    auth: 'admin',
    permission: 'read',
    params: jobParams,
    handler: async ({ params }) => {
      const { job, filesRun } = await filesJob(params.run, params.job);
      const saved = await readTestResults(jobTestsFile(dataDir, filesRun, job.key));
      if (!saved) return { summary: null, cases: [] };
      return { summary: saved.summary, cases: failingFirst(saved.cases) };
    },
  });

  routes.add({
    method: 'GET',
    url: '/api/runs/:run/jobs/:job/artifacts',
    summary: "A job's artifacts: `{ files: [{ path, bytes }] }`",
    auth: 'admin',
    permission: 'read',
    params: jobParams,
    handler: async ({ params }) => {
      const { job, filesRun } = await filesJob(params.run, params.job);
      return { files: await listArtifacts(jobArtifactsDir(dataDir, filesRun, job.key)) };
    },
  });

  routes.add({
    method: 'GET',
    url: '/api/runs/:run/jobs/:job/artifacts/*',
    summary: 'Download one artifact file',
    auth: 'admin',
    permission: 'read',
    produces: 'application/octet-stream',
    params: z.object({ run: z.string(), job: z.string(), '*': z.string() }),
    handler: async ({ params, reply }) => {
      const { job, filesRun } = await filesJob(params.run, params.job);
      const rel = params['*'];
      const file = await resolveArtifact(jobArtifactsDir(dataDir, filesRun, job.key), rel);
      if (!file) throw new NotFoundError(`job '${job.key}' has no artifact '${rel}'`);
      const name = path.basename(rel);
      return reply
        .type('application/octet-stream')
        .header(
          'content-disposition',
          `attachment; filename="${name.replace(/[^\x20-\x7e]|["\\]/g, '_')}"; filename*=UTF-8''${encodeURIComponent(name)}`,
        )
        .header('content-length', file.bytes)
        .header('x-content-type-options', 'nosniff')
        .send(createReadStream(file.path));
    },
  });
}

/** A job reused by a rerun of failed jobs kept its files in the run that ran it. */
function filesRunOf(job: JobRecord, runId: string): string {
  return job.reusedFromRunId ?? runId;
}

/** The saved cases, or null when the job saved none (no report, or an unreadable file). */
async function readTestResults(file: string): Promise<TestResults | null> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return null;
  }
  try {
    const parsed = JSON.parse(text) as TestResults;
    return parsed && Array.isArray(parsed.cases) && parsed.summary ? parsed : null;
  } catch {
    return null;
  }
}

/**
 * The regular file `rel` names inside `dir`, after resolving links; null when it does not
 * exist, is not a regular file or resolves outside `dir` (`..`, an absolute path, a link).
 */
async function resolveArtifact(dir: string, rel: string): Promise<{ path: string; bytes: number } | null> {
  if (rel === '' || rel.includes('\0')) return null;
  const lexical = path.resolve(dir, rel);
  if (!isInside(dir, lexical)) return null;
  try {
    const [realDir, realFile] = await Promise.all([realpath(dir), realpath(lexical)]);
    if (!isInside(realDir, realFile) || realFile === realDir) return null;
    const info = await stat(realFile);
    return info.isFile() ? { path: realFile, bytes: info.size } : null;
  } catch {
    return null;
  }
}

function isInside(root: string, p: string): boolean {
  const rel = path.relative(root, p);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel));
}
