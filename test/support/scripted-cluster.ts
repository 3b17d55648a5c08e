/**
 * The cluster the Kubernetes end-to-end tests with in-cluster proxies deploy to: the SCRIPTED
 * Kubernetes API (a fake: no API server runs here), the loopback front that forwards its pod proxy
 * (pod-proxy-front.ts), a kubeconfig the server reads, and the proxy Deployment's two pods as real
 * `gantry proxy --routes FILE` processes (cluster-proxy-pods.ts) following one route file. Each
 * test file brings its own backends and server and writes the route file (the kubelet's part).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ClusterProxyPod, startClusterProxyPod, stopClusterProxyPods } from './cluster-proxy-pods.ts';
import { PodProxyFront } from './pod-proxy-front.ts';
import { ScriptedKubernetesApi } from './scripted-kubernetes-api.ts';

export interface ScriptedCluster {
  api: ScriptedKubernetesApi;
  front: PodProxyFront;
  /** A temp dir for the kubeconfig, the route file and the pods' files; removed by `stop`. */
  dir: string;
  kubeconfig: string;
  /** The mounted route file both pods re-read. */
  routesFile: string;
  /** The pods `shop-production-proxy-0` and `-1`, in that order. */
  proxies: ClusterProxyPod[];
  /** Stops the pods by their PIDs, the front and the API, and removes `dir`. */
  stop(): Promise<void>;
}

/**
 * Starts the API (its pods Ready on apply), the front and two proxy pods serving release 1 from
 * `release1Upstream` until the test writes the route file (a proxy refuses to start without routes).
 */
export async function startScriptedCluster(o: { name: string; release1Upstream: string }): Promise<ScriptedCluster> {
  const api = await ScriptedKubernetesApi.start();
  api.podsOnApply = 'ready';
  const front = await PodProxyFront.start(api.url);
  const dir = mkdtempSync(join(tmpdir(), `gantry-${o.name}-`));
  const kubeconfig = api.writeKubeconfig(dir);
  front.redirectKubeconfig(kubeconfig, api.url);
  const routesFile = join(dir, 'routes.json');
  writeFileSync(routesFile, JSON.stringify({ routes: [{ version: '1', weight: 100, upstream: o.release1Upstream }], match: [] }));
  const proxies: ClusterProxyPod[] = [];
  const stop = async () => {
    await stopClusterProxyPods(proxies);
    await front.close();
    await api.close();
    rmSync(dir, { recursive: true, force: true });
  };
  const started = await Promise.allSettled([startClusterProxyPod(dir, routesFile), startClusterProxyPod(dir, routesFile)]);
  for (const s of started) if (s.status === 'fulfilled') proxies.push(s.value);
  const failed = started.find((s) => s.status === 'rejected');
  if (failed !== undefined) {
    await stop();
    throw failed.reason;
  }
  for (const [i, pod] of proxies.entries()) front.pods.set(`shop-production-proxy-${i}:9090`, pod.metricsPort);
  return { api, front, dir, kubeconfig, routesFile, proxies, stop };
}
