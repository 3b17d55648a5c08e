/**
 * One search over the records, in process over a real SQLite store: realistic events of two
 * projects go into the event log, `GET /api/search` finds them by commit, release, person, kind,
 * project, environment, text and time, one result per thing with its dashboard link; an index
 * emptied and rebuilt from the log answers the same; a search sees an event appended just before.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SearchResult } from '../../../src/search/index.ts';
import type { SearchAnswer } from '../../../src/server/search/index.ts';
import type { EventEnvironment, NewEvent } from '../../../src/store/ports.ts';
import { buildTestApp, type TestApp } from '../../support/app.ts';

const ENV: EventEnvironment = { gantryVersion: 'test', nodeVersion: process.version, host: 'test' };
const SHA = 'abc123def4567890abc123def4567890abc12345';
const OTHER_SHA = 'fedcba9876543210fedcba9876543210fedcba98';
const HOUR = 3_600_000;

describe('GET /api/search', () => {
  let t: TestApp;
  let shop = '';
  let billing = '';
  const at = (hoursAgo: number) => new Date(Date.now() - hoursAgo * HOUR).toISOString();

  const search = async (q: string, extra = ''): Promise<SearchAnswer> => {
    const res = await t.app.inject({
      url: `/api/search?q=${encodeURIComponent(q)}${extra}`,
      headers: { authorization: `Bearer ${t.token}` },
    });
    expect(res.statusCode, res.body).toBe(200);
    return res.json() as SearchAnswer;
  };
  const titles = (answer: SearchAnswer) => answer.results.map((r: SearchResult) => r.title);

  beforeAll(async () => {
    t = await buildTestApp();
    shop = (await t.store.projects.create({ name: 'shop-api', source: { kind: 'local', path: '/srv/shop' }, webhookSecret: 'w' })).id;
    billing = (await t.store.projects.create({ name: 'billing', source: { kind: 'local', path: '/srv/billing' }, webhookSecret: 'w' })).id;
    const events: NewEvent[] = [
      {
        type: 'run.created',
        subject: 'run:R1',
        actor: 'trigger:push',
        at: at(50),
        data: { runId: 'R1', number: 7, projectId: shop, sha: SHA },
        env: { ...ENV, commit: SHA },
      },
      {
        type: 'job.failure',
        subject: 'job:R1/test',
        actor: 'server',
        at: at(49.9),
        data: { runId: 'R1', key: 'test', projectId: shop, reason: 'checkout timeout after 30s' },
        env: { ...ENV, commit: SHA },
      },
      {
        type: 'run.failure',
        subject: 'run:R1',
        actor: 'server',
        at: at(49.8),
        data: { runId: 'R1', status: 'failure', projectId: shop },
        env: { ...ENV, commit: SHA },
      },
      {
        type: 'run.created',
        subject: 'run:R2',
        actor: 'api:bob',
        at: at(30),
        data: { runId: 'R2', number: 1, projectId: billing, sha: OTHER_SHA },
        env: { ...ENV, commit: OTHER_SHA },
      },
      {
        type: 'release.created',
        subject: 'release:L3',
        actor: 'api:alice',
        at: at(20),
        data: { releaseId: 'L3', number: 3, projectId: shop, runId: 'R1', sha: SHA, commits: [{ sha: SHA, at: at(60) }] },
        env: { ...ENV, commit: SHA },
      },
      {
        type: 'rollout.created',
        subject: 'rollout:O1',
        actor: 'api:alice',
        at: at(19),
        data: { rolloutId: 'O1', projectId: shop, environment: 'production', releaseId: 'L3', releaseNumber: 3, kind: 'deploy' },
        env: { ...ENV, commit: SHA },
      },
      {
        type: 'rollout.phase.canary',
        subject: 'rollout:O1',
        actor: 'server',
        at: at(18.9),
        data: { rolloutId: 'O1', environment: 'production', reason: null },
        env: { ...ENV, commit: SHA },
      },
      {
        type: 'slo.alert.fired',
        subject: `environment:${shop}/production`,
        actor: 'server',
        at: at(10),
        data: { projectId: shop, environment: 'production', slo: 'availability', severity: 'page' },
        env: ENV,
      },
      {
        type: 'incident.opened',
        subject: `environment:${shop}/production`,
        actor: 'api:carol',
        at: at(9.5),
        data: { projectId: shop, environment: 'production', number: 1, title: 'Checkout is down', severity: 'sev1' },
        env: ENV,
      },
      { type: 'secret.set', subject: `project:${billing}`, actor: 'api:alice', at: at(2), data: { name: 'STRIPE_KEY' }, env: ENV },
    ];
    for (const e of events) await t.store.events.append(e);
  });
  afterAll(async () => {
    await t?.cleanup();
  });

  it('finds a commit by a prefix: its release, deploy and run, one result per thing, newest first', async () => {
    const answer = await search('commit:abc123d');
    expect(answer.results.map((r) => r.kind)).toEqual(['deploy', 'release', 'run', 'job']);
    const run = answer.results.find((r) => r.kind === 'run') as SearchResult;
    expect(run).toMatchObject({ link: '/runs/R1', projectName: 'shop-api', matches: 2, eventType: 'run.failure' });
    expect(answer.results.find((r) => r.kind === 'job')).toMatchObject({
      link: '/runs/R1/jobs/test',
      detail: 'checkout timeout after 30s',
    });
    expect(answer.results[0]).toMatchObject({ link: `/projects/${shop}/environments/production`, matches: 2 });
  });

  it('finds a release by number, with the deploys of it (their later events included)', async () => {
    const answer = await search('release:3');
    expect(answer.results.map((r) => [r.kind, r.matches])).toEqual([
      ['deploy', 2],
      ['release', 1],
    ]);
    expect(answer.results[1]).toMatchObject({ title: 'Release #3 created — shop-api', link: `/projects/${shop}` });
  });

  it('composes filters: a person, a kind, a project, an environment', async () => {
    expect(titles(await search('by:alice'))).toEqual([
      'secret.set — billing',
      'Deploy of release #3: rollout.created — shop-api / production',
      'Release #3 created — shop-api',
    ]);
    expect(titles(await search('by:alice type:deploy'))).toEqual(['Deploy of release #3: rollout.created — shop-api / production']);
    expect((await search('project:billing')).results.map((r) => r.kind)).toEqual(['event', 'run']);
    expect((await search('env:production type:alert type:incident')).results.map((r) => r.link)).toEqual([
      `/projects/${shop}/incidents/1`,
      `/projects/${shop}/environments/production`,
    ]);
    expect((await search('type:run.created project:shop-api')).results.map((r) => r.link)).toEqual(['/runs/R1']);
  });

  it('finds words, prefixes and phrases in what the events say', async () => {
    expect((await search('checkout')).results.map((r) => r.kind)).toEqual(['incident', 'job']);
    expect((await search('timeo*')).results.map((r) => r.kind)).toEqual(['job']);
    expect((await search('"checkout timeout"')).results.map((r) => r.kind)).toEqual(['job']);
    expect((await search('"timeout checkout"')).results).toEqual([]);
    expect((await search('STRIPE_KEY')).results.map((r) => r.projectName)).toEqual(['billing']);
  });

  it('keeps to a time range, from the query or from the flags', async () => {
    expect((await search('since:12h')).results.map((r) => r.kind)).toEqual(['event', 'incident', 'alert']);
    expect((await search('', '&since=12h&type=alert,incident')).results.map((r) => r.kind)).toEqual(['incident', 'alert']);
    expect((await search('until:40h project:shop-api')).results.map((r) => r.kind)).toEqual(['run', 'job']);
  });

  it('sees an event appended just before the search', async () => {
    await t.store.events.append({
      type: 'run.created',
      subject: 'run:R9',
      actor: 'api:dave',
      at: new Date().toISOString(),
      data: { runId: 'R9', number: 9, projectId: shop },
      env: ENV,
    });
    expect((await search('by:dave')).results.map((r) => r.link)).toEqual(['/runs/R9']);
  });

  it('answers the same from an index emptied and rebuilt from the event log', async () => {
    const queries = ['commit:abc123', 'release:3', 'by:alice', 'checkout', 'env:production', 'since:12h', ''];
    const before = await Promise.all(queries.map((q) => search(q)));
    await t.store.search.clear();
    const after = await Promise.all(queries.map((q) => search(q)));
    expect(after).toEqual(before);
    expect(before.at(-1)?.results.length).toBeGreaterThan(5);
  });

  it('refuses a bad query with a coded error that says where, and an unknown project with NOT_FOUND', async () => {
    const bad = await t.app.inject({ url: '/api/search?q=deploy%20colour:red', headers: { authorization: `Bearer ${t.token}` } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ error: { code: 'SEARCH_QUERY_INVALID', message: expect.stringContaining('at column 8') } });
    const unknown = await t.app.inject({ url: '/api/search?q=project:nope', headers: { authorization: `Bearer ${t.token}` } });
    expect(unknown.statusCode).toBe(404);
  });
});
