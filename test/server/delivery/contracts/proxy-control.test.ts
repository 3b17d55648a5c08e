/**
 * The `ProxyControl` / `EnvironmentProxy` ports' contract (src/server/delivery/ports.ts), run
 * against the in-memory fake and the real proxy processes (`ProxyProcesses`: a real proxy
 * spawned on loopback, steered over its control socket, sending real requests to a real upstream).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { freePort } from '../../../../src/platform/ports.ts';
import type { RouteTable } from '../../../../src/proxy/index.ts';
import { type ProxyControl, ProxyProcesses } from '../../../../src/server/delivery/index.ts';
import { FakeProxyControl, FakeProxyHost } from '../../../support/fakes/fake-proxy.ts';

interface Harness {
  /** A control for "this server"; calling it again is a restarted server on the same machine. */
  control(): ProxyControl;
  /** Whether it can answer real requests (the fake has no data plane). */
  serves: boolean;
  cleanup(): Promise<void>;
}

const implementations: [string, () => Harness][] = [
  [
    'fake',
    () => {
      const host = new FakeProxyHost();
      return { control: () => new FakeProxyControl(host), serves: false, cleanup: async () => undefined };
    },
  ],
  [
    'real',
    () => {
      const dataDir = mkdtempSync(join(tmpdir(), 'gantry-proxy-contract-'));
      const controls: ProxyControl[] = [];
      return {
        control: () => {
          const control = new ProxyProcesses(dataDir);
          controls.push(control);
          return control;
        },
        serves: true,
        cleanup: async () => {
          await new ProxyProcesses(dataDir).closeAbandoned(new Set(['p1:production', 'p1:staging']));
          rmSync(dataDir, { recursive: true, force: true });
        },
      };
    },
  ],
];

let upstream: Server;
let upstreamPort: number;
beforeAll(async () => {
  upstream = createServer((_req, res) => res.end('ok'));
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  upstreamPort = (upstream.address() as { port: number }).port;
});
afterAll(() => new Promise<void>((resolve) => upstream.close(() => resolve())));

function table(weights = { stable: 100, canary: 0 }): RouteTable {
  return { upstreams: [{ id: 'i-1', host: '127.0.0.1', port: upstreamPort, pool: 'stable', version: 'r1' }], weights, match: [] };
}

describe.each(implementations)('ProxyControl contract: %s', (_name, make) => {
  let h: Harness;
  let port: number;
  beforeEach(async () => {
    h = make();
    port = await freePort('127.0.0.1');
  });
  afterEach(() => h.cleanup());

  const open = (control: ProxyControl, environment = 'production') =>
    control.open({ environmentKey: `p1:${environment}`, label: `shop/${environment}`, host: '127.0.0.1', port });

  it('opens a proxy that takes route tables in order and routes by the last one', async () => {
    const proxy = await open(h.control());
    await proxy.setRoutes(table());
    await proxy.setRoutes(table({ stable: 90, canary: 10 }));
    if (h.serves) {
      const answer = await fetch(`http://127.0.0.1:${port}/`);
      expect(await answer.text()).toBe('ok');
      const window = await proxy.window(Date.now() - 60_000, Date.now() + 1000, { version: 'r1' });
      expect(window.requests).toBe(1);
      expect(window.errors).toBe(0);
    }
    await proxy.close();
  });

  it('rejects an invalid table and keeps the old one', async () => {
    const proxy = await open(h.control());
    await proxy.setRoutes(table());
    await expect(proxy.setRoutes(table({ stable: 50, canary: 10 }))).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    if (h.serves) expect((await fetch(`http://127.0.0.1:${port}/`)).status).toBe(200);
    await proxy.close();
  });

  it('reads empty metrics for a release without requests, and an upstream without requests is drained', async () => {
    const proxy = await open(h.control());
    const window = await proxy.window(0, Date.now(), { version: 'nobody' });
    expect(window).toMatchObject({ requests: 0, errors: 0, latency: [] });
    expect(await proxy.drained('i-1', 1000)).toBe(true);
    await proxy.close();
  });

  it('survives a server restart: a detached proxy is adopted with its table by the next control', async () => {
    const first = await open(h.control());
    await first.setRoutes(table());
    await first.detach();
    const second = await open(h.control());
    if (h.serves) expect(await (await fetch(`http://127.0.0.1:${port}/`)).text()).toBe('ok');
    await second.close();
    await second.close();
  });

  it('closeAbandoned shuts down the named environments only, and is idempotent', async () => {
    const production = await open(h.control());
    const productionPort = port;
    port = await freePort('127.0.0.1');
    const staging = await open(h.control(), 'staging');
    await production.setRoutes(table());
    await production.detach();
    await staging.detach();
    const control = h.control();
    await control.closeAbandoned(new Set(['p1:production']));
    await control.closeAbandoned(new Set(['p1:production']));
    if (h.serves) {
      await expect(fetch(`http://127.0.0.1:${productionPort}/`)).rejects.toThrow();
      expect((await fetch(`http://127.0.0.1:${port}/`)).status).toBe(503);
    }
    const again = await open(control, 'staging');
    await again.close();
  });
});
