/**
 * Service logs over HTTP: a search of an environment's lines (JSON), or the same filters
 * followed live as server-sent events (`line` events carrying a `ServiceLogLine`).
 */
import { z } from 'zod';
import { NotFoundError } from '../../core/errors.ts';
import type { Project, ReleaseRecord } from '../../store/ports.ts';
import { openEventStream, type RouteTable } from '../http/index.ts';
import { followServiceLogs } from './log-follow.ts';
import { compileLogQuery, parseLogTime } from './log-query.ts';
import { environmentLogDir } from './log-segments.ts';
import { type ServiceLogs, serviceLogLine } from './service-logs.ts';

export interface LogRouteDeps {
  logs: ServiceLogs;
  requireProject(idOrName: string): Promise<Project>;
  releaseByNumber(projectId: string, number: number): Promise<ReleaseRecord | undefined>;
  releaseNumber(releaseId: string): Promise<number | null>;
  now(): number;
}

export const MAX_LOG_LINES = 5000;
const DEFAULT_LOG_LINES = 500;

const flag = z.enum(['true', 'false', '1', '0']).optional();
const isOn = (value: string | undefined): boolean => value === 'true' || value === '1';

export function registerServiceLogRoutes(routes: RouteTable, deps: LogRouteDeps): void {
  routes.add({
    method: 'GET',
    url: '/api/projects/:project/environments/:env/logs',
    summary: `Service logs of an environment: the newest \`limit\` lines (default ${DEFAULT_LOG_LINES}, at most ${MAX_LOG_LINES}) matching every filter given — \`release\` (number), \`instance\`, \`since\`/\`until\` (15m, 2h, 7d or a date), \`grep\` (a regular expression on the text), \`text\` (plain text), \`where\` (field=value or field!=value on JSON lines, repeatable), \`stream\` — as \`{ lines, matched, scannedBytes, searchedAt }\`; \`follow=true\` streams new matching lines as server-sent events (\`line\`), from \`since\` when given (a search's \`searchedAt\`: nothing written in between is missed)`,
    auth: 'admin',
    permission: 'read',
    params: z.object({ project: z.string().min(1), env: z.string().min(1).max(200) }),
    query: z.object({
      release: z.coerce.number().int().min(1).optional(),
      instance: z.string().min(1).max(200).optional(),
      since: z.string().min(1).max(40).optional(),
      until: z.string().min(1).max(40).optional(),
      grep: z.string().max(1000).optional(),
      text: z.string().max(1000).optional(),
      where: z.union([z.string(), z.array(z.string())]).optional(),
      stream: z.enum(['stdout', 'stderr', 'system']).optional(),
      limit: z.coerce.number().int().min(1).max(MAX_LOG_LINES).default(DEFAULT_LOG_LINES),
      follow: flag,
    }),
    handler: async ({ params, query, request, reply }) => {
      const project = await deps.requireProject(params.project);
      let releaseId: string | undefined;
      if (query.release !== undefined) {
        const release = await deps.releaseByNumber(project.id, query.release);
        if (!release) throw new NotFoundError(`release ${query.release} of ${project.name} does not exist (see \`gantry release list\`)`);
        releaseId = release.id;
      }
      const now = deps.now();
      const filters = {
        grep: query.grep,
        text: query.text,
        where: query.where === undefined ? [] : [query.where].flat(),
        stream: query.stream,
        sinceMs: query.since === undefined ? undefined : parseLogTime(query.since, now, 'since'),
        untilMs: query.until === undefined ? undefined : parseLogTime(query.until, now, 'until'),
      };
      if (!isOn(query.follow)) {
        // A client that gave up stops the scan.
        const controller = new AbortController();
        reply.raw.on('close', () => {
          if (!reply.raw.writableFinished) controller.abort();
        });
        const answer = await deps.logs.search(
          { project, environment: params.env, releaseId, instance: query.instance, limit: query.limit, ...filters },
          controller.signal,
        );
        return { ...answer, searchedAt: new Date(now).toISOString() };
      }
      // Following has no end; a start (`since`) makes it pick up where a search stopped.
      const matcher = compileLogQuery({ ...filters, untilMs: undefined });
      reply.hijack();
      const stream = openEventStream(reply.raw);
      const controller = new AbortController();
      stream.onClose(() => controller.abort());
      request.raw.on('close', () => controller.abort());
      // The release of a line is its directory's id; numbers are looked up once per release.
      const numbers = new Map<string, number | null>();
      let queue = Promise.resolve();
      await followServiceLogs({
        envDir: environmentLogDir(deps.logs.dataDir, project.id, params.env),
        releaseId,
        instance: query.instance,
        matcher,
        signal: controller.signal,
        onLines: (lines) => {
          queue = queue.then(async () => {
            for (const line of lines) {
              if (line.releaseId !== '' && !numbers.has(line.releaseId))
                numbers.set(line.releaseId, await deps.releaseNumber(line.releaseId));
              const release = line.releaseId === '' ? null : (numbers.get(line.releaseId) ?? null);
              stream.send('line', serviceLogLine(project.name, params.env, release, line.instance, line.stream, line.at, line.text));
            }
          });
        },
      });
      await queue;
      stream.close();
      return undefined;
    },
  });
}
