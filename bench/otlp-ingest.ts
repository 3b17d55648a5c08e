/**
 * What OTLP trace ingestion costs the server: spans per second and server CPU per span of
 * Gantry's receiver (`POST /v1/traces` as the server registers it: fastify, the token check,
 * decoding, latency by route and the bounded sample) against a node:http server that only reads
 * the body and answers `{}` — the floor of taking the same bytes over HTTP — in the same run,
 * with the same payloads: batches of 512 spans (the SDK's default batch) of traces of one server
 * span and three children, serialized by the OpenTelemetry SDK's own OTLP serializers, as
 * protobuf and as JSON. Each server is its own process; its CPU is read from /proc.
 *
 *   npm run bench:otlp     (SECONDS=3 REPS=3 CONCURRENCY=4)
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Agent, createServer, request } from 'node:http';
import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { JsonTraceSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { benchMain, NODE, progress, round, spread, tempDir, track } from './lib.ts';

const SECONDS = Number(process.env.SECONDS ?? 3);
const REPS = Number(process.env.REPS ?? 3);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 4);
const BATCH = 512;
const TICKS_PER_SECOND = 100;

type Target = 'gantry' | 'baseline';
type Encoding = 'protobuf' | 'json';

// ---------------------------------------------------------------- the server processes

async function serveGantry(dataDir: string): Promise<void> {
  const { createHttpApp, RouteTable } = await import('../src/server/http/index.ts');
  const { IngestTokens, registerTraceRoutes, TraceService } = await import('../src/server/traces/index.ts');
  const tokens = new IngestTokens(dataDir);
  const routes = new RouteTable();
  registerTraceRoutes(routes, {
    traces: new TraceService(),
    tokens,
    requireProject: async () => {
      throw new Error('not used');
    },
    publicUrl: () => '',
  });
  const app = createHttpApp({
    routes,
    authenticate: async () => undefined,
    authorize: async () => undefined,
    isClosing: () => false,
    onInternalError: () => undefined,
  });
  routes.register(app);
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  const token = await tokens.token({ projectId: 'P-bench', environment: 'production' });
  process.stdout.write(`${new URL(url).port} ${token}\n`);
}

function serveBaseline(): void {
  const server = createServer((req, res) => {
    req.on('data', () => undefined);
    req.on('end', () => {
      res.writeHead(200, { 'content-type': String(req.headers['content-type']) });
      res.end(req.headers['content-type'] === 'application/json' ? '{}' : '');
    });
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1', () => {
    const address = server.address();
    process.stdout.write(`${typeof address === 'object' && address ? address.port : 0} none\n`);
  });
}

// ---------------------------------------------------------------- payloads

/** Batches of 512 spans, as the SDK's exporters would send them: 128 traces of a server span and three children. */
function payloads(count: number): Record<Encoding, Uint8Array[]> {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'shop-api', 'service.version': 'R-bench' }),
    spanProcessors: [new SimpleSpanProcessor({ exporter })],
  });
  const tracer = provider.getTracer('bench');
  const out: Record<Encoding, Uint8Array[]> = { protobuf: [], json: [] };
  const routes = ['/items/:id', '/cart', '/checkout', '/search'];
  let t = Date.now() - 3_600_000;
  for (let b = 0; b < count; b++) {
    exporter.reset();
    for (let i = 0; i < BATCH / 4; i++) {
      t += 7;
      const route = routes[i % routes.length] as string;
      const root = tracer.startSpan(`GET ${route}`, {
        kind: SpanKind.SERVER,
        startTime: t,
        attributes: { 'http.request.method': 'GET', 'http.route': route, 'http.response.status_code': i % 50 === 0 ? 500 : 200 },
      });
      if (i % 50 === 0) root.setStatus({ code: SpanStatusCode.ERROR });
      const ctx = trace.setSpan(context.active(), root);
      for (const name of ['auth', 'db.query', 'render']) {
        const child = tracer.startSpan(name, { startTime: t + 1, attributes: { 'db.system': 'postgresql' } }, ctx);
        child.end(t + 2 + (i % 7));
      }
      root.end(t + 5 + (i % 40) * (i % 97 === 0 ? 30 : 1));
    }
    const spans = exporter.getFinishedSpans();
    out.protobuf.push(ProtobufTraceSerializer.serializeRequest(spans) as Uint8Array);
    out.json.push(JsonTraceSerializer.serializeRequest(spans) as Uint8Array);
  }
  return out;
}

// ---------------------------------------------------------------- measuring

function cpuTicks(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  // utime and stime are fields 14 and 15 of stat(5); here counted from the state (field 3).
  return Number(fields[11]) + Number(fields[12]);
}

async function startServer(target: Target, dataDir: string): Promise<{ child: ChildProcess; port: number; token: string }> {
  const child = spawn(NODE, [import.meta.filename, `serve-${target}`, dataDir], { stdio: ['ignore', 'pipe', 'inherit'] });
  track(child, false);
  const line = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('\n')) resolve(out.trim());
    });
    child.once('exit', (code) => reject(new Error(`${target} server exited with ${code}`)));
  });
  const [port, token] = line.split(' ');
  return { child, port: Number(port), token: token as string };
}

async function load(
  port: number,
  token: string,
  encoding: Encoding,
  bodies: Uint8Array[],
): Promise<{ spans: number; seconds: number; failures: number }> {
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const contentType = encoding === 'json' ? 'application/json' : 'application/x-protobuf';
  const post = (body: Uint8Array) =>
    new Promise<number>((resolve, reject) => {
      const req = request(
        {
          agent,
          host: '127.0.0.1',
          port,
          method: 'POST',
          path: '/v1/traces',
          headers: { 'content-type': contentType, 'content-length': body.length, authorization: `Bearer ${token}` },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  let spans = 0;
  let failures = 0;
  let n = 0;
  const start = performance.now();
  const until = start + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < until) {
        const status = await post(bodies[n++ % bodies.length] as Uint8Array);
        if (status === 200) spans += BATCH;
        else failures++;
      }
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  agent.destroy();
  return { spans, seconds, failures };
}

async function main(): Promise<Record<string, unknown>> {
  progress('serializing payloads with the OpenTelemetry SDK');
  const bodies = payloads(16);
  const dataDir = await tempDir('otlp');
  const results: Record<string, { spansPerS: number[]; cpuUsPerSpan: number[] }> = {};
  const servers = {
    baseline: await startServer('baseline', dataDir),
    gantry: await startServer('gantry', dataDir),
  };
  for (let rep = 0; rep < REPS; rep++) {
    for (const encoding of ['protobuf', 'json'] as const) {
      // Interleaved, so both see the same neighbours on a shared machine.
      for (const target of rep % 2 === 0 ? (['baseline', 'gantry'] as const) : (['gantry', 'baseline'] as const)) {
        const server = servers[target];
        const pid = server.child.pid as number;
        const before = cpuTicks(pid);
        const run = await load(server.port, server.token, encoding, bodies[encoding]);
        const cpuSeconds = (cpuTicks(pid) - before) / TICKS_PER_SECOND;
        if (run.failures > 0) throw new Error(`${target} ${encoding}: ${run.failures} requests failed`);
        const key = `${target}_${encoding}`;
        results[key] ??= { spansPerS: [], cpuUsPerSpan: [] };
        results[key].spansPerS.push(run.spans / run.seconds);
        results[key].cpuUsPerSpan.push((cpuSeconds * 1e6) / run.spans);
        progress(`${key}: ${Math.round(run.spans / run.seconds)} spans/s, ${round((cpuSeconds * 1e6) / run.spans)} µs CPU/span`);
      }
    }
  }
  const median = (values: number[]) => spread(values).median;
  const figure = (key: string) => ({
    spans_per_s: spread((results[key] as { spansPerS: number[] }).spansPerS, 0),
    cpu_us_per_span: spread((results[key] as { cpuUsPerSpan: number[] }).cpuUsPerSpan),
  });
  const ratio = (encoding: Encoding, field: 'spansPerS' | 'cpuUsPerSpan') =>
    round(
      median((results[`gantry_${encoding}`] as Record<string, number[]>)[field] as number[]) /
        median((results[`baseline_${encoding}`] as Record<string, number[]>)[field] as number[]),
    );
  return {
    batch_spans: BATCH,
    concurrency: CONCURRENCY,
    seconds_per_measurement: SECONDS,
    reps: REPS,
    payload_bytes_per_span: {
      protobuf: round((bodies.protobuf[0] as Uint8Array).length / BATCH),
      json: round((bodies.json[0] as Uint8Array).length / BATCH),
    },
    gantry: { protobuf: figure('gantry_protobuf'), json: figure('gantry_json') },
    baseline_read_body_only: { protobuf: figure('baseline_protobuf'), json: figure('baseline_json') },
    ratio_throughput_gantry_to_baseline: { protobuf: ratio('protobuf', 'spansPerS'), json: ratio('json', 'spansPerS') },
    ratio_cpu_per_span_gantry_to_baseline: { protobuf: ratio('protobuf', 'cpuUsPerSpan'), json: ratio('json', 'cpuUsPerSpan') },
  };
}

const role = process.argv[2];
if (role === 'serve-gantry') await serveGantry(process.argv[3] as string);
else if (role === 'serve-baseline') serveBaseline();
else await benchMain('otlp-ingest', 120_000, main);
