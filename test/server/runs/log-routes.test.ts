import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, waitForRunEnd, type TestServer } from '../../support/server.ts';
import { waitFor } from '../../support/wait.ts';
import { makeRepo } from '../../support/repo.ts';

interface Page {
  from: number;
  lines: string[];
  total: number;
  complete: boolean;
  truncated: boolean;
}
interface Search {
  matches: number[];
  more: boolean;
  searchedTo: number;
}
interface LineEvent {
  id: string;
  at: string;
  stream: string;
  text: string;
  line: number;
}

const textOf = (raw: string): string => raw.replace(/^\S+ [oes] /, '');

/** Reads a log's SSE stream until `end` (or until `stopWhen` says so), returning its line events. */
async function follow(
  server: TestServer,
  path: string,
  o: { headers?: Record<string, string>; stopWhen?: (lines: LineEvent[]) => boolean } = {},
): Promise<{ lines: LineEvent[]; end: unknown }> {
  const controller = new AbortController();
  const response = await fetch(`${server.url}${path}`, {
    headers: { authorization: `Bearer ${server.token}`, ...o.headers },
    signal: controller.signal,
  });
  expect(response.status).toBe(200);
  const lines: LineEvent[] = [];
  let end: unknown = null;
  let buffer = '';
  const decoder = new TextDecoder();
  try {
    for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      let boundary: number;
      while ((boundary = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, boundary);
        buffer = buffer.slice(boundary + 2);
        const field = (name: string) =>
          block
            .split('\n')
            .find((l) => l.startsWith(`${name}: `))
            ?.slice(name.length + 2);
        const data = field('data');
        if (field('event') === 'line' && data) lines.push({ id: field('id') ?? '', ...(JSON.parse(data) as Omit<LineEvent, 'id'>) });
        if (field('event') === 'end') end = JSON.parse(data ?? 'null');
      }
      if (end !== null || o.stopWhen?.(lines)) break;
    }
  } finally {
    controller.abort();
  }
  return { lines, end };
}

describe('log routes', () => {
  let server: TestServer;
  let repo: Awaited<ReturnType<typeof makeRepo>>;
  let gates: string;
  let runId: string;

  beforeAll(async () => {
    gates = mkdtempSync(join(tmpdir(), 'gantry-log-gates-'));
    server = await startTestServer({ options: { logCapBytes: 400_000 } });
    repo = await makeRepo({
      'gantry.yaml': `
pipeline:
  jobs:
    many:
      steps:
        - run: |
            seq 1 3000 | sed 's/^/out /'
            echo "warn on stderr" >&2
            printf 'colour \\033[31mred\\033[0m and Needle\\n'
    huge:
      steps:
        - run: seq 1 30000 | sed 's/^/huge line number /'
    slow:
      steps:
        - run: |
            seq 1 50 | sed 's/^/early /'
            while [ ! -f "${gates}/go" ]; do sleep 0.05; done
            seq 1 5 | sed 's/^/late /'
`,
    });
    await server.api('POST', '/api/projects', { path: repo.dir, name: 'logs' });
    runId = (await server.api<{ run: { id: string } }>('POST', '/api/projects/logs/runs', {})).body.run.id;
  });
  afterAll(async () => {
    writeFileSync(join(gates, 'go'), '');
    await server?.cleanup();
    await repo?.cleanup();
    rmSync(gates, { recursive: true, force: true });
  });

  const lines = (job: string, query: string) => server.api<Page>('GET', `/api/runs/${runId}/jobs/${job}/log/lines?${query}`);
  const search = (job: string, query: string) => server.api<Search>('GET', `/api/runs/${runId}/jobs/${job}/log/search?${query}`);

  it('follows only what comes after fromLine, numbering lines, while the job runs', async () => {
    const before = await waitFor(
      async () => {
        const page = (await lines('slow', 'from=0&count=2000')).body;
        return page.lines.some((l) => textOf(l) === 'early 50') ? page : undefined;
      },
      { what: 'the early lines', timeoutMs: 20_000 },
    );
    expect(before.complete).toBe(false);
    const stream = follow(server, `/api/runs/${runId}/jobs/slow/log?follow=true&fromLine=${before.total}`);
    writeFileSync(join(gates, 'go'), '');
    const { lines: events, end } = await stream;
    const late = events.filter((e) => e.text.startsWith('late '));
    expect(late.map((e) => e.text)).toEqual(['late 1', 'late 2', 'late 3', 'late 4', 'late 5']);
    expect(events.some((e) => e.text.startsWith('early '))).toBe(false);
    expect(events[0]?.line).toBe(before.total);
    expect(events.map((e) => e.line)).toEqual(events.map((_, i) => before.total + i));
    expect(events.map((e) => e.id)).toEqual(events.map((e) => String(e.line)));
    expect(end).toMatchObject({ status: 'success', logTruncated: false });

    const after = (await lines('slow', `from=${before.total}&count=100`)).body;
    expect(after.complete).toBe(true);
    expect(after.lines.map(textOf)).toEqual(events.map((e) => e.text));
  });

  it('serves pages of raw lines by number, with the total and the job state', async () => {
    await waitForRunEnd(server, runId);
    const first = (await lines('many', 'from=0&count=500')).body;
    expect(first.from).toBe(0);
    expect(first.complete).toBe(true);
    expect(first.truncated).toBe(false);
    expect(first.lines).toHaveLength(500);
    for (const raw of first.lines) expect(raw).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z [oes] /);
    const offset = first.lines.findIndex((l) => textOf(l) === 'out 1');
    expect(offset).toBeGreaterThanOrEqual(0);
    // Page boundaries: consecutive pages join without gaps or overlaps.
    const second = (await lines('many', 'from=500&count=500')).body;
    expect(textOf(second.lines[0]!)).toBe(`out ${501 - offset}`);
    expect(textOf(first.lines[499]!)).toBe(`out ${500 - offset}`);
    const whole = (await lines('many', 'from=0&count=2000')).body.lines.concat((await lines('many', 'from=2000&count=2000')).body.lines);
    expect(whole).toHaveLength(first.total);
    expect(whole.slice(0, 1000)).toEqual([...first.lines, ...second.lines]);
    const raw = (await server.api<string>('GET', `/api/runs/${runId}/jobs/many/log`)).body;
    expect(`${whole.join('\n')}\n`).toBe(raw);
    expect(whole.find((l) => l.includes('warn on stderr'))).toMatch(/ e warn on stderr$/);
    expect(whole.find((l) => l.includes('red'))).toContain('\u001b[31mred\u001b[0m');
    expect((await lines('many', `from=${first.total}&count=10`)).body.lines).toEqual([]);

    const tooMany = await server.api<{ error: { code: string } }>('GET', `/api/runs/${runId}/jobs/many/log/lines?from=0&count=2001`);
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.error.code).toBe('INVALID_INPUT');
    expect((await server.api('GET', `/api/runs/${runId}/jobs/nope/log/lines`)).status).toBe(404);
  });

  it('searches the text of lines, by case, with a limit', async () => {
    const all = (await lines('many', 'from=0&count=2000')).body.lines.concat((await lines('many', 'from=2000&count=2000')).body.lines);
    const exact = (await search('many', 'q=Needle&case=true')).body;
    expect(exact).toEqual({ matches: [all.findIndex((l) => l.includes('Needle'))], more: false, searchedTo: all.length });
    expect((await search('many', 'q=needle&case=true')).body.matches).toEqual([]);
    expect((await search('many', 'q=needle')).body.matches).toEqual(exact.matches);
    const expected = all
      .map((l, i) => [textOf(l), i] as const)
      .filter(([t]) => t.includes('out 12'))
      .map(([, i]) => i);
    expect((await search('many', `q=${encodeURIComponent('out 12')}&limit=1000`)).body.matches).toEqual(expected);
    const limited = (await search('many', `q=${encodeURIComponent('out 12')}&limit=5`)).body;
    expect(limited.matches).toEqual(expected.slice(0, 5));
    expect(limited.more).toBe(true);

    const empty = await server.api<{ error: { code: string; message: string } }>('GET', `/api/runs/${runId}/jobs/many/log/search?q=`);
    expect(empty.status).toBe(400);
    expect(empty.body.error).toMatchObject({ code: 'INVALID_INPUT', message: expect.stringContaining('q') });
    expect((await server.api('GET', `/api/runs/${runId}/jobs/many/log/search`)).status).toBe(400);
    expect((await server.api('GET', `/api/runs/${runId}/jobs/many/log/search?q=x&limit=1001`)).status).toBe(400);
  });

  it('marks a truncated log, whose marker line the pages and the search reach', async () => {
    const first = (await lines('huge', 'from=0&count=10')).body;
    expect(first.truncated).toBe(true);
    const marker = (await search('huge', `q=${encodeURIComponent('[gantry] log truncated:')}&case=true`)).body.matches;
    expect(marker).toHaveLength(1);
    const around = (await lines('huge', `from=${marker[0]! - 1}&count=3`)).body.lines;
    expect(around[1]).toMatch(/ s \[gantry\] log truncated: \d+ bytes \(\d+ lines\) cut from the middle$/);
    expect(textOf(around[2]!)).toMatch(/^huge line number \d+$/);
    const last = (await lines('huge', `from=${first.total - 1}&count=1`)).body.lines;
    expect(last.length).toBe(1);
  });

  it('follows a finished log from a line, or after the Last-Event-ID of a reconnect', async () => {
    const total = (await lines('many', 'from=0&count=0')).body.total;
    const tail = await follow(server, `/api/runs/${runId}/jobs/many/log?follow=true&fromLine=${total - 3}`);
    expect(tail.lines.map((e) => e.line)).toEqual([total - 3, total - 2, total - 1]);
    const all = (await lines('many', `from=${total - 3}&count=3`)).body.lines;
    expect(tail.lines.map((e) => `${e.at} ${e.stream} ${e.text}`)).toEqual(all);
    const resumed = await follow(server, `/api/runs/${runId}/jobs/many/log?follow=true&fromLine=0`, {
      headers: { 'last-event-id': String(total - 2) },
    });
    expect(resumed.lines.map((e) => e.line)).toEqual([total - 1]);
    const beyond = await follow(server, `/api/runs/${runId}/jobs/many/log?follow=true&fromLine=${total + 5}`);
    expect(beyond.lines).toEqual([]);
    expect(beyond.end).toMatchObject({ status: 'success' });
  });
});
