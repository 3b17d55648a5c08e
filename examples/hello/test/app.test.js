import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { createHandler, latencyMs } from '../app.js';

describe('hello', () => {
  let server;
  let base;
  before(async () => {
    server = createServer(createHandler({ version: '9.9.9', environment: 'test', delay: () => 0 }));
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${server.address().port}`;
  });
  after(() => new Promise((resolve) => server.close(resolve)));

  it('answers its version as JSON', async () => {
    const response = await fetch(`${base}/`);
    assert.equal(response.status, 200);
    const body = await response.json();
    assert.equal(body.version, '9.9.9');
    assert.equal(body.environment, 'test');
  });

  it('serves a page to browsers', async () => {
    const response = await fetch(`${base}/`, { headers: { accept: 'text/html' } });
    assert.match(await response.text(), /Version <code>9\.9\.9<\/code>/);
  });

  it('is healthy', async () => {
    const response = await fetch(`${base}/healthz`);
    assert.equal(response.status, 200);
  });

  it('answers 404 for unknown paths', async () => {
    assert.equal((await fetch(`${base}/nope`)).status, 404);
  });
});

describe('faults', () => {
  it('answers 500 to the share of requests errorRate asks for', async () => {
    const server = createServer(createHandler({ version: '1.0.0', errorRate: 1, delay: () => 0 }));
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const response = await fetch(`http://127.0.0.1:${server.address().port}/`);
      assert.equal(response.status, 500);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('latency', () => {
  it('stays within a few tens of milliseconds, sometimes slower', () => {
    assert.equal(latencyMs(() => 0.5), 20);
    assert.ok(latencyMs(() => 0.01) >= 60);
  });
});
