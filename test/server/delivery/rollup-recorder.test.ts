/**
 * Roll-ups reach the store exactly once, whenever the server dies: a real proxy process with
 * real traffic, a real SQLite store, and the server's recorder in a child process that is killed
 * with SIGKILL at the two dangerous moments — after reading the proxy's roll-ups but before
 * storing them, and after storing them but before acknowledging them — then started again.
 * The store is wrapped only to stop the child at those moments (a fake at the store port).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ProxyClient, processStartTime, ROLLUP_MS } from '../../../src/proxy/index.ts';
import { openStore } from '../../../src/store/index.ts';
import { backend, call } from '../../proxy/helpers.ts';
import { waitFor } from '../../support/wait.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const STORE_URL = new URL('../../../src/store/index.ts', import.meta.url).href;
const PROXY_URL = new URL('../../../src/proxy/index.ts', import.meta.url).href;
const RECORDER_URL = new URL('../../../src/server/delivery/rollup-recorder.ts', import.meta.url).href;
const KEY = 'p1:production';

type Stop = 'before-store' | 'after-store' | 'never';

/**
 * The server's side in its own process: adopts the proxy, runs one recorder flush. `stop` makes
 * the store's append announce the moment on stdout and then never return, so the test can kill it there.
 */
function serverSide(o: { dataDir: string; storeUrl: string; projectId: string; stop: Stop }): {
  reached: Promise<string>;
  kill(): Promise<void>;
} {
  const script = `
    import { openStore } from ${JSON.stringify(STORE_URL)};
    import { ProxyClient } from ${JSON.stringify(PROXY_URL)};
    import { RollupRecorder } from ${JSON.stringify(RECORDER_URL)};
    const stop = ${JSON.stringify(o.stop)};
    const store = await openStore({ url: ${JSON.stringify(o.storeUrl)} });
    const proxy = await ProxyClient.start({ dataDir: ${JSON.stringify(o.dataDir)}, environmentKey: ${JSON.stringify(KEY)}, label: 'shop/production', host: '127.0.0.1', port: 0, watch: false });
    // An interval keeps the process alive while it waits to be killed.
    const forever = new Promise(() => setInterval(() => {}, 1000));
    const metrics = {
      query: (f) => store.metrics.query(f),
      prune: (t) => store.metrics.prune(t),
      async append(rows) {
        if (stop === 'before-store') { process.stdout.write('before-store\\n'); await forever; }
        await store.metrics.append(rows);
        if (stop === 'after-store') { process.stdout.write('after-store\\n'); await forever; }
      },
    };
    const sources = { rollupSources: () => [{ projectId: ${JSON.stringify(o.projectId)}, environment: 'production', proxy }] };
    const recorder = new RollupRecorder({ metrics }, sources, (m, d) => process.stderr.write(m + ' ' + JSON.stringify(d) + '\\n'));
    await recorder.flush();
    process.stdout.write('flushed\\n');
    process.exit(0);
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const kill = async (): Promise<void> => {
    child.kill('SIGKILL');
    await exited;
  };
  cleanups.push(kill);
  const reached = new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve(out.trim());
    });
    child.once('exit', (code) => reject(new Error(`the server side exited (${code}) before saying anything`)));
  });
  return { reached, kill };
}

describe('roll-up recorder', () => {
  it('stores every roll-up exactly once across servers killed between read and store, and between store and acknowledgement', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gantry-rollups-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const storeUrl = `sqlite:${join(dir, 'gantry.db')}`;
    const store = await openStore({ url: storeUrl });
    cleanups.push(() => store.close());
    const project = await store.projects.create({ name: 'shop', source: { kind: 'local', path: '/srv/repo' }, webhookSecret: 'whsec' });

    const [stable, canary] = await Promise.all([backend('r1'), backend('r2')]);
    cleanups.push(() => stable?.close());
    cleanups.push(() => canary?.close());
    const proxy = await ProxyClient.start({
      dataDir: dir,
      environmentKey: KEY,
      label: 'shop/production',
      host: '127.0.0.1',
      port: 0,
      watch: false,
    });
    const proxyPid = proxy.pid;
    cleanups.push(async () => {
      await proxy.close();
      await waitFor(() => processStartTime(proxyPid) === null, { what: 'the proxy process to exit' });
    });
    await proxy.setRoutes({
      upstreams: [
        { id: 'a', host: '127.0.0.1', port: stable?.port as number, pool: 'stable', version: 'r1' },
        { id: 'b', host: '127.0.0.1', port: canary?.port as number, pool: 'canary', version: 'r2' },
      ],
      weights: { stable: 50, canary: 50 },
      match: [],
    });
    const N = 40;
    for (let i = 0; i < N; i++) expect((await call(proxy.port)).status).toBe(200);
    // Roll-ups exist once the ten-second period of the last request is over.
    const periodEnd = (Math.floor(Date.now() / ROLLUP_MS) + 1) * ROLLUP_MS;
    await waitFor(() => Date.now() >= periodEnd, { what: 'the ten-second period to end', timeoutMs: ROLLUP_MS + 5000 });

    const first = serverSide({ dataDir: dir, storeUrl, projectId: project.id, stop: 'before-store' });
    expect(await first.reached).toBe('before-store');
    await first.kill();

    const second = serverSide({ dataDir: dir, storeUrl, projectId: project.id, stop: 'after-store' });
    expect(await second.reached).toBe('after-store');
    await second.kill();

    const third = serverSide({ dataDir: dir, storeUrl, projectId: project.id, stop: 'never' });
    expect(await third.reached).toBe('flushed');

    const rows = await store.metrics.query({ projectId: project.id, sinceMs: 0, untilMs: Date.now() + 1 });
    expect(rows.reduce((n, r) => n + r.requests, 0)).toBe(N);
    const ids = rows.map((r) => `${r.version}/${r.pool}/${r.startMs}`);
    expect(new Set(ids).size).toBe(ids.length);
    expect(new Set(rows.map((r) => r.version))).toEqual(new Set(['r1', 'r2']));
    // Acknowledged: the proxy keeps none of them any more.
    expect((await proxy.readRollups()).rollups).toEqual([]);
  }, 40_000);
});
