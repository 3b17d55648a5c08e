/**
 * One environment's desired state in a Kubernetes namespace, as the objects Gantry applies: a
 * Deployment and a Service per running release, a stable Service, and the traffic split (Gantry's
 * proxy as a Deployment with its route table in a ConfigMap, or a Gateway API HTTPRoute's weights).
 * Pure: gantry.yaml's normalised config and the versions with their weights in, plain objects out,
 * in the order they are applied (a version's pods before the traffic that reaches them).
 */
import type { EnvironmentConfig, HealthCheckConfig, KubernetesTargetConfig, MatchRule, ServiceConfig } from '../core/delivery-config.ts';
import { InputError } from '../core/errors.ts';
import { FIELD_MANAGER, type KubernetesNames, kubernetesNames, LABELS } from './names.ts';

/** What Gantry applies: JSON with the fields every object has. */
export interface KubernetesObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string; labels: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}

/** A release as the cluster sees it. */
export interface KubernetesRelease {
  number: number;
  sha: string;
}

/** One release running in the environment, its share of traffic (0–100) and its pod count. */
export interface VersionPlacement {
  release: KubernetesRelease;
  weight: number;
  replicas: number;
}

export interface RenderInput {
  project: string;
  environment: string;
  service: ServiceConfig;
  envConfig: EnvironmentConfig;
  /** The stable version first, then the canary (if any); weights add up to 100. */
  versions: readonly VersionPlacement[];
  /** Canary match rules (A/B): requests that match go to the last version whatever the weights. */
  match?: readonly MatchRule[];
  /**
   * The environment's secrets by their Gantry name (the keys the pods' `secretKeyRef`s name), when
   * the Secret is to be applied too. Absent for `gantry k8s render`, which never prints values.
   */
  secretValues?: Readonly<Record<string, string>>;
}

/** The port every Service of Gantry's exposes (the container port differs per service). */
export const SERVICE_PORT = 80;
/** The in-cluster proxy's listener, and its pod count (two, so one can restart without an outage). */
export const PROXY_PORT = 8080;
/** Where the proxy serves the measurements the canary analysis reads; not behind any Service. */
export const PROXY_METRICS_PORT = 9090;
export const PROXY_REPLICAS = 2;
/** Where the proxy's pod finds its route table (the ConfigMap, mounted). */
export const ROUTES_MOUNT = '/etc/gantry';

/** The environment's Kubernetes target; InputError when it deploys to the embedded runtime. */
export function kubernetesTargetOf(envConfig: EnvironmentConfig): KubernetesTargetConfig {
  const target = envConfig.target?.kubernetes;
  if (target === undefined)
    throw new InputError(`environment '${envConfig.name}' has no kubernetes target (target: { kubernetes: … } in gantry.yaml)`);
  return target;
}

/** Every object of the environment's desired state, in apply order. */
export function renderManifests(input: RenderInput): KubernetesObject[] {
  const target = kubernetesTargetOf(input.envConfig);
  if (input.versions.length === 0) throw new InputError('nothing to render: no release runs in the environment');
  const total = input.versions.reduce((sum, v) => sum + v.weight, 0);
  if (Math.abs(total - 100) > 1e-9) throw new InputError(`version weights add up to ${total}, not 100`);
  const names = kubernetesNames(input.project, input.environment);
  const ctx: Context = { input, target, names };
  const objects: KubernetesObject[] = [];
  // Before the pods that read it: a pod whose secretKeyRef names no Secret does not start.
  if (input.secretValues !== undefined && Object.keys(input.envConfig.secrets).length > 0)
    objects.push(secretObject(ctx, input.secretValues));
  for (const version of input.versions) objects.push(versionDeployment(ctx, version), versionService(ctx, version.release));
  objects.push(stableService(ctx));
  if (target.traffic === 'gateway') objects.push(httpRoute(ctx));
  else objects.push(routesConfigMap(ctx), proxyDeployment(ctx));
  return objects;
}

interface Context {
  input: RenderInput;
  target: KubernetesTargetConfig;
  names: KubernetesNames;
}

function baseLabels(ctx: Context, component: 'service' | 'proxy'): Record<string, string> {
  return {
    [LABELS.name]: ctx.names.app,
    [LABELS.component]: component,
    [LABELS.partOf]: ctx.names.app,
    [LABELS.managedBy]: FIELD_MANAGER,
    [LABELS.environment]: ctx.input.environment,
  };
}

function metadata(ctx: Context, name: string, labels: Record<string, string>): KubernetesObject['metadata'] {
  return { name, namespace: ctx.target.namespace, labels };
}

/** The Secret the pods' secretKeyRefs name: one key per Gantry secret the environment uses. */
function secretObject(ctx: Context, values: Readonly<Record<string, string>>): KubernetesObject {
  const data: Record<string, string> = {};
  for (const secret of Object.values(ctx.input.envConfig.secrets)) {
    const value = values[secret];
    if (value === undefined) throw new InputError(`secret ${secret} has no value for the environment's Secret`);
    data[secret] = Buffer.from(value, 'utf8').toString('base64');
  }
  return { apiVersion: 'v1', kind: 'Secret', metadata: metadata(ctx, ctx.names.secrets, baseLabels(ctx, 'service')), type: 'Opaque', data };
}

/** The pods of one release: what `selector` matches and the pod template carries. */
function versionSelector(ctx: Context, release: KubernetesRelease): Record<string, string> {
  return { [LABELS.name]: ctx.names.app, [LABELS.component]: 'service', [LABELS.release]: String(release.number) };
}

/** The image with `{release}` and `{commit}` filled in. */
export function imageOf(template: string, release: KubernetesRelease): string {
  return template.replaceAll('{release}', String(release.number)).replaceAll('{commit}', release.sha);
}

const seconds = (ms: number, min: number): number => Math.max(min, Math.ceil(ms / 1000));

/** A Gantry health check as a Kubernetes probe: HTTP GET, a command, or a TCP connect, as the runtime does. */
function probe(check: HealthCheckConfig, port: number, liveness: boolean): Record<string, unknown> {
  const action =
    check.path !== undefined
      ? { httpGet: { path: check.path, port } }
      : check.command !== undefined
        ? { exec: { command: ['/bin/sh', '-c', check.command] } }
        : { tcpSocket: { port } };
  return {
    ...action,
    periodSeconds: seconds(check.intervalMs, 1),
    timeoutSeconds: seconds(check.timeoutMs, 1),
    // Kubernetes refuses a liveness probe whose successThreshold is not 1.
    successThreshold: liveness ? 1 : check.successThreshold,
    failureThreshold: check.failureThreshold,
    initialDelaySeconds: Math.floor(check.initialDelayMs / 1000),
  };
}

const shellQuote = (text: string): string => `'${text.replaceAll("'", "'\\''")}'`;

/**
 * `service.run` as the container's shell command. `working-directory` is relative to the release's
 * artifacts, which in an image are its working directory (WORKDIR), so the shell changes into it
 * first; Kubernetes' `workingDir` would need the image's absolute path, which Gantry cannot know.
 */
function runCommand(service: ServiceConfig): string {
  return service.workingDirectory === undefined ? service.run : `cd ${shellQuote(service.workingDirectory)} && ${service.run}`;
}

/**
 * Kubernetes stops a container with SIGTERM, then SIGKILL at the grace period's end. A service
 * whose `stop.signal` is another one (nginx's SIGQUIT, say) gets it from a preStop hook, which then
 * waits for the process to end, since the kubelet sends SIGTERM as soon as the hook returns. PID 1
 * is `run` when the shell execs a single command; a process in a PID namespace only receives a
 * signal from inside it that it handles, which a service naming its stop signal does. SIGTERM
 * needs no hook, and SIGKILL is what the end of the grace period does anyway.
 */
function stopSignalHook(signal: ServiceConfig['stop']['signal']): Record<string, unknown> | undefined {
  if (signal === 'SIGTERM' || signal === 'SIGKILL') return undefined;
  const name = signal.slice(3);
  return { exec: { command: ['/bin/sh', '-c', `kill -s ${name} 1; while kill -0 1 2>/dev/null; do sleep 1; done`] } };
}

function containerEnv(ctx: Context, release: KubernetesRelease): Record<string, unknown>[] {
  const { service, envConfig, environment } = ctx.input;
  const plain: Record<string, string> = {
    ...service.env,
    ...envConfig.env,
    PORT: String(ctx.target.containerPort),
    GANTRY_ENVIRONMENT: environment,
    GANTRY_RELEASE: String(release.number),
  };
  const fromSecrets = Object.entries(envConfig.secrets).map(([name, secret]) => ({
    name,
    valueFrom: { secretKeyRef: { name: ctx.names.secrets, key: secret } },
  }));
  return [...Object.entries(plain).map(([name, value]) => ({ name, value })), ...fromSecrets];
}

function versionDeployment(ctx: Context, version: VersionPlacement): KubernetesObject {
  const { service } = ctx.input;
  const selector = versionSelector(ctx, version.release);
  const labels = { ...baseLabels(ctx, 'service'), [LABELS.release]: String(version.release.number) };
  const port = ctx.target.containerPort;
  const container: Record<string, unknown> = {
    name: 'service',
    image: imageOf(ctx.target.image, version.release),
    command: ['/bin/sh', '-c', runCommand(service)],
    env: containerEnv(ctx, version.release),
    ports: [{ name: 'http', containerPort: port, protocol: 'TCP' }],
    readinessProbe: probe(service.health.readiness, port, false),
  };
  if (service.health.liveness !== undefined) container.livenessProbe = probe(service.health.liveness, port, true);
  const preStop = stopSignalHook(service.stop.signal);
  if (preStop !== undefined) container.lifecycle = { preStop };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      ...metadata(ctx, ctx.names.version(version.release.number), labels),
      annotations: { 'gantry.dev/commit': version.release.sha },
    },
    spec: deploymentSpec(version.replicas, selector, labels, {
      // The runtime's drain timeout: how long a stopping pod may finish its requests.
      terminationGracePeriodSeconds: seconds(service.stop.drainTimeoutMs, 1),
      containers: [container],
    }),
  };
}

/** A Deployment's spec: a pod added before one is removed, so capacity never drops while it changes. */
function deploymentSpec(
  replicas: number,
  selector: Record<string, string>,
  labels: Record<string, string>,
  podSpec: Record<string, unknown>,
): Record<string, unknown> {
  return {
    replicas,
    revisionHistoryLimit: 2,
    selector: { matchLabels: selector },
    strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
    template: { metadata: { labels }, spec: podSpec },
  };
}

function versionService(ctx: Context, release: KubernetesRelease): KubernetesObject {
  const labels = { ...baseLabels(ctx, 'service'), [LABELS.release]: String(release.number) };
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: metadata(ctx, ctx.names.version(release.number), labels),
    spec: {
      type: 'ClusterIP',
      selector: versionSelector(ctx, release),
      ports: [{ name: 'http', port: SERVICE_PORT, targetPort: 'http', protocol: 'TCP' }],
    },
  };
}

/**
 * What callers address. Behind the proxy it selects the proxy's pods, which split the traffic;
 * with a gateway it selects the stable release's pods (in-cluster callers bypass the gateway's
 * weights, so they get the stable version, never an unproven canary).
 */
function stableService(ctx: Context): KubernetesObject {
  const [stable] = ctx.input.versions;
  const viaProxy = ctx.target.traffic === 'proxy';
  const selector = viaProxy
    ? { [LABELS.name]: ctx.names.app, [LABELS.component]: 'proxy' }
    : versionSelector(ctx, (stable as VersionPlacement).release);
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: metadata(ctx, ctx.names.app, baseLabels(ctx, viaProxy ? 'proxy' : 'service')),
    spec: {
      type: 'ClusterIP',
      selector,
      ports: [{ name: 'http', port: SERVICE_PORT, targetPort: viaProxy ? PROXY_PORT : 'http', protocol: 'TCP' }],
    },
  };
}

/** The in-cluster proxy's route table: each version's Service and weight, and the canary's match rules. */
export function routeTable(ctx: { input: RenderInput; target: KubernetesTargetConfig; names: KubernetesNames }): unknown {
  return {
    routes: ctx.input.versions.map((v) => ({
      version: String(v.release.number),
      weight: v.weight,
      upstream: `http://${ctx.names.version(v.release.number)}.${ctx.target.namespace}.svc:${SERVICE_PORT}`,
    })),
    match: ctx.input.match ?? [],
  };
}

function routesConfigMap(ctx: Context): KubernetesObject {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: metadata(ctx, ctx.names.routes, baseLabels(ctx, 'proxy')),
    data: { 'routes.json': `${JSON.stringify(routeTable(ctx), null, 2)}\n` },
  };
}

function proxyDeployment(ctx: Context): KubernetesObject {
  const labels = baseLabels(ctx, 'proxy');
  const selector = { [LABELS.name]: ctx.names.app, [LABELS.component]: 'proxy' };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: metadata(ctx, ctx.names.proxy, labels),
    spec: deploymentSpec(PROXY_REPLICAS, selector, labels, {
      containers: [
        {
          name: 'proxy',
          image: ctx.target.proxyImage,
          // `gantry proxy` (src/cli/commands/k8s.ts): routes by the mounted file, re-read when the kubelet swaps it.
          args: [
            'proxy',
            '--routes',
            `${ROUTES_MOUNT}/routes.json`,
            '--port',
            String(PROXY_PORT),
            '--metrics-port',
            String(PROXY_METRICS_PORT),
          ],
          ports: [
            { name: 'http', containerPort: PROXY_PORT, protocol: 'TCP' },
            { name: 'metrics', containerPort: PROXY_METRICS_PORT, protocol: 'TCP' },
          ],
          readinessProbe: { tcpSocket: { port: PROXY_PORT }, periodSeconds: 2, failureThreshold: 3 },
          volumeMounts: [{ name: 'routes', mountPath: ROUTES_MOUNT, readOnly: true }],
        },
      ],
      volumes: [{ name: 'routes', configMap: { name: ctx.names.routes } }],
    }),
  };
}

/** A Gantry match rule as a Gateway API header match (a cookie is matched inside the Cookie header). */
function headerMatch(rule: MatchRule): Record<string, string> {
  if ('header' in rule) {
    if (rule.value !== undefined) return { type: 'Exact', name: rule.header, value: rule.value };
    return { type: 'RegularExpression', name: rule.header, value: rule.regex ?? '.*' };
  }
  const value = rule.value !== undefined ? rule.value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&') : (rule.regex ?? '[^;]*');
  return { type: 'RegularExpression', name: 'Cookie', value: `(^|;\\s*)${rule.cookie}=${value}(;|$)` };
}

function httpRoute(ctx: Context): KubernetesObject {
  const gateway = ctx.target.gateway;
  if (gateway === undefined) throw new InputError('gateway traffic needs a gateway (target.kubernetes.gateway)');
  const backend = (v: VersionPlacement, weight: number) => ({ name: ctx.names.version(v.release.number), port: SERVICE_PORT, weight });
  const canary = ctx.input.versions.length > 1 ? ctx.input.versions.at(-1) : undefined;
  const rules: Record<string, unknown>[] = [];
  // Matching requests (A/B, testers) reach the canary whatever the weights: a rule with matches wins over the catch-all.
  if (canary !== undefined) {
    for (const rule of ctx.input.match ?? [])
      rules.push({ matches: [{ headers: [headerMatch(rule)] }], backendRefs: [backend(canary, 1)] });
  }
  rules.push({ backendRefs: ctx.input.versions.map((v) => backend(v, Math.round(v.weight * 10))) });
  const parentRef: Record<string, string> = { name: gateway.name };
  if (gateway.namespace !== undefined) parentRef.namespace = gateway.namespace;
  const spec: Record<string, unknown> = { parentRefs: [parentRef], rules };
  if (gateway.hostnames.length > 0) spec.hostnames = gateway.hostnames;
  return {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    metadata: metadata(ctx, ctx.names.app, baseLabels(ctx, 'service')),
    spec,
  };
}
