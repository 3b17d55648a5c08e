/**
 * `gantry proxy --routes FILE`, the in-cluster proxy, as a real process on loopback: two real HTTP
 * servers stand in for two releases' Services, the route file stands in for the mounted ConfigMap
 * (replaced by rename, as the kubelet swaps its symlink), and the process is started with the very
 * arguments the rendered proxy Deployment gives it.
 */
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type KubernetesObject, renderManifests } from '../../src/kubernetes/index.ts';
import { parseConfig } from '../../src/pipeline/load-config.ts';
import { type ClusterRoutesFile, parseClusterRoutes } from '../../src/proxy/index.ts';
import { runCli, startCli, type RunningCli } from '../support/cli.ts';
import { waitFor } from '../support/wait.ts';
import { backend, call, type Backend } from './helpers.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const config = parseConfig(
  `
pipeline:
  jobs: { build: { steps: [make] } }
service:
  run: node server.js
environments:
  production:
    strategy:
      canary:
        steps: [{ weight: 20, pause: 1m }]
        match: [{ header: x-canary, value: "yes" }]
    target:
      kubernetes: { namespace: shop, image: "registry.test/shop:{release}" }
`,
  'gantry.yaml',
);

function renderProduction(): KubernetesObject[] {
  const envConfig = config.environments?.production;
  if (!envConfig || envConfig.strategy.kind !== 'canary') throw new Error('fixture: production is a canary environment');
  return renderManifests({
    project: 'shop',
    environment: 'production',
    service: config.service!,
    envConfig,
    versions: [
      { release: { number: 7, sha: 'a'.repeat(40) }, weight: 80, replicas: 2 },
      { release: { number: 8, sha: 'b'.repeat(40) }, weight: 20, replicas: 1 },
    ],
    match: envConfig.strategy.match,
  });
}

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'gantry-cluster-proxy-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Replaces the file in one step, as the kubelet does when a ConfigMap volume changes. */
function writeRoutes(file: string, routes: ClusterRoutesFile | string): void {
  writeFileSync(`${file}.next`, typeof routes === 'string' ? routes : JSON.stringify(routes));
  renameSync(`${file}.next`, file);
}

function routesOf(b7: Backend, b8: Backend, w7: number, w8: number): ClusterRoutesFile {
  return {
    routes: [
      { version: '7', weight: w7, upstream: `http://127.0.0.1:${b7.port}` },
      { version: '8', weight: w8, upstream: `http://127.0.0.1:${b8.port}` },
    ],
    match: [],
  };
}

/** The rendered Deployment's arguments, with the file and ports of this machine. */
function proxyArgs(routesFile: string): string[] {
  const deployment = renderProduction().find(
    (o) => o.kind === 'Deployment' && o.metadata.labels['app.kubernetes.io/component'] === 'proxy',
  );
  // biome-ignore lint/suspicious/noExplicitAny: the test walks the manifest as free JSON
  const args = [...((deployment as any).spec.template.spec.containers[0].args as string[])];
  const replace = (flag: string, value: string) => {
    const at = args.indexOf(flag);
    expect(at, `the rendered proxy Deployment passes ${flag}`).toBeGreaterThan(0);
    args[at + 1] = value;
  };
  replace('--routes', routesFile);
  replace('--port', '0');
  replace('--metrics-port', '0');
  return [...args, '--host', '127.0.0.1', '--poll-ms', '50'];
}

interface Ready {
  port: number;
  metricsPort: number;
}

async function startProxy(routesFile: string): Promise<{ cli: RunningCli; ready: Ready }> {
  const cli = startCli(tempDir(), proxyArgs(routesFile), { timeoutMs: 60_000 });
  cleanups.push(async () => {
    if (cli.child.exitCode === null && cli.child.pid !== undefined) process.kill(cli.child.pid, 'SIGKILL');
    await cli.result.catch(() => undefined);
  });
  const ready = await waitFor(
    () => {
      for (const line of cli.stdout().split('\n')) {
        if (!line.includes('"proxy ready"')) continue;
        const entry = JSON.parse(line) as Ready;
        return { port: entry.port, metricsPort: entry.metricsPort };
      }
      if (cli.child.exitCode !== null) throw new Error(`gantry proxy exited: ${cli.stderr()}`);
      return undefined;
    },
    { what: 'gantry proxy to be ready' },
  );
  return { cli, ready };
}

async function split(port: number, agent: Agent, requests: number): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (let i = 0; i < requests; i++) {
    const reply = await call(port, { agent, path: '/orders' });
    expect(reply.status).toBe(200);
    counts[reply.body] = (counts[reply.body] ?? 0) + 1;
  }
  return counts;
}

describe('the in-cluster proxy reads the route file the manifests render', () => {
  it('parses the rendered routes ConfigMap into the proxy route table (Service DNS names, weights, match rules)', () => {
    const configMap = renderProduction().find((o) => o.kind === 'ConfigMap');
    const data = configMap?.data as Record<string, string>;
    const table = parseClusterRoutes(data['routes.json'] as string);
    expect(table).toEqual({
      upstreams: [
        { id: 'version-7', host: 'shop-production-r7.shop.svc', port: 80, pool: 'stable', version: '7' },
        { id: 'version-8', host: 'shop-production-r8.shop.svc', port: 80, pool: 'canary', version: '8' },
      ],
      weights: { stable: 80, canary: 20 },
      match: [{ header: 'x-canary', value: 'yes' }],
    });
  });

  it('refuses a route file it cannot route by, naming the problem', () => {
    expect(() => parseClusterRoutes('{')).toThrow(/not JSON/);
    expect(() => parseClusterRoutes('{"routes":[]}')).toThrow(/routes is empty/);
    expect(() => parseClusterRoutes('{"routes":[{"version":"7","weight":100,"upstream":"ftp://x"}]}')).toThrow(/http:\/\/ URL/);
    expect(() => parseClusterRoutes('{"routes":[{"version":"7","weight":90,"upstream":"http://x"}]}')).toThrow(/sum to 100/);
  });
});

describe('gantry proxy --routes FILE (a real process, two real upstreams)', () => {
  it('splits by the file, follows a changed file without a failed request, keeps the last table on a bad file, and serves the measurements', async () => {
    const [b7, b8] = await Promise.all([backend('7'), backend('8')]);
    cleanups.push(
      () => b7.close(),
      () => b8.close(),
    );
    const routesFile = join(tempDir(), 'routes.json');
    writeRoutes(routesFile, routesOf(b7, b8, 80, 20));
    const since = Date.now();
    const { cli, ready } = await startProxy(routesFile);
    const agent = new Agent({ keepAlive: true, maxSockets: 8 });
    cleanups.push(() => agent.destroy());

    // Smooth weighted round robin: exactly 80 of every 100 requests to the stable release.
    expect(await split(ready.port, agent, 100)).toEqual({ '7': 80, '8': 20 });

    // Traffic keeps flowing from four clients while the file changes to the canary at full weight.
    const failures: string[] = [];
    let flowing = true;
    let served = 0;
    const load = Array.from({ length: 4 }, async () => {
      while (flowing) {
        const reply = await call(ready.port, { agent, path: '/orders' }).catch((e: Error) => ({ status: 0, body: e.message }));
        if (reply.status !== 200) failures.push(`${reply.status} ${reply.body}`);
        served++;
      }
    });
    await waitFor(() => served > 20, { what: 'traffic to flow' });
    writeRoutes(routesFile, { routes: [{ version: '8', weight: 100, upstream: `http://127.0.0.1:${b8.port}` }], match: [] });
    await waitFor(async () => (await split(ready.port, agent, 10))['8'] === 10, { what: 'the promoted release to take all traffic' });
    const servedAtChange = served;
    await waitFor(() => served > servedAtChange + 20, { what: 'traffic to flow after the change' });
    flowing = false;
    await Promise.all(load);
    expect(failures).toEqual([]);
    expect(await split(ready.port, agent, 20)).toEqual({ '8': 20 });

    // A bad file is logged and changes nothing.
    writeRoutes(routesFile, '{"routes": [');
    await waitFor(() => cli.stdout().includes('the route file changed but is unusable'), { what: 'the bad file to be reported' });
    expect(await split(ready.port, agent, 10)).toEqual({ '8': 10 });

    // The measurements the canary analysis reads, per version, on the metrics port.
    const metricsUrl = `http://127.0.0.1:${ready.metricsPort}`;
    // The window counts one-second slots that start at or after `since`: from the start of the
    // second the test began (a fast run fits in that second, which `since` itself would leave out).
    const fromSecond = since - (since % 1000);
    const window8 = (await (await fetch(`${metricsUrl}/window?since=${fromSecond}&until=${Date.now() + 1000}&version=8`)).json()) as {
      requests: number;
      errors: number;
    };
    expect(window8.requests).toBeGreaterThanOrEqual(20 + 20 + 10 + 10);
    expect(window8.errors).toBe(0);
    const routes = (await (await fetch(`${metricsUrl}/routes`)).json()) as { weights: unknown };
    expect(routes.weights).toEqual({ stable: 100, canary: 0 });
    const prometheus = await (await fetch(`${metricsUrl}/metrics`)).text();
    expect(prometheus).toMatch(/version="7"/);
    expect(prometheus).toMatch(/version="8"/);

    // SIGTERM: graceful stop, exit 0.
    process.kill(cli.child.pid as number, 'SIGTERM');
    expect((await cli.result).code).toBe(0);
  });

  it('will not start on a route file it cannot read, with one readable line', async () => {
    const result = await runCli(tempDir(), ['proxy', '--routes', join(tempDir(), 'missing.json'), '--port', '0', '--metrics-port', '0']);
    expect(result.code).not.toBe(0);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/cannot read the route file .*missing\.json/);
  });
});
