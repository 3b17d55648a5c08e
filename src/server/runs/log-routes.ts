/**
 * A job's log over HTTP: the whole file, pages of lines by number, a search, or followed live
 * as server-sent events. Line numbers in this API are 0-based; the dashboard shows them 1-based.
 * Pages and searches go through a per-server cache of line indexes (`LogIndexCache`), so
 * opening line 900 000 of a 100 MB log reads a few KiB, not the whole file.
 */
import { createReadStream, existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { z } from 'zod';
import { FINAL_JOB_STATUSES } from '../../core/types.ts';
import { InputError } from '../../core/errors.ts';
import { jobLogFile } from '../../engine/run-paths.ts';
import type { JobRecord, Store } from '../../store/ports.ts';
import { openEventStream } from '../http/index.ts';
import { requireJob, requireRun } from './lookups.ts';
import type { RouteTable } from '../http/index.ts';
import { followLog } from './log-follow.ts';
import { pullJobLog } from './job-file-replica.ts';
import { LogIndexCache, readLines, searchLog } from './log-index.ts';

export interface LogRouteDeps {
  store: Store;
  dataDir: string;
  /** Line indexes kept (one per recently viewed log); default 16. */
  indexCacheSize?: number;
}

/** Most lines per page request. */
export const MAX_PAGE_LINES = 2000;
/** Most matches per search request. */
export const MAX_SEARCH_MATCHES = 1000;
/** Time a single search may take before it answers with what it found (`more: true`). */
const SEARCH_BUDGET_MS = 5_000;

const lineNumber = z.coerce.number().int().min(0);
const flag = z.enum(['true', 'false', '1', '0']).optional();
const isOn = (value: string | undefined): boolean => value === 'true' || value === '1';
const jobParams = z.object({ run: z.string(), job: z.string() });

const isFinal = (job: JobRecord | undefined): boolean => !job || FINAL_JOB_STATUSES.includes(job.status);

export function registerLogRoutes(routes: RouteTable, deps: LogRouteDeps): void {
  const { store } = deps;
  const indexes = new LogIndexCache(deps.indexCacheSize ?? 16);
  const currentJob = async (runId: string, key: string) => (await store.runs.jobs(runId)).find((j) => j.key === key);
  // Several servers on PostgreSQL: a log another server wrote is copied here before it is read.
  const pull =
    store.dialect === 'postgres'
      ? (runId: string, job: JobRecord, file: string) => pullJobLog(store.jobFiles, runId, job.key, job.attempt, file)
      : null;
  const localLog = async (job: JobRecord, runId: string) => {
    const owner = job.reusedFromRunId ?? runId;
    const file = jobLogFile(deps.dataDir, owner, job.key);
    await pull?.(owner, job, file);
    return { file, owner };
  };

  routes.add({
    method: 'GET',
    url: '/api/runs/:run/jobs/:job/log',
    summary:
      "A job's log: stored lines `<ISO time> <o|e|s> <text>`; `follow=true` streams lines as server-sent events (`line` with `id` = 0-based line number, then `end`), from line `fromLine` (or after `Last-Event-ID`)",
    auth: 'admin',
    permission: 'read',
    produces: 'text/plain',
    params: jobParams,
    query: z.object({ follow: flag, fromLine: lineNumber.optional() }),
    handler: async ({ params, query, reply, request }) => {
      await requireRun(store, params.run);
      const job = await requireJob(store, params.run, params.job);
      const { file, owner } = await localLog(job, params.run);
      if (!isOn(query.follow)) {
        if (!existsSync(file)) return reply.type('text/plain; charset=utf-8').send('');
        const info = await stat(file);
        return reply.type('text/plain; charset=utf-8').header('content-length', info.size).send(createReadStream(file));
      }
      // EventSource reconnects with the id of the last event it got: resume right after it.
      const lastId = Number(request.headers['last-event-id']);
      const fromLine = Number.isInteger(lastId) && lastId >= 0 ? lastId + 1 : (query.fromLine ?? 0);
      let startOffset = 0;
      let skipLines = 0;
      if (fromLine > 0) {
        const index = await indexes.get(file);
        startOffset = index ? await index.offsetOf(fromLine) : 0;
        skipLines = fromLine - Math.min(fromLine, index?.lines ?? 0);
      }
      reply.hijack();
      const stream = openEventStream(reply.raw);
      const controller = new AbortController();
      stream.onClose(() => controller.abort());
      request.raw.on('close', () => controller.abort());
      let next = fromLine;
      await followLog({
        file,
        signal: controller.signal,
        startOffset,
        skipLines,
        isDone: async () => isFinal(await currentJob(params.run, job.key)),
        ...(pull ? { refresh: () => pull(owner, job, file) } : {}),
        onRestart: () => {
          next = 0;
        },
        onLines: (lines) => {
          for (const line of lines) {
            stream.send('line', { ...line, line: next }, next);
            next++;
          }
        },
      });
      const final = await currentJob(params.run, job.key);
      stream.send('end', { status: final?.status ?? null, logTruncated: final?.logTruncated ?? false, lines: next });
      stream.close();
      return undefined;
    },
  });

  routes.add({
    method: 'GET',
    url: '/api/runs/:run/jobs/:job/log/lines',
    summary: `Lines of a job's log by 0-based number: \`{ from, lines, total, complete, truncated }\` (raw stored lines; at most ${MAX_PAGE_LINES} per request, fewer past 4 MiB)`,
    auth: 'admin',
    permission: 'read',
    params: jobParams,
    query: z.object({ from: lineNumber.default(0), count: z.coerce.number().int().min(0).max(MAX_PAGE_LINES).default(500) }),
    handler: async ({ params, query }) => {
      await requireRun(store, params.run);
      const job = await requireJob(store, params.run, params.job);
      const complete = isFinal(job);
      const index = await indexes.get((await localLog(job, params.run)).file);
      if (!index) return { from: query.from, lines: [], total: 0, complete, truncated: job.logTruncated };
      // A finished log may end without `\n` (a writer that died mid-line): that line counts then.
      const total = index.lines + (complete && index.size > index.linesEnd ? 1 : 0);
      const page = await readLines(index, query.from, query.count, { includePartial: complete });
      return { from: query.from, lines: page.lines, total, complete, truncated: job.logTruncated };
    },
  });

  routes.add({
    method: 'GET',
    url: '/api/runs/:run/jobs/:job/log/search',
    summary: `Lines of a job's log whose text contains \`q\` (plain text, \`case=true\` for exact case): \`{ matches: 0-based line numbers, more, searchedTo }\`; \`fromLine\` continues a search, at most ${MAX_SEARCH_MATCHES} matches per request`,
    auth: 'admin',
    permission: 'read',
    params: jobParams,
    query: z.object({
      q: z.string().optional(),
      limit: z.coerce.number().int().min(1).max(MAX_SEARCH_MATCHES).default(MAX_SEARCH_MATCHES),
      case: flag,
      fromLine: lineNumber.default(0),
    }),
    handler: async ({ params, query, reply }) => {
      const q = query.q ?? '';
      if (q.length === 0) throw new InputError('q (the text to search for) must not be empty');
      if (/[\r\n]/.test(q)) throw new InputError('q must be one line: log lines are searched one at a time');
      await requireRun(store, params.run);
      const job = await requireJob(store, params.run, params.job);
      const index = await indexes.get((await localLog(job, params.run)).file);
      if (!index) return { matches: [], more: false, searchedTo: 0 };
      // A client that gave up (typed on, navigated away) stops the scan.
      const controller = new AbortController();
      reply.raw.on('close', () => {
        if (!reply.raw.writableFinished) controller.abort();
      });
      return searchLog(index, {
        query: q,
        caseSensitive: isOn(query.case),
        limit: query.limit,
        fromLine: query.fromLine,
        timeBudgetMs: SEARCH_BUDGET_MS,
        signal: controller.signal,
      });
    },
  });
}
