/**
 * Service logs as a search source (the shape of `searchServiceLogs` of src/server/logs): a real
 * function over lines of our own, merged with the event log's results by time; `type:log` asks
 * only the logs, filters logs cannot answer (commit, person) ask none.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../../src/core/clock.ts';
import {
  SearchIndexer,
  SearchService,
  type ServiceLogLine,
  type ServiceLogSearch,
  serviceLogSource,
} from '../../../src/server/search/index.ts';
import { openStore, type Store } from '../../../src/store/index.ts';
import { sqliteTestDatabase } from '../../support/databases.ts';

const ENV = { gantryVersion: 'test', nodeVersion: process.version, host: 'test' };

describe('service logs as a search source', () => {
  let db: Awaited<ReturnType<typeof sqliteTestDatabase>>;
  let store: Store;
  let service: SearchService;
  let shop = '';
  const asked: Parameters<ServiceLogSearch>[0][] = [];
  const lines: ServiceLogLine[] = [];

  /** What the logs context answers: lines of the project and environment containing the text. */
  const searchLogs: ServiceLogSearch = async (query) => {
    asked.push(query);
    return lines
      .filter(
        (l) =>
          (query.project === undefined || l.project === query.project) &&
          (query.environment === undefined || l.environment === query.environment),
      )
      .filter((l) => query.text === undefined || l.text.toLowerCase().includes(query.text))
      .filter((l) => (query.since === undefined || l.time >= query.since) && (query.until === undefined || l.time <= query.until))
      .slice(0, query.limit);
  };

  beforeAll(async () => {
    db = await sqliteTestDatabase();
    store = await openStore({ url: db.url });
    shop = (await store.projects.create({ name: 'shop', source: { kind: 'local', path: '/srv/shop' }, webhookSecret: 'w' })).id;
    const at = (m: number) => new Date(Date.now() - m * 60_000).toISOString();
    lines.push(
      {
        project: shop,
        environment: 'production',
        release: 3,
        instance: 'i-1',
        stream: 'stderr',
        time: at(5),
        text: 'ERROR checkout timeout talking to payments',
        link: `/projects/${shop}/environments/production/logs?at=1`,
      },
      {
        project: shop,
        environment: 'production',
        release: 2,
        instance: 'i-2',
        stream: 'stdout',
        time: at(50),
        text: 'checkout timeout retried',
        link: `/projects/${shop}/environments/production/logs?at=2`,
      },
    );
    await store.events.append({
      type: 'job.failure',
      subject: 'job:R1/test',
      actor: 'server',
      at: at(20),
      data: { runId: 'R1', key: 'test', projectId: shop, reason: 'checkout timeout' },
      env: ENV,
    });
    service = new SearchService({
      store,
      indexer: new SearchIndexer(store),
      requireProject: async (p) => {
        const found = await store.projects.get(p);
        if (!found) throw new Error(`no project ${p}`);
        return found;
      },
      clock: systemClock,
      sources: [serviceLogSource(searchLogs, async (id) => (await store.projects.get(id))?.name ?? null)],
    });
  });
  afterAll(async () => {
    await store?.close();
    await db?.cleanup();
  });

  it('merges log lines with the event log by time', async () => {
    const answer = await service.search('checkout timeout project:shop');
    expect(answer.results.map((r) => r.kind)).toEqual(['log', 'job', 'log']);
    expect(answer.results[0]).toMatchObject({
      link: lines[0]?.link,
      detail: lines[0]?.text,
      projectName: 'shop',
      environment: 'production',
    });
    expect(asked.at(-1)).toMatchObject({ project: shop, text: 'checkout timeout', limit: 50 });
  });

  it('asks only the logs for type:log, and applies a release filter to their lines', async () => {
    const answer = await service.search('type:log release:2');
    expect(answer.results.map((r) => r.detail)).toEqual(['checkout timeout retried']);
  });

  it('does not ask the logs what they cannot answer', async () => {
    const before = asked.length;
    expect((await service.search('by:alice')).results).toEqual([]);
    expect((await service.search('type:job checkout')).results.map((r) => r.kind)).toEqual(['job']);
    expect(asked.length).toBe(before);
  });
});
