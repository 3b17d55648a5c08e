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

// biome-ignore lint/suspicious/noExplicitAny: the scripted API reads applied objects as free JSON
type Json = any;

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
    { name: 'secrets', kind: 'Secret' },
  ],
  '/apis/apps/v1': [{ name: 'deployments', kind: 'Deployment' }],
  '/apis/gateway.networking.k8s.io/v1': [{ name: 'httproutes', kind: 'HTTPRoute' }],
};

export interface ScriptedPod {
  name: string;
  release: string;
  ready: boolean;
  /** Default: the labels of a pod of release `release` of shop-production. */
  labels?: Record<string, string>;
}

function podLabels(pod: ScriptedPod): Record<string, string> {
  return (
    pod.labels ?? {
      'app.kubernetes.io/name': 'shop-production',
      'app.kubernetes.io/component': 'service',
      'gantry.dev/release': pod.release,
    }
  );
}

/** Equality-based label selectors (`a=b,c=d`), the only kind Gantry sends. */
function matches(pod: ScriptedPod, selector: string | null): boolean {
  if (!selector) return true;
  const labels = podLabels(pod);
  return selector.split(',').every((pair) => {
    const [key, value] = pair.split('=');
    return key !== undefined && labels[key] === value;
  });
}

function podObject(pod: ScriptedPod, resourceVersion: number): unknown {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: pod.name, namespace: 'shop', resourceVersion: String(resourceVersion), labels: podLabels(pod) },
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
  /**
   * When set, an applied Deployment gets its pods at once (ready or not, as this says), and a
   * deleted one loses them: the Deployment controller and kubelets, scripted.
   */
  podsOnApply: 'ready' | 'unready' | null = null;
  /** When set, requests are recorded and never answered: an API server that hangs. */
  silent = false;
  /** The objects applied last, by path (what the cluster holds). */
  readonly objects = new Map<string, Record<string, Json>>();
  #resourceVersion = 100;
  readonly #watchers = new Map<ServerResponse, string | null>();
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
    this.#tell(known ? 'MODIFIED' : 'ADDED', pod);
  }

  removePod(name: string): void {
    const pod = this.pods.find((p) => p.name === name);
    if (pod === undefined) return;
    this.pods = this.pods.filter((p) => p !== pod);
    this.#resourceVersion++;
    this.#tell('DELETED', pod);
  }

  #tell(type: string, pod: ScriptedPod): void {
    const line = `${JSON.stringify({ type, object: podObject(pod, this.#resourceVersion) })}\n`;
    for (const [watcher, selector] of this.#watchers) if (matches(pod, selector)) watcher.write(line);
  }

  /** A Deployment's pods follow its replicas, named `<deployment>-<i>`, labelled as its template. */
  #scalePods(deployment: Record<string, Json>): void {
    const name = String(deployment.metadata.name);
    const labels = deployment.spec.template.metadata.labels as Record<string, string>;
    const replicas = Number(deployment.spec.replicas);
    for (let i = 0; i < replicas; i++) {
      if (!this.pods.some((p) => p.name === `${name}-${i}`)) {
        this.setPod({ name: `${name}-${i}`, release: labels['gantry.dev/release'] ?? '', ready: this.podsOnApply === 'ready', labels });
      }
    }
    for (const pod of this.pods.filter((p) => p.name.startsWith(`${name}-`) && Number(p.name.slice(name.length + 1)) >= replicas))
      this.removePod(pod.name);
  }

  get openWatches(): number {
    return this.#watchers.size;
  }

  async close(): Promise<void> {
    for (const watcher of this.#watchers.keys()) watcher.end();
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
    if (this.silent) return;
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
        this.#watchers.set(res, url.searchParams.get('labelSelector'));
        res.on('close', () => this.#watchers.delete(res));
        return;
      }
      return send(200, {
        kind: 'PodList',
        apiVersion: 'v1',
        metadata: { resourceVersion: String(this.#resourceVersion) },
        items: this.pods.filter((p) => matches(p, url.searchParams.get('labelSelector'))).map((p) => podObject(p, this.#resourceVersion)),
      });
    }
    if (req.method === 'PATCH') {
      const answer = this.patchAnswers.shift();
      if (answer !== undefined) return send(answer.status, answer.body);
      const object = JSON.parse(recorded.body) as Record<string, Json>;
      this.objects.set(url.pathname, object);
      if (object.kind === 'Deployment' && this.podsOnApply !== null) this.#scalePods(object);
      return send(200, object);
    }
    if (req.method === 'DELETE') {
      const object = this.objects.get(url.pathname);
      if (object === undefined)
        return send(404, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404, message: 'not found' });
      this.objects.delete(url.pathname);
      if (object.kind === 'Deployment') this.#scalePods({ ...object, spec: { ...object.spec, replicas: 0 } });
      return send(200, { kind: 'Status', apiVersion: 'v1', status: 'Success' });
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
