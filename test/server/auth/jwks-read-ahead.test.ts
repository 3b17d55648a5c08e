/**
 * JwksReadAhead against a real key-set server on loopback: a sign-in's start reads the keys, the
 * callback's fetch of them is answered from that read once (no second request to the provider),
 * and a read-ahead older than its lifetime, or any other request, goes to the network.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JwksReadAhead, READ_AHEAD_MAX_AGE_MS } from '../../../src/server/auth/jwks-read-ahead.ts';
import { waitFor } from '../../support/wait.ts';

const KEYS = { keys: [{ kty: 'RSA', kid: 'k1', n: 'AQAB', e: 'AQAB' }] };
const GET = { method: 'GET', headers: { accept: 'application/json' }, body: undefined, redirect: 'manual' as const, signal: undefined };

describe('JwksReadAhead', () => {
  let server: Server;
  let base: string;
  const asked: string[] = [];

  beforeAll(async () => {
    server = createServer((request, response) => {
      asked.push(request.url ?? '');
      response.writeHead(200, { 'content-type': 'application/jwk-set+json' }).end(JSON.stringify(KEYS));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('answers the callback’s fetch of the keys from the read made at the start, once', async () => {
    asked.length = 0;
    const readAhead = new JwksReadAhead();
    readAhead.start(`${base}/jwks`, 5_000);
    await waitFor(() => asked.length === 1, { what: 'the read-ahead' });

    const answer = await readAhead.fetch(`${base}/jwks`, GET as never);
    expect(answer.status).toBe(200);
    expect(answer.headers.get('content-type')).toBe('application/jwk-set+json');
    expect(await answer.json()).toEqual(KEYS);
    expect(asked).toEqual(['/jwks']);

    // Used once: a second fetch (keys rotated, openid-client asks again) goes to the provider.
    await (await readAhead.fetch(`${base}/jwks`, GET as never)).json();
    expect(asked).toEqual(['/jwks', '/jwks']);
  });

  it('lets a read-ahead older than its lifetime, and every other request, go to the network', async () => {
    asked.length = 0;
    let now = 1_000_000;
    const readAhead = new JwksReadAhead({ now: () => now });
    readAhead.start(`${base}/jwks`, 5_000);
    await (await readAhead.fetch(`${base}/token`, { ...GET, method: 'POST', body: 'x' } as never)).text();
    now += READ_AHEAD_MAX_AGE_MS;
    await (await readAhead.fetch(`${base}/jwks`, GET as never)).json();
    // The read-ahead and the fetch's own request: two, whichever reached the server first.
    await waitFor(() => asked.filter((p) => p === '/jwks').length === 2, { what: 'the keys read from the network' });
    expect(asked).toContain('/token');
  });
});
