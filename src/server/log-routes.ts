/** A job's log over HTTP: the whole file, or followed live as server-sent events. */
import { createReadStream, existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { z } from 'zod';
import { jobLogFile } from '../engine/run-paths.ts';
import type { Store } from '../store/ports.ts';
import { openEventStream } from './event-stream.ts';
import { requireJob, requireRun } from './http/lookups.ts';
import type { RouteTable } from './http/route-table.ts';
import { followLog } from './log-follow.ts';

export interface LogRouteDeps {
  store: Store;
  dataDir: string;
}

export function registerLogRoutes(routes: RouteTable, deps: LogRouteDeps): void {
  const { store } = deps;
  routes.add({
    method: 'GET', url: '/api/runs/:run/jobs/:job/log', summary: 'A job\'s log: stored lines `<ISO time> <o|e|s> <text>`; `follow=true` streams lines as server-sent events', auth: 'admin', produces: 'text/plain',
    params: z.object({ run: z.string(), job: z.string() }),
    query: z.object({ follow: z.enum(['true', 'false', '1', '0']).optional() }),
    handler: async ({ params, query, reply, request }) => {
      await requireRun(store, params.run);
      const job = await requireJob(store, params.run, params.job);
      const file = jobLogFile(deps.dataDir, params.run, job.key);
      if (query.follow !== 'true' && query.follow !== '1') {
        if (!existsSync(file)) return reply.type('text/plain; charset=utf-8').send('');
        const info = await stat(file);
        return reply.type('text/plain; charset=utf-8').header('content-length', info.size).send(createReadStream(file));
      }
      reply.hijack();
      const stream = openEventStream(reply.raw);
      const controller = new AbortController();
      stream.onClose(() => controller.abort());
      request.raw.on('close', () => controller.abort());
      await followLog({
        file, signal: controller.signal,
        isDone: async () => {
          const current = (await store.runs.jobs(params.run)).find((j) => j.key === job.key);
          return !current || ['success', 'failure', 'skipped', 'cancelled'].includes(current.status);
        },
        onLines: (lines) => { for (const line of lines) stream.send('line', line); },
      });
      const final = (await store.runs.jobs(params.run)).find((j) => j.key === job.key);
      stream.send('end', { status: final?.status ?? null, logTruncated: final?.logTruncated ?? false });
      stream.close();
      return undefined;
    },
  });

}
