/**
 * Several servers (docs/decisions/0037): a proxy process obeys the highest background-loops lease
 * token it has seen and refuses the commands of a server that was taken over while paused. Real
 * proxy-host processes and backends; two ProxyClients stand for the old and the new owner.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ProxyClient, processStartTime, type ProxyStartOptions, type RouteTable } from '../../src/proxy/index.ts';
import { backend, call, until, type Backend } from './helpers.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function dataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'gantry-proxy-fence-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function client(o: Partial<ProxyStartOptions> & { dataDir: string }): Promise<ProxyClient> {
  const c = await ProxyClient.start({
    environmentKey: 'p1:production',
    label: 'shop/production',
    host: '127.0.0.1',
    port: 0,
    watch: false,
    ...o,
  });
  const pid = c.pid;
  cleanups.push(async () => {
    await c.detach();
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // already gone
    }
    await until('the proxy process to be gone', () => processStartTime(pid) === null);
  });
  return c;
}

async function backends(...names: string[]): Promise<Backend[]> {
  const out = await Promise.all(names.map((n) => backend(n)));
  for (const b of out) cleanups.push(() => b.close());
  return out;
}

function only(b: Backend): RouteTable {
  return {
    upstreams: [{ id: b.name, host: '127.0.0.1', port: b.port, pool: 'stable', version: b.name }],
    weights: { stable: 100, canary: 0 },
    match: [],
  };
}

async function answers(port: number, n = 10): Promise<Set<string>> {
  const agent = new Agent({ keepAlive: true });
  const out = new Set<string>();
  for (let i = 0; i < n; i++) out.add((await call(port, { agent })).body);
  agent.destroy();
  return out;
}

describe('a proxy fenced by lease tokens', () => {
  it("refuses the old owner's route table, faults and shutdown once the new owner steered it", async () => {
    const dir = dataDir();
    const [oldB, newB] = (await backends('old', 'new')) as [Backend, Backend];
    const old = await client({ dataDir: dir, fence: () => 1 });
    await old.setRoutes(only(oldB));
    const next = await client({ dataDir: dir, fence: () => 2 });
    expect(next.adopted).toBe(true);
    await next.setRoutes(only(newB));

    await expect(old.setRoutes(only(oldB))).rejects.toMatchObject({ code: 'PROXY_FENCED' });
    await expect(old.setFaults({ experimentId: 'x', deadlineAt: Date.now() + 60_000, faults: [] })).rejects.toMatchObject({
      code: 'PROXY_FENCED',
    });
    await expect(old.clearFaults('x')).rejects.toMatchObject({ code: 'PROXY_FENCED' });
    // Reads are answered to anyone.
    expect((await old.health()).pid).toBe(next.pid);
    await expect(old.close()).rejects.toMatchObject({ code: 'PROXY_FENCED' });
    // Still running, by the new owner's table.
    expect(processStartTime(next.pid)).not.toBeNull();
    expect(await answers(next.port)).toEqual(new Set(['new']));
  });

  it('remembers the highest token across a restart of the proxy process, and obeys commands that carry none', async () => {
    const dir = dataDir();
    const [a, b, c] = (await backends('a', 'b', 'c')) as [Backend, Backend, Backend];
    const next = await client({ dataDir: dir, fence: () => 2 });
    await next.setRoutes(only(a));
    const first = next.pid;
    process.kill(-first, 'SIGKILL');
    await until('the proxy process to be gone', () => processStartTime(first) === null);

    const old = await client({ dataDir: dir, fence: () => 1 });
    expect(old.pid).not.toBe(first);
    await expect(old.setRoutes(only(b))).rejects.toMatchObject({ code: 'PROXY_FENCED' });
    expect(await answers(old.port)).toEqual(new Set(['a']));
    // One server, or an agent: no token, no fence.
    const unfenced = await client({ dataDir: dir });
    await unfenced.setRoutes(only(c));
    expect(await answers(old.port)).toEqual(new Set(['c']));
  });
});

describe('a server that wakes from a pause longer than the proxy keeps idle connections', () => {
  it('sends its command over a new connection when every kept-alive one is dead', async () => {
    const dir = dataDir();
    const [a, b] = (await backends('a', 'b')) as [Backend, Backend];
    const c = await client({ dataDir: dir, fence: () => 1 });
    await c.setRoutes(only(a));
    // Several kept-alive connections in the client's pool.
    await Promise.all([c.health(), c.health(), c.health()]);
    // Paused as by SIGSTOP or a long GC: the proxy ends the idle connections (after 5 s and a second of grace), and the
    // client learns of it only from the write it makes on waking, in the same tick.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 7_500);
    await c.setRoutes(only(b));
    expect(await answers(c.port)).toEqual(new Set(['b']));
  }, 20_000);
});
