/**
 * The cluster port over the Kubernetes API, through @kubernetes/client-node (loaded on first use:
 * it is large, and only environments with a kubernetes target need it). Credentials come from the
 * target's kubeconfig file, else $KUBECONFIG or ~/.kube/config, else the pod's service account
 * (client-node's `loadFromDefault` order); `context` picks one of the kubeconfig's contexts.
 */
import type { RequestOptions } from 'node:https';
import { httpRequest, httpsRequest } from '../../platform/node-http.ts';
import { GantryError } from '../../core/errors.ts';
import type { KubernetesObject } from '../../kubernetes/index.ts';
// names.ts alone: the package's index also loads the schemas' validators, which applying does not need.
import { FIELD_MANAGER, LABELS } from '../../kubernetes/names.ts';
import type { ApplyOutcome, KubernetesCluster, PodReadiness } from './ports.ts';

type ClientNode = typeof import('@kubernetes/client-node');
type KubeConfig = InstanceType<ClientNode['KubeConfig']>;
type RequestContext = Parameters<KubeConfig['applySecurityAuthentication']>[0];

export interface ClusterCredentials {
  /** A kubeconfig file; absent means client-node's default order. */
  kubeconfig?: string;
  context?: string;
}

export interface ClusterOptions {
  /** How long one API call (apply, list, delete) may take in all; default 30 s. */
  apiTimeoutMs?: number;
}

/** A measurement read through the API server must not hold an analysis tick up for long. */
const PROXY_GET_TIMEOUT_MS = 5000;
/**
 * client-node sets no timeout of its own (kubernetes-client/javascript#1613): an API server that
 * accepts a connection and never answers would hold a deploy, a rollback or a chaos experiment
 * forever. kubectl's --request-timeout is unbounded by default too; 30 s is far beyond any
 * healthy apply or list.
 */
const API_TIMEOUT_MS = 30_000;

/** A conflict's cause as the API server words it: `conflict with "kubectl-edit" using apps/v1`. */
const CONFLICT_MANAGER = /conflict with "([^"]+)"/;

interface Status {
  message?: string;
  details?: { causes?: { message?: string; field?: string }[] };
}

/** The reason a call's signal aborts with: the API server did not answer within the bound. */
class ApiTimeout extends Error {
  readonly timeoutMs: number;
  constructor(timeoutMs: number) {
    super(`no answer within ${timeoutMs} ms`);
    this.timeoutMs = timeoutMs;
  }
}

function apiError(what: string, error: unknown): GantryError {
  if (error instanceof ApiTimeout)
    return new GantryError(
      'KUBERNETES_API_ERROR',
      `${what}: the API server did not answer within ${error.timeoutMs / 1000} s (is it reachable and healthy?)`,
    );
  const status = (error as { code?: number; body?: unknown }).code;
  const body = (error as { body?: unknown }).body;
  const message = typeof body === 'string' ? (safeJson(body) as Status | undefined)?.message : (body as Status | undefined)?.message;
  return new GantryError(
    'KUBERNETES_API_ERROR',
    `${what}: ${message ?? (error as Error).message}${status === undefined ? '' : ` (HTTP ${status})`}`,
  );
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function conflictManagers(error: unknown): string[] {
  const raw = (error as { body?: unknown }).body;
  const status = (typeof raw === 'string' ? safeJson(raw) : raw) as Status | undefined;
  const managers = (status?.details?.causes ?? [])
    .map((cause) => CONFLICT_MANAGER.exec(cause.message ?? '')?.[1])
    .filter((m) => m !== undefined);
  return [...new Set(managers)];
}

interface PodLike {
  metadata?: { name?: string; labels?: Record<string, string>; deletionTimestamp?: unknown };
  status?: { conditions?: { type?: string; status?: string }[] };
}

function readiness(pod: PodLike): PodReadiness {
  const ready =
    pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true && pod.metadata?.deletionTimestamp == null;
  return { name: pod.metadata?.name ?? '', release: pod.metadata?.labels?.[LABELS.release] ?? '', ready };
}

export class ClientNodeCluster implements KubernetesCluster {
  readonly #credentials: ClusterCredentials;
  readonly #apiTimeoutMs: number;
  #loaded: Promise<{ k8s: ClientNode; config: KubeConfig }> | undefined;

  constructor(credentials: ClusterCredentials, options: ClusterOptions = {}) {
    this.#credentials = credentials;
    this.#apiTimeoutMs = options.apiTimeoutMs ?? API_TIMEOUT_MS;
  }

  #load(): Promise<{ k8s: ClientNode; config: KubeConfig }> {
    this.#loaded ??= (async () => {
      const k8s = await import('@kubernetes/client-node');
      const timeoutMs = this.#apiTimeoutMs;
      // Every generated client asks its KubeConfig to authenticate each request just before
      // sending it: the one place where every call (typed APIs and KubernetesObjectApi) can get
      // its deadline.
      class BoundedKubeConfig extends k8s.KubeConfig {
        override async applySecurityAuthentication(context: RequestContext): Promise<void> {
          await super.applySecurityAuthentication(context);
          // Not AbortSignal.timeout(): fetch rejects with the signal's reason, and
          // KubernetesObjectApi rewrites its errors' messages, which a DOMException does not allow.
          const controller = new AbortController();
          setTimeout(() => controller.abort(new ApiTimeout(timeoutMs)), timeoutMs).unref();
          context.setSignal(controller.signal);
        }
      }
      const config = new BoundedKubeConfig();
      try {
        if (this.#credentials.kubeconfig !== undefined) config.loadFromFile(this.#credentials.kubeconfig);
        else config.loadFromDefault();
      } catch (error) {
        throw new GantryError('KUBERNETES_CONFIG', `cannot read the kubeconfig: ${(error as Error).message}`);
      }
      const context = this.#credentials.context;
      if (context !== undefined) {
        if (config.getContextObject(context) === null) {
          const known = config.getContexts().map((c) => c.name);
          throw new GantryError('KUBERNETES_CONFIG', `no context '${context}' in the kubeconfig (it has: ${known.join(', ') || 'none'})`);
        }
        config.setCurrentContext(context);
      }
      if (config.getCurrentCluster() === null)
        throw new GantryError('KUBERNETES_CONFIG', 'the kubeconfig names no cluster for its current context');
      return { k8s, config };
    })();
    return this.#loaded;
  }

  async apply(objects: readonly KubernetesObject[]): Promise<ApplyOutcome[]> {
    const { k8s, config } = await this.#load();
    const api = k8s.KubernetesObjectApi.makeApiClient(config);
    const outcomes: ApplyOutcome[] = [];
    for (const object of objects) {
      const name = `${object.kind}/${object.metadata.name}`;
      const patch = (force: boolean) => api.patch(object, undefined, undefined, FIELD_MANAGER, force, k8s.PatchStrategy.ServerSideApply);
      try {
        await patch(false);
        outcomes.push({ object: name, forced: false, conflicts: [] });
      } catch (error) {
        if ((error as { code?: number }).code !== 409) throw apiError(`applying ${name}`, error);
        // Gantry owns what it renders: another manager's value (a hand edit) is taken over, and said.
        const conflicts = conflictManagers(error);
        try {
          await patch(true);
        } catch (forced) {
          throw apiError(`applying ${name} (forced)`, forced);
        }
        outcomes.push({ object: name, forced: true, conflicts });
      }
    }
    return outcomes;
  }

  async pods(namespace: string, labelSelector: string): Promise<PodReadiness[]> {
    const { k8s, config } = await this.#load();
    try {
      const list = await config.makeApiClient(k8s.CoreV1Api).listNamespacedPod({ namespace, labelSelector });
      return list.items.map((pod) => readiness(pod as PodLike));
    } catch (error) {
      throw apiError(`listing pods in ${namespace}`, error);
    }
  }

  async waitReady(namespace: string, labelSelector: string, count: number, timeoutMs: number): Promise<void> {
    const { k8s, config } = await this.#load();
    const core = config.makeApiClient(k8s.CoreV1Api);
    const deadline = Date.now() + timeoutMs;
    const readyCount = (pods: Map<string, boolean>) => [...pods.values()].filter(Boolean).length;
    while (Date.now() < deadline) {
      let list: Awaited<ReturnType<typeof core.listNamespacedPod>>;
      try {
        list = await core.listNamespacedPod({ namespace, labelSelector });
      } catch (error) {
        throw apiError(`listing pods in ${namespace}`, error);
      }
      const pods = new Map(list.items.map((pod) => [pod.metadata?.name ?? '', readiness(pod as PodLike).ready]));
      if (readyCount(pods) >= count) return;
      const outcome = await new Promise<'ready' | 'ended' | 'deadline'>((resolve, reject) => {
        let abort: AbortController | undefined;
        const timer = setTimeout(() => finish('deadline'), Math.max(0, deadline - Date.now()));
        const finish = (how: 'ready' | 'ended' | 'deadline') => {
          clearTimeout(timer);
          abort?.abort();
          resolve(how);
        };
        new k8s.Watch(config)
          .watch(
            `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods`,
            { labelSelector, resourceVersion: list.metadata?.resourceVersion, allowWatchBookmarks: true },
            (phase, pod: PodLike) => {
              const name = pod.metadata?.name ?? '';
              if (phase === 'DELETED') pods.delete(name);
              else if (phase === 'ADDED' || phase === 'MODIFIED') pods.set(name, readiness(pod).ready);
              if (readyCount(pods) >= count) finish('ready');
            },
            // The server ends watches now and then (and on 410 Gone): list again and go on.
            () => finish('ended'),
          )
          .then((controller) => {
            abort = controller;
          }, reject);
      });
      if (outcome === 'ready') return;
      if (outcome === 'deadline') break;
    }
    throw new GantryError(
      'KUBERNETES_NOT_READY',
      `fewer than ${count} ready pods of ${labelSelector} in ${namespace} after ${Math.round(timeoutMs / 1000)} s`,
    );
  }

  async delete(object: Pick<KubernetesObject, 'apiVersion' | 'kind' | 'metadata'>): Promise<void> {
    const { k8s, config } = await this.#load();
    try {
      await k8s.KubernetesObjectApi.makeApiClient(config).delete({
        apiVersion: object.apiVersion,
        kind: object.kind,
        metadata: { name: object.metadata.name, namespace: object.metadata.namespace },
      });
    } catch (error) {
      if ((error as { code?: number }).code === 404) return;
      throw apiError(`deleting ${object.kind}/${object.metadata.name}`, error);
    }
  }

  async deletePod(namespace: string, pod: string): Promise<void> {
    const { k8s, config } = await this.#load();
    try {
      await config.makeApiClient(k8s.CoreV1Api).deleteNamespacedPod({ name: pod, namespace, gracePeriodSeconds: 0 });
    } catch (error) {
      if ((error as { code?: number }).code === 404) return;
      throw apiError(`deleting pod ${pod}`, error);
    }
  }

  proxyGet(namespace: string, pod: string, port: number, path: string, method: 'GET' | 'POST' = 'GET'): Promise<unknown> {
    return this.proxyCall(namespace, pod, port, method, path);
  }

  async proxyCall(
    namespace: string,
    pod: string,
    port: number,
    method: 'GET' | 'POST' | 'PUT' | 'DELETE',
    path: string,
    body?: unknown,
  ): Promise<unknown> {
    const { config } = await this.#load();
    const server = config.getCurrentCluster()?.server ?? '';
    const url = new URL(
      `${server.replace(/\/+$/, '')}/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(pod)}:${port}/proxy/${path}`,
    );
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (payload !== undefined) headers['content-type'] = 'application/json';
    // client-node's generated pod-proxy call cannot carry a query string; its credentials can.
    const options: RequestOptions = { method, headers, timeout: PROXY_GET_TIMEOUT_MS };
    await config.applyToHTTPSOptions(options);
    const what = `${method === 'GET' ? 'reading' : method === 'PUT' ? 'setting' : 'deleting'} ${path.split('?')[0]} ${method === 'PUT' ? 'on' : 'from'} pod ${pod} in ${namespace}`;
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, options, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`no answer within ${PROXY_GET_TIMEOUT_MS} ms`)));
      req.on('error', (error) => reject(new GantryError('KUBERNETES_API_ERROR', `${what}: ${error.message}`)));
      req.end(payload);
    });
    if (answer.status < 200 || answer.status >= 300)
      throw apiError(what, Object.assign(new Error(answer.body.slice(0, 200)), { code: answer.status, body: answer.body }));
    // 204: nothing to parse.
    if (answer.body === '') return null;
    const parsed = safeJson(answer.body);
    if (parsed === undefined) throw new GantryError('KUBERNETES_API_ERROR', `${what}: the answer is not JSON`);
    return parsed;
  }
}
