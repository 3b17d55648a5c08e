/** The HTTP shell alone (no `buildServer`): for tests of one group of routes. */
import type { FastifyInstance } from 'fastify';
import { createHttpApp, RouteTable } from '../../src/server/http/index.ts';

/** `routes` served with every call let in. */
export function appWithoutAuth(routes: RouteTable = new RouteTable()): FastifyInstance {
  return createHttpApp({
    routes,
    authenticate: async () => undefined,
    authorize: async () => undefined,
    isClosing: () => false,
    onInternalError: () => undefined,
  });
}
