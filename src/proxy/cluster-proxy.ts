/**
 * Gantry's proxy as a pod of a Kubernetes target (`gantry proxy --routes FILE`, the command the
 * rendered proxy Deployment runs): the same `TrafficProxy` as the embedded one, but its route table
 * comes from a file, the routes ConfigMap mounted into the pod, instead of the server's control
 * socket. The server changes traffic by applying the ConfigMap; the kubelet swaps the mounted file
 * (an atomic symlink swap, up to its sync period later) and this process, polling the file's text,
 * swaps its table atomically, so each request is routed by exactly one table and none fails.
 *
 * A file that is unreadable or invalid at start stops the process (the pod crash-loops, visibly);
 * later, a bad file is logged and the last good table kept (traffic never stops on a bad edit).
 *
 * The measurements the canary analysis reads are served on a separate metrics port, never through
 * the Service that carries user traffic: the routes of `measurement-api.ts` plus `GET /health` and
 * `GET /routes`. Each pod measures only the requests it carried; a reader sums over the pods.
 */
import { readFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import { createHttpServer } from '../platform/node-http.ts';
import { GantryError, InputError } from '../core/errors.ts';
import type { Logger } from '../platform/logger.ts';
import { parseFaultSet } from './chaos-faults.ts';
import { parseClusterRoutes } from './cluster-routes.ts';
import { answerMeasurement, send } from './measurement-api.ts';
import { ROLLUP_MS } from './request-metrics.ts';
import type { RouteTable } from './route-table.ts';
import { readBody } from './read-body.ts';
import { TrafficProxy } from './traffic-proxy.ts';

export interface ClusterProxyOptions {
  /** The mounted route file (`/etc/gantry/routes.json` in the rendered Deployment). */
  routesFile: string;
  /** Listen address of both ports; in a pod, all interfaces. */
  host: string;
  /** Traffic port; 0 picks a free one. */
  port: number;
  /** Measurement port; 0 picks a free one. */
  metricsPort: number;
  /** How often the route file is re-read; the kubelet updates it within its sync period (about a minute). */
  pollMs: number;
  log: Logger;
}

export interface ClusterProxy {
  port: number;
  metricsPort: number;
  /** Settles once the proxy has shut down. */
  done: Promise<void>;
  shutdown(): Promise<void>;
}

/** WARN and ERROR messages: static, data beside them. */
const LOG = {
  routesRejected: 'the route file changed but is unusable; keeping the last table',
  metricsFailed: 'metrics request failed',
} as const;

async function readRoutes(file: string): Promise<{ text: string; table: RouteTable }> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new InputError(`cannot read the route file ${file}: ${(error as Error).message}`);
  }
  return { text, table: parseClusterRoutes(text) };
}

/** A fault set is a few faults: anything past this is a mistake, not an experiment. */
const MAX_FAULT_BODY = 1 << 20;

/** Starts the proxy by the route file; resolves once both ports listen. */
export async function runClusterProxy(o: ClusterProxyOptions): Promise<ClusterProxy> {
  const initial = await readRoutes(o.routesFile);
  const proxy = new TrafficProxy({ environment: 'cluster', host: o.host, port: o.port });
  proxy.setRoutes(initial.table);
  let table = initial.table;
  let lastText = initial.text;
  const { port } = await proxy.listen();

  const metricsServer: Server = createHttpServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://proxy');
    const route = `${req.method} ${url.pathname}`;
    void (async () => {
      if (answerMeasurement(proxy.metrics, route, url.searchParams, res)) return;
      if (route === 'GET /health') return send(res, 200, { ok: true, upstreams: table.upstreams.length });
      if (route === 'GET /routes') return send(res, 200, table);
      if (route === 'PUT /faults') {
        const faults = parseFaultSet(JSON.parse(await readBody(req, MAX_FAULT_BODY)) as unknown);
        proxy.chaos.set(faults);
        o.log.info('chaos faults set', { experiment: faults.experimentId, deadlineAt: faults.deadlineAt, faults: faults.faults.length });
        res.writeHead(204).end();
        return;
      }
      if (route === 'DELETE /faults') {
        const report = proxy.chaos.clear(url.searchParams.get('experiment') ?? undefined);
        o.log.info('chaos faults cleared', { experiment: report?.experimentId, endedBy: report?.endedBy });
        return send(res, 200, report);
      }
      if (route === 'GET /faults') return send(res, 200, proxy.chaos.report());
      send(res, 404, { error: { code: 'NOT_FOUND', message: `no metrics route ${route}` } });
    })().catch((error: unknown) => {
      const e = error instanceof SyntaxError ? new InputError(`the body is not JSON: ${error.message}`) : error;
      const status = e instanceof GantryError ? e.httpStatus : 500;
      const code = e instanceof GantryError ? e.code : 'INTERNAL';
      if (status >= 500) o.log.error(LOG.metricsFailed, { url: req.url, err: e });
      if (!res.headersSent) send(res, status, { error: { code, message: (e as Error).message } });
    });
  });
  try {
    await new Promise<void>((resolve, reject) => {
      metricsServer.once('error', reject);
      metricsServer.listen(o.metricsPort, o.host, () => {
        metricsServer.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    await proxy.close();
    throw error;
  }
  const metricsPort = (metricsServer.address() as { port: number }).port;

  let polling = false;
  const poll = setInterval(() => {
    // One read at a time: a slow disk must not apply an older text after a newer one.
    if (polling) return;
    polling = true;
    void readFile(o.routesFile, 'utf8')
      .then((text) => {
        if (text === lastText) return;
        lastText = text;
        table = parseClusterRoutes(text);
        proxy.setRoutes(table);
        o.log.info('routes changed', { upstreams: table.upstreams.length, weights: table.weights });
      })
      .catch((error: unknown) => o.log.warn(LOG.routesRejected, { file: o.routesFile, err: error }))
      .finally(() => {
        polling = false;
      });
  }, o.pollMs);
  // Completed periods become roll-ups even while nobody reads them (the ring keeps five minutes).
  const collector = setInterval(() => proxy.metrics.collectRollups(), ROLLUP_MS);
  collector.unref();

  let resolveDone!: () => void;
  const done = new Promise<void>((r) => {
    resolveDone = r;
  });
  let stopping: Promise<void> | null = null;
  const shutdown = (): Promise<void> => {
    stopping ??= (async () => {
      clearInterval(poll);
      clearInterval(collector);
      await proxy.close();
      metricsServer.close();
      metricsServer.closeAllConnections();
      resolveDone();
    })();
    return stopping;
  };
  o.log.info('proxy ready', { port, metricsPort, upstreams: table.upstreams.length });
  return { port, metricsPort, done, shutdown };
}
