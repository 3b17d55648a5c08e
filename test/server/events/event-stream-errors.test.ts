import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { LiveHub, registerEventRoutes } from '../../../src/server/events/index.ts';
import { createHttpApp, RouteTable } from '../../../src/server/http/index.ts';
import type { Store } from '../../../src/store/ports.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

describe('the event stream when the store fails', () => {
  it('keeps the stream open and raises no unhandled rejection; the next notification reads again', async () => {
    let failing = false;
    let reads = 0;
    const store = {
      events: {
        list: async () => {
          reads++;
          if (failing) throw new Error('the store is closing');
          return [];
        },
      },
    } as unknown as Store;
    const hub = new LiveHub();
    const routes = new RouteTable();
    registerEventRoutes(routes, { store, hub, requireProject: async () => ({}) as never });
    const app = createHttpApp({
      routes,
      authenticate: async () => {},
      authorize: async () => {},
      isClosing: () => false,
      onInternalError: () => {},
    });
    routes.register(app);
    await app.listen({ port: 0, host: '127.0.0.1' });
    cleanups.push(() => app.close());
    const rejections: unknown[] = [];
    const onRejection = (reason: unknown) => rejections.push(reason);
    process.on('unhandledRejection', onRejection);
    cleanups.push(() => void process.off('unhandledRejection', onRejection));

    const controller = new AbortController();
    cleanups.push(() => controller.abort());
    const response = await fetch(`http://127.0.0.1:${(app.server.address() as AddressInfo).port}/api/events/stream`, {
      signal: controller.signal,
    });
    expect(response.status).toBe(200);
    await expect.poll(() => reads).toBe(1);

    failing = true;
    hub.notify('run-1');
    await expect.poll(() => reads).toBe(2);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(rejections).toEqual([]);

    failing = false;
    hub.notify('run-1');
    await expect.poll(() => reads).toBe(3);
  });
});
