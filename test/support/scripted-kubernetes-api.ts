/**
 * A SCRIPTED Kubernetes API server for tests (no API server can run on this machine): a small
 * HTTP server on loopback that speaks the paths Gantry's cluster adapter uses — discovery,
 * server-side apply (PATCH), DELETE, pod list and watch — records every request, and answers as
 * Kubernetes does (Status bodies, 409 conflicts with their causes, watch events as JSON lines).
 * It is not a Kubernetes: it checks nothing it was not scripted to, which is why tests assert the
 * exact requests it received.
 */
import { writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  contentType: string | undefined;
  authorization: string | undefined;
  body: string;
}

export interface ScriptedAnswer {
  status: number;
  body: unknown;
}

/** Resources by group/version, as discovery lists them. */
const RESOURCES: Record<string, { name: string; kind: string }[]> = {
  '/api/v1': [
    { name: 'pods', kind: 'Pod' },
    { name: 'services', kind: 'Service' },
    { name: 'configmaps', kind: 'ConfigMap' },
  ],
  '/apis/apps/v1': [{ name: 'deployments', kind: 'Deployment' }],
  '/apis/gateway.networking.k8s.io/v1': [{ name: 'httproutes', kind: 'HTTPRoute' }],
};

export interface ScriptedPod {
  name: string;
  release: string;
  ready: boolean;
}

function podObject(pod: ScriptedPod, resourceVersion: number): unknown {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: pod.name,
      namespace: 'shop',
      resourceVersion: String(resourceVersion),
      labels: { 'gantry.dev/release': pod.release },
    },
    status: { phase: 'Running', conditions: [{ type: 'Ready', status: pod.ready ? 'True' : 'False' }] },
  };
}

/** A 409 as the API server answers a server-side apply that would take fields of another manager. */
export function applyConflict(manager: string, field: string): ScriptedAnswer {
  return {
    status: 409,
    body: {
      kind: 'Status',
      apiVersion: 'v1',
      status: 'Failure',
      message: `Apply failed with 1 conflict: conflict with "${manager}" using apps/v1: ${field}`,
      reason: 'Conflict',
      details: { causes: [{ type: 'FieldManagerConflict', message: `conflict with "${manager}" using apps/v1`, field }] },
      code: 409,
    },
  };
}

export class ScriptedKubernetesApi {
  readonly requests: RecordedRequest[] = [];
  /** Answers for PATCH requests, taken in order; when none is left, 200 with the applied object. */
  readonly patchAnswers: ScriptedAnswer[] = [];
  pods: ScriptedPod[] = [];
  #resourceVersion = 100;
  readonly #watchers = new Set<ServerResponse>();
  readonly #server: Server;

  private constructor(server: Server) {
    this.#server = server;
  }

  static async start(): Promise<ScriptedKubernetesApi> {
    const server = createServer();
    const api = new ScriptedKubernetesApi(server);
    server.on('request', (req, res) => void api.#handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return api;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  /** A kubeconfig in `dir` whose context `scripted` points at this server with a bearer token. */
  writeKubeconfig(dir: string, token = 'scripted-token'): string {
    const file = join(dir, 'kubeconfig');
    writeFileSync(
      file,
      [
        'apiVersion: v1',
        'kind: Config',
        // client-node takes plain http only with this flag; real clusters are https with their CA.
        `clusters: [{ name: scripted, cluster: { server: "${this.url}", insecure-skip-tls-verify: true } }]`,
        `users: [{ name: gantry, user: { token: ${token} } }]`,
        'contexts: [{ name: scripted, context: { cluster: scripted, user: gantry, namespace: shop } }, { name: other, context: { cluster: scripted, user: gantry } }]',
        'current-context: other',
        '',
      ].join('\n'),
    );
    return file;
  }

  /** Changes a pod (or adds it) and tells every open watch, as the kubelet's status updates do. */
  setPod(pod: ScriptedPod): void {
    const known = this.pods.some((p) => p.name === pod.name);
    this.pods = [...this.pods.filter((p) => p.name !== pod.name), pod];
    this.#resourceVersion++;
    const line = `${JSON.stringify({ type: known ? 'MODIFIED' : 'ADDED', object: podObject(pod, this.#resourceVersion) })}\n`;
    for (const watcher of this.#watchers) watcher.write(line);
  }

  get openWatches(): number {
    return this.#watchers.size;
  }

  async close(): Promise<void> {
    for (const watcher of this.#watchers) watcher.end();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const url = new URL(req.url ?? '/', this.url);
    const recorded: RecordedRequest = {
      method: req.method ?? '',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      contentType: req.headers['content-type'],
      authorization: req.headers.authorization,
      body: Buffer.concat(chunks).toString('utf8'),
    };
    this.requests.push(recorded);
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const discovery = RESOURCES[url.pathname];
    if (req.method === 'GET' && discovery !== undefined) {
      return send(200, {
        kind: 'APIResourceList',
        apiVersion: 'v1',
        groupVersion: url.pathname.replace(/^\/apis?\//, ''),
        resources: discovery.map((r) => ({
          name: r.name,
          singularName: '',
          namespaced: true,
          kind: r.kind,
          verbs: ['get', 'list', 'watch', 'patch', 'delete'],
        })),
      });
    }
    if (req.method === 'GET' && url.pathname === '/api/v1/namespaces/shop/pods') {
      if (url.searchParams.get('watch') === 'true') {
        res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
        res.flushHeaders();
        this.#watchers.add(res);
        res.on('close', () => this.#watchers.delete(res));
        return;
      }
      return send(200, {
        kind: 'PodList',
        apiVersion: 'v1',
        metadata: { resourceVersion: String(this.#resourceVersion) },
        items: this.pods.map((p) => podObject(p, this.#resourceVersion)),
      });
    }
    if (req.method === 'PATCH') {
      const answer = this.patchAnswers.shift();
      if (answer !== undefined) return send(answer.status, answer.body);
      return send(200, JSON.parse(recorded.body));
    }
    if (req.method === 'DELETE') {
      return send(404, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404, message: 'not found' });
    }
    send(404, {
      kind: 'Status',
      apiVersion: 'v1',
      status: 'Failure',
      reason: 'NotFound',
      code: 404,
      message: `the scripted API has no ${req.method} ${url.pathname}`,
    });
  }
}
