/**
 * OTLP/HTTP traces in (`POST /v1/traces`, the path the specification gives exporters that are
 * pointed at `OTEL_EXPORTER_OTLP_ENDPOINT`), and what the dashboard reads back: the traces of a
 * heatmap cell, one trace as a waterfall, latency by release and route, and the settings a
 * service run outside Gantry needs to send its traces.
 */
import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import { GantryError, NotFoundError } from '../../core/errors.ts';
import { latencyRow } from '../../delivery/index.ts';
import { decodeOtlpJson, decodeOtlpProtobuf, latencyRowRange, type Span, waterfall } from '../../traces/index.ts';
import type { Project } from '../../store/ports.ts';
import { bearer, headerValue, type RouteTable } from '../http/index.ts';
import { type IngestTokens, otlpEnvironment } from './ingest-tokens.ts';
import type { TraceService } from './trace-service.ts';

export interface TraceRouteDeps {
  traces: TraceService;
  tokens: IngestTokens;
  requireProject(idOrName: string): Promise<Project>;
  /** The address services should send to (the one the server listens on). */
  publicUrl(): string;
}

const envParams = z.object({ project: z.string().min(1), env: z.string().min(1).max(200) });

export function registerTraceRoutes(routes: RouteTable, deps: TraceRouteDeps): void {
  routes.add({
    method: 'POST',
    url: '/v1/traces',
    summary:
      "OTLP/HTTP trace export (`application/x-protobuf` or `application/json`), authenticated by the environment's ingest token (`Authorization: Bearer gto_…`, set by the runtime through `OTEL_EXPORTER_OTLP_HEADERS`); answers an empty ExportTraceServiceResponse in the request's encoding",
    auth: 'signature',
    handler: async ({ request, reply }) => {
      const scope = await deps.tokens.verify(bearer(request) ?? '');
      if (!scope)
        throw new GantryError('OTLP_TOKEN_INVALID', "the trace request needs the environment's ingest token (Authorization: Bearer gto_…)");
      const protobuf = isProtobuf(request);
      deps.traces.ingest(scope, decode(request, protobuf));
      if (protobuf) return reply.type('application/x-protobuf').send(Buffer.alloc(0));
      return {};
    },
  });

  routes.add({
    method: 'GET',
    url: '/api/projects/:project/environments/:env/otlp',
    summary:
      "The OpenTelemetry settings (`OTEL_EXPORTER_OTLP_*` variables with the environment's ingest token) that send a service's traces to this environment; instances Gantry runs get them already",
    auth: 'admin',
    permission: 'deploy',
    params: envParams,
    handler: async ({ params }) => {
      const project = await deps.requireProject(params.project);
      const token = await deps.tokens.token({ projectId: project.id, environment: params.env });
      const env = otlpEnvironment({ publicUrl: deps.publicUrl(), token, releaseId: '<release>', environment: params.env });
      return { endpoint: `${env.OTEL_EXPORTER_OTLP_ENDPOINT}/v1/traces`, token, env };
    },
  });

  routes.add({
    method: 'GET',
    url: '/api/projects/:project/environments/:env/traces',
    summary:
      'Kept traces whose request started in [`from`, `to`) (ms since the epoch; the last hour by default), in the latency heatmap row whose upper bound is `le` ms when given (the cell a dashboard click names), of release `version` when given; slowest first',
    auth: 'admin',
    permission: 'read',
    params: envParams,
    query: z.object({
      from: z.coerce.number().optional(),
      to: z.coerce.number().optional(),
      le: z.coerce.number().positive().optional(),
      version: z.string().min(1).optional(),
      limit: z.coerce.number().int().min(1).max(500).optional(),
    }),
    handler: async ({ params, query }) => {
      const project = await deps.requireProject(params.project);
      const env = deps.traces.environment({ projectId: project.id, environment: params.env });
      const toMs = query.to ?? Date.now();
      const fromMs = query.from ?? toMs - 3_600_000;
      const range = query.le === undefined ? {} : latencyRowRange(latencyRow(query.le));
      const traces = env?.sample.find({ fromMs, toMs, ...range, version: query.version, limit: query.limit ?? 50 }) ?? [];
      return { traces, kept: env?.sample.size ?? 0, dropped: env?.sample.dropped ?? 0, spansReceived: env?.spans ?? 0 };
    },
  });

  routes.add({
    method: 'GET',
    url: '/api/projects/:project/environments/:env/traces/:trace',
    summary: 'One kept trace: its summary and its spans as a waterfall (tree order, depth, offset from the start)',
    auth: 'admin',
    permission: 'read',
    params: envParams.extend({ trace: z.string().regex(/^[0-9a-f]{32}$/, 'a trace id is 32 lowercase hex digits') }),
    handler: async ({ params }) => {
      const project = await deps.requireProject(params.project);
      const found = deps.traces.environment({ projectId: project.id, environment: params.env })?.sample.get(params.trace);
      if (!found)
        throw new NotFoundError(
          `trace ${params.trace} is not kept for ${project.name}/${params.env} (the sample is bounded: see docs/traces.md)`,
        );
      return { summary: found.summary, waterfall: waterfall(params.trace, found.spans) };
    },
  });

  routes.add({
    method: 'GET',
    url: '/api/projects/:project/environments/:env/route-latency',
    summary: 'Latency by release and `http.route` (count, errors, p50/p95/p99) from every server span received since the server started',
    auth: 'admin',
    permission: 'read',
    params: envParams,
    handler: async ({ params }) => {
      const project = await deps.requireProject(params.project);
      return { rows: deps.traces.environment({ projectId: project.id, environment: params.env })?.routes.rows() ?? [] };
    },
  });
}

function isProtobuf(request: FastifyRequest): boolean {
  return (headerValue(request.headers['content-type']) ?? '').split(';')[0]?.trim() === 'application/x-protobuf';
}

function decode(request: FastifyRequest, protobuf: boolean): Span[] {
  const encoding = headerValue(request.headers['content-encoding']);
  if (encoding && encoding !== 'identity')
    throw new GantryError('OTLP_UNSUPPORTED', `content-encoding ${encoding} is not accepted: set OTEL_EXPORTER_OTLP_COMPRESSION=none`);
  if (protobuf) return decodeOtlpProtobuf(request.body as Buffer);
  const type = (headerValue(request.headers['content-type']) ?? '').split(';')[0]?.trim();
  if (type !== 'application/json')
    throw new GantryError(
      'OTLP_UNSUPPORTED',
      `content-type ${type || '(none)'} is not OTLP/HTTP: use application/x-protobuf or application/json`,
    );
  return decodeOtlpJson(request.body);
}
