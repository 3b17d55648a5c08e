/**
 * The proxy as its own process: real proxy-host processes, real backends, a real "server side"
 * (a ProxyClient in a child process) killed with SIGKILL while traffic flows.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { InputError } from '../../src/core/errors.ts';
import {
  ProxyClient,
  ProxyControlError,
  ProxyStartError,
  PROXY_FILES,
  PROXY_NODE_FLAGS,
  processStartTime,
  type ProxyStartOptions,
  type RouteTable,
  type Upstream,
} from '../../src/proxy/index.ts';
import { backend, call, deadPort, until, type Backend } from './helpers.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

function dataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'gantry-proxy-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function startClient(o: Partial<ProxyStartOptions> & { dataDir: string }): Promise<ProxyClient> {
  const client = await ProxyClient.start({ environmentKey: 'p1:production', label: 'shop/production', host: '127.0.0.1', port: 0, ...o });
  const pid = client.pid;
  cleanups.push(async () => {
    await client.detach();
    killGroup(pid);
    await until('the proxy process to be gone', () => processStartTime(pid) === null);
  });
  return client;
}

async function backends(...names: string[]): Promise<Backend[]> {
  const out = await Promise.all(names.map((n) => backend(n)));
  for (const b of out) cleanups.push(() => b.close());
  return out;
}

function table(a: Backend, b: Backend, weights: { stable: number; canary: number }): RouteTable {
  const up = (id: string, x: Backend, pool: 'stable' | 'canary'): Upstream => ({
    id,
    host: '127.0.0.1',
    port: x.port,
    pool,
    version: pool === 'stable' ? 'r1' : 'r2',
  });
  return { upstreams: [up('a', a, 'stable'), up('b', b, 'canary')], weights, match: [] };
}

async function bodies(port: number, n: number, agent: Agent): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const r = await call(port, { agent });
    out[r.body] = (out[r.body] ?? 0) + 1;
  }
  return out;
}

/** Requests from `workers` concurrent loops until stopped; new connections and keep-alive mixed. */
function traffic(port: number, workers = 4) {
  const agent = new Agent({ keepAlive: true, maxSockets: workers });
  const stats = { ok: 0, failed: 0, errors: [] as string[] };
  let stop = false;
  const loops = Array.from({ length: workers }, async (_, w) => {
    for (let _i = 0; !stop; _i++) {
      try {
        const r = await call(port, w === 0 ? {} : { agent });
        if (r.status === 200) stats.ok++;
        else {
          stats.failed++;
          stats.errors.push(`${r.status} ${r.body}`);
        }
      } catch (error) {
        stats.failed++;
        stats.errors.push(String(error));
      }
    }
  });
  return {
    stats,
    stop: async () => {
      stop = true;
      await Promise.all(loops);
      agent.destroy();
      return stats;
    },
  };
}

const CLIENT_URL = new URL('../../src/proxy/proxy-client.ts', import.meta.url).href;

/** A "server" in its own process: starts the proxy, sets routes, then idles until killed. */
function serverSide(dir: string, routes: RouteTable): Promise<{ pid: number; proxyPid: number; port: number; kill(): Promise<void> }> {
  const script = `
    import { ProxyClient } from ${JSON.stringify(CLIENT_URL)};
    const c = await ProxyClient.start({ dataDir: ${JSON.stringify(dir)}, environmentKey: 'p1:production', label: 'shop/production', host: '127.0.0.1', port: 0 });
    await c.setRoutes(${JSON.stringify(routes)});
    process.stdout.write(JSON.stringify({ proxyPid: c.pid, port: c.port }) + '\\n');
    setInterval(() => c.setRoutes(${JSON.stringify(routes)}), 5);
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  cleanups.push(async () => {
    child.kill('SIGKILL');
    await exited;
  });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (!out.includes('\n')) return;
      const { proxyPid, port } = JSON.parse(out) as { proxyPid: number; port: number };
      cleanups.push(() => {
        killGroup(proxyPid);
      });
      resolve({
        pid: child.pid as number,
        proxyPid,
        port,
        kill: async () => {
          child.kill('SIGKILL');
          await exited;
        },
      });
    });
    child.once('exit', (code) => reject(new Error(`the server side exited early (${code})`)));
  });
}

describe('proxy host process', () => {
  it('routes by the table it is given, behind a 0600 control socket, with metrics through the client', async () => {
    const dir = dataDir();
    const [a, b] = (await backends('a', 'b')) as [Backend, Backend];
    const client = await startClient({ dataDir: dir });
    expect(client.adopted).toBe(false);
    expect(client.pid).not.toBe(process.pid);
    expect(statSync(join(client.dir, PROXY_FILES.socket)).mode & 0o777).toBe(0o600);
    expect(statSync(client.dir).mode & 0o777).toBe(0o700);
    // A young generation sized for per-request garbage (fewer scavenges in the requests' path).
    expect(readFileSync(`/proc/${client.pid}/cmdline`, 'utf8').split('\0')).toEqual(expect.arrayContaining([...PROXY_NODE_FLAGS]));

    const since = Date.now();
    await client.setRoutes(table(a, b, { stable: 50, canary: 50 }));
    const agent = new Agent({ keepAlive: true });
    cleanups.push(() => agent.destroy());
    expect(await bodies(client.port, 40, agent)).toEqual({ a: 20, b: 20 });

    const stable = await client.window(since - 1000, Date.now() + 1000, { version: 'r1' });
    const canary = await client.window(since - 1000, Date.now() + 1000, { pool: 'canary' });
    expect([stable.requests, stable.errors, canary.requests]).toEqual([20, 0, 20]);
    expect(await client.prometheus()).toMatch(/version="r2"/);

    await expect(client.setRoutes({ upstreams: [], weights: { stable: 10, canary: 0 }, match: [] })).rejects.toThrow(InputError);
    expect(await bodies(client.port, 4, agent)).toEqual({ a: 2, b: 2 }); // the old table stays
  });

  it('keeps routing when the server side is killed -9 mid-traffic; a new client adopts the same process', async () => {
    const dir = dataDir();
    const [a, b] = (await backends('a', 'b')) as [Backend, Backend];
    const server = await serverSide(dir, table(a, b, { stable: 90, canary: 10 }));
    const load = traffic(server.port);
    await until('traffic to flow', () => load.stats.ok > 100);
    await server.kill();
    const atKill = load.stats.ok;
    await until('traffic to keep flowing after the kill', () => load.stats.ok > atKill + 300);

    const client = await startClient({ dataDir: dir });
    expect([client.adopted, client.pid, client.port]).toEqual([true, server.proxyPid, server.port]);
    await client.setRoutes(table(a, b, { stable: 0, canary: 100 }));
    const afterSwitch = b.requests;
    await until('traffic on the new weights', () => b.requests > afterSwitch + 100);
    const stats = await load.stop();
    expect(stats.errors.slice(0, 3)).toEqual([]);
    expect(stats.failed).toBe(0);
    const agent = new Agent({ keepAlive: true });
    cleanups.push(() => agent.destroy());
    expect(await bodies(client.port, 10, agent)).toEqual({ b: 10 });
  });

  it('a proxy process killed -9 comes back routing by its persisted table', async () => {
    const dir = dataDir();
    const [a, b] = (await backends('a', 'b')) as [Backend, Backend];
    const first = await startClient({ dataDir: dir, watch: false });
    const routes = table(a, b, { stable: 0, canary: 100 });
    await first.setRoutes(routes);
    const port = first.port;
    killGroup(first.pid);
    await until('the proxy process to die', () => processStartTime(first.pid) === null);
    await expect(first.window(0, 1)).rejects.toMatchObject({ code: 'PROXY_CONTROL_UNAVAILABLE' });
    await expect(first.window(0, 1)).rejects.toBeInstanceOf(ProxyControlError);

    const second = await startClient({ dataDir: dir, port });
    expect(second.adopted).toBe(false);
    expect(second.pid).not.toBe(first.pid);
    // No setRoutes yet: the table came from disk.
    expect(JSON.parse(readFileSync(join(dir, 'proxies', second.dir.split('/').pop() as string, PROXY_FILES.routes), 'utf8'))).toEqual(
      routes,
    );
    const agent = new Agent({ keepAlive: true });
    cleanups.push(() => agent.destroy());
    expect(await bodies(port, 5, agent)).toEqual({ b: 5 });
  });

  it('an attached client starts a dead proxy process again, with the last table', async () => {
    const dir = dataDir();
    const [a, b] = (await backends('a', 'b')) as [Backend, Backend];
    const client = await startClient({ dataDir: dir });
    await client.setRoutes(table(a, b, { stable: 100, canary: 0 }));
    const dead = client.pid;
    killGroup(dead);
    await until('a new proxy process', () => client.pid !== dead && processStartTime(client.pid) !== null, 5000);
    cleanups.push(() => killGroup(client.pid));
    const r = await call(client.port);
    expect(r.body).toBe('a');
  });

  it('reports a taken port as the start failure, and moves to a new port by replacing the process', async () => {
    const dir = dataDir();
    const client = await startClient({ dataDir: dir });
    const other = dataDir();
    const failed = ProxyClient.start({
      dataDir: other,
      environmentKey: 'p1:staging',
      label: 'shop/staging',
      host: '127.0.0.1',
      port: client.port,
      watch: false,
    });
    await expect(failed).rejects.toBeInstanceOf(ProxyStartError);
    await expect(failed).rejects.toThrow(/EADDRINUSE/);

    // The server lets go of its client before it starts the environment on another port (as
    // `gantry env expose` does): a client still watching would respawn the old process.
    await client.detach();
    const port = await deadPort();
    const moved = await startClient({ dataDir: dir, port });
    expect([moved.adopted, moved.port]).toEqual([false, port]);
    expect(moved.pid).not.toBe(client.pid);
    expect(processStartTime(client.pid)).toBeNull();
  });

  it('close() lets an in-flight request finish, then the process is gone; a removed directory ends it too', async () => {
    const dir = dataDir();
    let release: () => void = () => undefined;
    const slow = await backend('slow', (_req, res) => {
      release = () => res.end('late');
    });
    cleanups.push(() => slow.close());
    const client = await startClient({ dataDir: dir });
    await client.setRoutes({
      upstreams: [{ id: 's', host: '127.0.0.1', port: slow.port, pool: 'stable', version: 'r1' }],
      weights: { stable: 100, canary: 0 },
      match: [],
    });
    const answer = call(client.port);
    await until('the request to reach the backend', () => slow.requests === 1);
    const closing = client.close();
    setTimeout(() => release(), 50);
    expect((await answer).body).toBe('late');
    await closing;
    expect(processStartTime(client.pid)).toBeNull();
    expect(existsSync(join(client.dir, PROXY_FILES.socket))).toBe(false);

    const again = await startClient({ dataDir: dir, watch: false });
    rmSync(dir, { recursive: true, force: true });
    await until('the orphaned proxy to exit', () => processStartTime(again.pid) === null, 5000);
  });
});
