/**
 * `GET /api/events/export`: the event log as JSON Lines over a real HTTP connection on loopback,
 * for a period and a project; the whole log of a few thousand events comes back in order and
 * whole, a page at a time.
 */
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventEnvironment, GantryEvent } from '../../../src/store/ports.ts';
import { buildTestApp, type TestApp } from '../../support/app.ts';

const ENV: EventEnvironment = { gantryVersion: 'test', nodeVersion: process.version, host: 'test' };
const MINUTE = 60_000;

describe('GET /api/events/export', () => {
  let t: TestApp;
  let base = '';
  let shop = '';
  const start = Date.now() - 3000 * MINUTE;

  const exportLines = async (
    query: string,
  ): Promise<{ status: number; type: string | null; events: (GantryEvent & { scope: { projectId: string | null } })[] }> => {
    const res = await fetch(`${base}/api/events/export${query}`, { headers: { authorization: `Bearer ${t.token}` } });
    const text = await res.text();
    const events = res.ok
      ? text
          .split('\n')
          .filter((l) => l !== '')
          .map((l) => JSON.parse(l))
      : [];
    return { status: res.status, type: res.headers.get('content-type'), events };
  };

  beforeAll(async () => {
    t = await buildTestApp();
    base = await t.app.listen({ host: '127.0.0.1', port: 0 });
    shop = (await t.store.projects.create({ name: 'shop', source: { kind: 'local', path: '/srv/shop' }, webhookSecret: 'w' })).id;
    const other = (await t.store.projects.create({ name: 'other', source: { kind: 'local', path: '/srv/other' }, webhookSecret: 'w' })).id;
    // 2,500 events a minute apart, alternating projects: more than two pages of the export.
    // Written in one transaction through a second connection to the same file (the store's
    // append commits each event on its own, which would take most of this test's time).
    const db = new DatabaseSync(join(t.dataDir, 'gantry.db'));
    db.exec('begin');
    const insert = db.prepare('insert into events (type, subject, actor, at, data, env) values (?, ?, ?, ?, ?, ?)');
    for (let i = 0; i < 2500; i++) {
      const data = { runId: `R${i}`, number: i, projectId: i % 2 === 0 ? shop : other };
      insert.run(
        'run.created',
        `run:R${i}`,
        'api:alice',
        new Date(start + i * MINUTE).toISOString(),
        JSON.stringify(data),
        JSON.stringify(ENV),
      );
    }
    db.exec('commit');
    db.close();
  });
  afterAll(async () => {
    await t?.cleanup();
  });

  it('streams the whole log as JSON Lines, oldest first, each event with its scope', async () => {
    const { status, type, events } = await exportLines('');
    expect(status).toBe(200);
    expect(type).toContain('application/x-ndjson');
    const runs = events.filter((e) => e.type === 'run.created');
    expect(runs).toHaveLength(2500);
    expect(runs.map((e) => e.data.number)).toEqual([...Array(2500).keys()]);
    expect(events.map((e) => e.id)).toEqual([...events.map((e) => e.id)].sort((a, b) => a - b));
    expect(runs[0]?.scope.projectId).toBe(shop);
  });

  it('keeps to a period and a project', async () => {
    const since = new Date(start + 1000 * MINUTE).toISOString();
    const until = new Date(start + 1099 * MINUTE).toISOString();
    const { events } = await exportLines(`?since=${since}&until=${until}&project=shop`);
    expect(events.map((e) => e.data.number)).toEqual([...Array(50).keys()].map((i) => 1000 + 2 * i));
  });

  it('gives the same period whether or not the search index has caught up', async () => {
    const query = `?since=${new Date(start + 2400 * MINUTE).toISOString()}`;
    const cold = await exportLines(query);
    await t.app.inject({ url: '/api/search?q=', headers: { authorization: `Bearer ${t.token}` } });
    expect(await t.store.search.lastIndexed()).toBeGreaterThan(2400);
    const warm = await exportLines(query);
    expect(warm.events.filter((e) => e.type === 'run.created')).toHaveLength(100);
    expect(warm.events).toEqual(cold.events);
  });

  it('refuses a time it cannot read', async () => {
    const { status } = await exportLines('?since=yesterday');
    expect(status).toBe(400);
  });
});
