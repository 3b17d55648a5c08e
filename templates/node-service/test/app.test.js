import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { createHandler } from '../app.js';

describe('{{name}}', () => {
  let server;
  let base;
  before(async () => {
    server = createServer(createHandler({ environment: 'test' }));
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${server.address().port}`;
  });
  after(() => new Promise((resolve) => server.close(resolve)));

  it('answers who it is', async () => {
    const response = await fetch(`${base}/`);
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { service: '{{name}}', environment: 'test' });
  });

  it('is healthy', async () => {
    assert.equal((await fetch(`${base}/healthz`)).status, 200);
  });
});
