/**
 * A real Prometheus (Debian's `prometheus` package, 2.x) as a process: loopback only, a temp config
 * and TSDB that are removed on stop, scraping the targets the caller serves itself. No vitest
 * here, so benchmarks start it too; tests go through `prometheus.ts`, which skips without it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { freePort } from '../../src/platform/ports.ts';

export const PROMETHEUS_BINARY = process.env.GANTRY_TEST_PROMETHEUS ?? 'prometheus';
const POLL_MS = 50;

export interface TestPrometheus {
  /** e.g. http://127.0.0.1:40123 */
  url: string;
  pid: number;
  /** SIGTERM, SIGKILL after 5 s, then removes the temp dir. Safe to call twice. */
  stop(): Promise<void>;
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const killed = await Promise.race([exited(child).then(() => true), delay(5_000).then(() => false)]);
  if (!killed) {
    child.kill('SIGKILL');
    await exited(child);
  }
}

/**
 * Starts Prometheus on a free 127.0.0.1 port scraping `targets` (host:port) every
 * `scrapeInterval` and resolves once `/-/ready` answers. The caller stops it.
 */
export async function startPrometheus(o: {
  targets: string[];
  scrapeInterval?: string;
  readyTimeoutMs?: number;
  /** Rule files' contents (YAML), loaded with `rule_files` and evaluated every scrape interval. */
  rules?: string[];
  /** Sent as `Authorization: Bearer …` with each scrape (Gantry's /metrics wants the admin token). */
  bearerToken?: string;
}): Promise<TestPrometheus> {
  const interval = o.scrapeInterval ?? '1s';
  const dir = await mkdtemp(join(tmpdir(), 'gantry-prometheus-'));
  const config = join(dir, 'prometheus.yml');
  const ruleFiles = (o.rules ?? []).map((_, i) => join(dir, `rules-${i}.yaml`));
  await Promise.all((o.rules ?? []).map((text, i) => writeFile(ruleFiles[i] as string, text)));
  await writeFile(
    config,
    [
      'global:',
      `  scrape_interval: ${interval}`,
      `  scrape_timeout: ${interval}`,
      `  evaluation_interval: ${interval}`,
      ...(ruleFiles.length > 0 ? [`rule_files: ${JSON.stringify(ruleFiles)}`] : []),
      'scrape_configs:',
      '  - job_name: app',
      ...(o.bearerToken === undefined ? [] : [`    authorization: { credentials: ${JSON.stringify(o.bearerToken)} }`]),
      `    static_configs: [{ targets: ${JSON.stringify(o.targets)} }]`,
      '',
    ].join('\n'),
  );

  let lastOutput = '';
  for (let attempt = 1; attempt <= 3; attempt++) {
    const port = await freePort();
    const child = spawn(
      PROMETHEUS_BINARY,
      [`--config.file=${config}`, `--storage.tsdb.path=${join(dir, `data-${attempt}`)}`, `--web.listen-address=127.0.0.1:${port}`],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let output = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-4_000);
    });
    const url = `http://127.0.0.1:${port}`;
    const stop = async () => {
      await stopChild(child);
      await rm(dir, { recursive: true, force: true });
    };
    const deadline = Date.now() + (o.readyTimeoutMs ?? 15_000);
    while (Date.now() < deadline && child.exitCode === null && child.signalCode === null) {
      const ready = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1_000) }).then(
        (r) => r.ok,
        () => false,
      );
      if (ready && child.pid !== undefined) return { url, pid: child.pid, stop };
      await delay(POLL_MS);
    }
    const exitedEarly = child.exitCode !== null || child.signalCode !== null;
    await stopChild(child);
    lastOutput = output;
    // Only a lost race for the port is worth another try.
    if (!exitedEarly || !/address already in use/.test(output)) break;
  }
  await rm(dir, { recursive: true, force: true });
  throw new Error(`Prometheus did not become ready:\n${lastOutput.split('\n').slice(-10).join('\n')}`);
}

/**
 * Waits until the instant query `query` returns at least one series: after that the first scrape
 * has landed and tests can query for real data. Polls; throws after `timeoutMs`.
 */
export async function waitForSeries(prometheusUrl: string, query: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const url = new URL('/api/v1/query', prometheusUrl);
  url.searchParams.set('query', query);
  while (Date.now() < deadline) {
    const body = (await fetch(url, { signal: AbortSignal.timeout(1_000) }).then(
      (r) => r.json(),
      () => null,
    )) as { data?: { result?: unknown[] } } | null;
    if ((body?.data?.result?.length ?? 0) > 0) return;
    await delay(POLL_MS);
  }
  throw new Error(`no series for ${query} within ${timeoutMs} ms`);
}
