import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, waitForRunEnd, type TestServer } from '../../support/server.ts';
import { makeRepo } from '../../support/repo.ts';

const PIPELINE = 'pipeline:\n  on:\n    manual: {}\n  jobs:\n    hello:\n      steps:\n        - run: echo hi\n';

interface ScopedEvent {
  id: number;
  type: string;
  subject: string;
  scope: { projectId: string | null; environment: string | null };
}

describe('the events timeline API', () => {
  let server: TestServer;
  const repos: Awaited<ReturnType<typeof makeRepo>>[] = [];
  const projectIds: string[] = [];

  beforeAll(async () => {
    server = await startTestServer();
    for (const name of ['alpha', 'beta']) {
      const repo = await makeRepo({ 'gantry.yaml': PIPELINE });
      repos.push(repo);
      const added = await server.api<{ project: { id: string } }>('POST', '/api/projects', { path: repo.dir, name });
      projectIds.push(added.body.project.id);
      const run = await server.api<{ run: { id: string } }>('POST', `/api/projects/${name}/runs`, {});
      await waitForRunEnd(server, run.body.run.id);
    }
  });
  afterAll(async () => {
    await server.cleanup();
    for (const repo of repos) await repo.cleanup();
  });

  it('resolves the project of run and job events and filters by it', async () => {
    const all = (await server.api<{ events: ScopedEvent[] }>('GET', '/api/events?type=run.*')).body.events;
    expect(new Set(all.map((e) => e.scope.projectId))).toEqual(new Set(projectIds));
    const beta = (await server.api<{ events: ScopedEvent[] }>('GET', '/api/events?project=beta')).body.events;
    expect(beta.length).toBeGreaterThan(3);
    expect(beta.every((e) => e.scope.projectId === projectIds[1])).toBe(true);
    expect(beta.some((e) => e.subject.startsWith('job:'))).toBe(true);
    expect(beta.some((e) => e.type === 'run.success')).toBe(true);
  });

  it('pages back through history newest first', async () => {
    const newest = (await server.api<{ events: ScopedEvent[] }>('GET', '/api/events?order=desc&limit=3')).body.events;
    expect(newest.map((e) => e.id)).toEqual([...newest.map((e) => e.id)].sort((a, b) => b - a));
    const older = (await server.api<{ events: ScopedEvent[] }>('GET', `/api/events?order=desc&limit=3&before=${newest.at(-1)!.id}`)).body
      .events;
    expect(older[0]!.id).toBeLessThan(newest.at(-1)!.id);
  });

  it('streams only the filtered project, resuming after Last-Event-ID', async () => {
    const response = await fetch(`${server.url}/api/events/stream?project=alpha&type=run.*`, {
      headers: { authorization: `Bearer ${server.token}`, 'last-event-id': '0' },
    });
    const reader = response.body!.getReader();
    let text = '';
    while (!text.includes('run.success')) text += new TextDecoder().decode((await reader.read()).value);
    await reader.cancel();
    const events = text
      .split('\n')
      .filter((l) => l.startsWith('data: '))
      .map((l) => JSON.parse(l.slice(6)) as ScopedEvent);
    expect(events.length).toBeGreaterThan(0);
    expect(events.every((e) => e.scope.projectId === projectIds[0] && e.type.startsWith('run.'))).toBe(true);
  });
});
