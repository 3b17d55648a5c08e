/**
 * Free TCP ports: the one helper every part uses (instances, environment proxies, tests, benches).
 *
 * Ports for instances on 127.0.0.1. A port is handed out only after a bind test succeeds, and
 * never while another instance of this supervisor holds it (even one that is between restarts
 * and not listening). A bind test cannot reserve the port — something may take it before the
 * instance binds — so the supervisor also retries on a fresh port when an instance that never
 * became ready exits while its port is taken by someone else.
 */
import { createServer } from 'node:net';
import { GantryError } from '../core/errors.ts';

/** Whether 127.0.0.1:`port` can be bound right now (a listener on 0.0.0.0 or [::] also makes it busy). */
export function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => server.close(() => resolve(true)));
  });
}

const EPHEMERAL_TRIES = 50;

/**
 * A port that binds now and is not in `taken`: from `range` (scanned in order, so assignments
 * are predictable on firewalled hosts) or, without one, chosen by the kernel.
 * Throws NO_FREE_PORT when none is found.
 */
export async function pickPort(taken: ReadonlySet<number>, range?: { from: number; to: number }): Promise<number> {
  if (range) {
    for (let port = range.from; port <= range.to; port++) {
      if (!taken.has(port) && (await portFree(port))) return port;
    }
    throw new GantryError('NO_FREE_PORT', `no free port in ${range.from}-${range.to}`, range);
  }
  for (let i = 0; i < EPHEMERAL_TRIES; i++) {
    const port = await kernelPort();
    if (!taken.has(port)) return port;
  }
  throw new GantryError('NO_FREE_PORT', 'the kernel kept offering ports already assigned to instances');
}

/** A port on `host` the kernel just offered as free (a bind test: something may take it before the caller binds). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return kernelPort(host);
}

function kernelPort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ port: 0, host, exclusive: true }, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
