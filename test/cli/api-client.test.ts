import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../../src/cli/api-client.ts';

describe('ApiClient errors', () => {
  let server: Server;
  let client: ApiClient;

  beforeAll(async () => {
    server = createServer((req, res) => {
      const answers: Record<string, [number, string]> = {
        '/known': [404, JSON.stringify({ error: { code: 'NOT_FOUND', message: 'no project nope' } })],
        '/unknown': [418, JSON.stringify({ error: { code: 'TEAPOT', message: 'short and stout' } })],
        '/html': [502, '<html>bad gateway</html>'],
      };
      const [status, body] = answers[req.url ?? ''] ?? [500, ''];
      res.writeHead(status, { 'content-type': body.startsWith('{') ? 'application/json' : 'text/html' }).end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    client = new ApiClient({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, token: 't' });
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('keeps a code of the catalogue with its status', async () => {
    await expect(client.request('GET', '/known')).rejects.toMatchObject({ code: 'NOT_FOUND', httpStatus: 404, message: 'no project nope' });
  });

  it('turns a code it does not know into HTTP_ERROR, keeping the status and the code in details', async () => {
    await expect(client.request('GET', '/unknown')).rejects.toMatchObject({
      code: 'HTTP_ERROR',
      message: 'short and stout (TEAPOT)',
      details: { status: 418, code: 'TEAPOT' },
    });
  });

  it('turns an error answer that is not JSON (a proxy in front) into HTTP_ERROR, not a SyntaxError', async () => {
    await expect(client.request('GET', '/html')).rejects.toMatchObject({
      code: 'HTTP_ERROR',
      message: 'the server answered HTTP 502',
      details: { status: 502 },
    });
  });
});
