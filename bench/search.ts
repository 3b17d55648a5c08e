/**
 * What a search costs over a year of records: PROJECTS projects (50) with a year of events at
 * realistic rates — per project and day RUNS runs of 4 jobs (every 8th fails with one of a few
 * reasons), a release and its deploy (rollout phases; one in ten rolled back), an SLO alert a
 * week, an incident a month — written straight into a real SQLite store (~1.3 M events), indexed
 * by the server's SearchIndexer (timed: the rebuild of an existing store), then a set of typical
 * queries through SearchService (parse, catch up, index, one result per thing): p50 and p95 of
 * each and over all. The baseline, in the same run, answers the same queries as a naive scan of
 * the event log with LIKE (what search would be without the index); the ratio is index ÷ scan.
 *
 *   npm run bench:search            (PROJECTS=50 DAYS=365 RUNS=6 ROUNDS=7; a few minutes)
 *   QUICK=1 npm run bench:search    (PROJECTS=5: ~130 k events, well under a minute)
 */
import { dirname, join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { systemClock } from '../src/core/clock.ts';
import { parseSearchQuery, type SearchQuery } from '../src/search/index.ts';
import { SearchIndexer, SearchService } from '../src/server/search/index.ts';
import { openStore } from '../src/store/index.ts';
import type { Store } from '../src/store/ports.ts';
import { benchMain, percentile, progress, round, tempDir } from './lib.ts';

const QUICK = process.env.QUICK === '1';
const PROJECTS = Number(process.env.PROJECTS ?? (QUICK ? 5 : 50));
const DAYS = Number(process.env.DAYS ?? 365);
const RUNS = Number(process.env.RUNS ?? 6);
const ROUNDS = Number(process.env.ROUNDS ?? (QUICK ? 5 : 7));
/** The scan takes seconds a query on the full log: fewer rounds keep the run bounded. */
const BASELINE_ROUNDS = Math.min(ROUNDS, 3);
const TARGET_MS = 300;
const DAY = 86_400_000;
const NOW = Date.UTC(2026, 11, 1);
const START = NOW - DAYS * DAY;
const PEOPLE = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'heidi', 'ivan', 'judy'];
const JOBS = ['build', 'lint', 'unit-tests', 'e2e'];
const REASONS = [
  'connection refused to postgres:5432',
  'checkout timeout after 30s',
  'npm ERR! code E404',
  'assertion failed in cart.test.ts',
  'OOM killed at 2 GiB',
];
const ENV_JSON = JSON.stringify({ gantryVersion: 'bench', nodeVersion: process.version, host: 'bench' });

/** A deterministic pseudo-random sequence (mulberry32), so every run generates the same log. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const hex40 = (n: number) => (n.toString(16).padStart(8, '0').repeat(5) as string).slice(0, 40);

interface Generated {
  events: number;
  /** Things the queries look for, picked from the generated log. */
  sampleCommit: string;
  sampleRelease: { project: string; number: number };
}

/** Writes the log in time order (ids rise with time, as a live server's do) in large transactions. */
function generate(path: string, projects: { id: string; name: string }[]): Generated {
  const db = new DatabaseSync(path);
  const insert = db.prepare('insert into events (type, subject, actor, at, data, env) values (?, ?, ?, ?, ?, ?)');
  const rand = random(42);
  let count = 0;
  let sampleCommit = '';
  let sampleRelease = { project: '', number: 0 };
  const releases = new Map<string, number>();
  const incidents = new Map<string, number>();
  db.exec('begin');
  for (let day = 0; day < DAYS; day++) {
    // The day's events of every project, merged by time.
    const today: { at: number; row: [string, string, string, string, string, string] }[] = [];
    const add = (at: number, type: string, subject: string, actor: string, data: Record<string, unknown>, commit?: string) =>
      today.push({
        at,
        row: [
          type,
          subject,
          actor,
          new Date(at).toISOString(),
          JSON.stringify(data),
          commit ? `${ENV_JSON.slice(0, -1)},"commit":"${commit}"}` : ENV_JSON,
        ],
      });
    for (const [p, project] of projects.entries()) {
      const base = START + day * DAY;
      for (let r = 0; r < RUNS; r++) {
        const t = base + Math.floor(rand() * (DAY - 3_600_000));
        const runId = `run-${p}-${day}-${r}`;
        const sha = hex40(Math.floor(rand() * 2 ** 32));
        const person = PEOPLE[Math.floor(rand() * PEOPLE.length)] as string;
        const fails = rand() < 1 / 8;
        add(
          t,
          'run.created',
          `run:${runId}`,
          `api:${person}`,
          { runId, number: day * RUNS + r + 1, projectId: project.id, kind: 'push', ref: 'refs/heads/main', sha },
          sha,
        );
        add(t + 50, 'run.running', `run:${runId}`, 'server', { runId, status: 'running', projectId: project.id }, sha);
        for (const [j, key] of JOBS.entries()) {
          const failed = fails && j === JOBS.length - 1;
          add(
            t + 100 + j * 60_000,
            'job.running',
            `job:${runId}/${key}`,
            'server',
            { runId, key, status: 'running', attempt: 1, reason: null, projectId: project.id },
            sha,
          );
          const reason = failed ? (REASONS[Math.floor(rand() * REASONS.length)] as string) : null;
          add(
            t + 100 + (j + 1) * 60_000 - 1,
            `job.${failed ? 'failure' : 'success'}`,
            `job:${runId}/${key}`,
            'server',
            { runId, key, status: failed ? 'failure' : 'success', attempt: 1, reason, projectId: project.id },
            sha,
          );
        }
        add(
          t + 300_000,
          `run.${fails ? 'failure' : 'success'}`,
          `run:${runId}`,
          'server',
          { runId, status: fails ? 'failure' : 'success', projectId: project.id },
          sha,
        );
        if (r === RUNS - 1 && !fails) {
          const number = (releases.get(project.id) ?? 0) + 1;
          releases.set(project.id, number);
          const releaseId = `rel-${p}-${number}`;
          const rolloutId = `ro-${p}-${number}`;
          add(
            t + 400_000,
            'release.created',
            `release:${releaseId}`,
            'trigger:push',
            { releaseId, number, projectId: project.id, runId, sha, commits: [{ sha, at: new Date(t).toISOString() }] },
            sha,
          );
          add(
            t + 500_000,
            'rollout.created',
            `rollout:${rolloutId}`,
            `api:${person}`,
            {
              rolloutId,
              projectId: project.id,
              environment: 'production',
              releaseId,
              releaseNumber: number,
              strategy: 'canary',
              kind: 'deploy',
            },
            sha,
          );
          add(
            t + 510_000,
            'rollout.phase.progressing',
            `rollout:${rolloutId}`,
            'server',
            { rolloutId, environment: 'production', from: 'pending', reason: null },
            sha,
          );
          const rolledBack = rand() < 0.1;
          add(
            t + 900_000,
            `rollout.phase.${rolledBack ? 'rolled-back' : 'succeeded'}`,
            `rollout:${rolloutId}`,
            'server',
            { rolloutId, environment: 'production', from: 'progressing', reason: rolledBack ? 'error rate 4.1% over 1%' : null },
            sha,
          );
          if (sampleCommit === '' && day >= Math.floor(DAYS * 0.75) && p === 7 % projects.length) {
            sampleCommit = sha;
            sampleRelease = { project: project.name, number };
          }
        }
      }
      if (rand() < 1 / 7) {
        const t = base + Math.floor(rand() * DAY);
        const where = `environment:${project.id}/production`;
        add(t, 'slo.alert.fired', where, 'server', {
          projectId: project.id,
          environment: 'production',
          slo: 'availability',
          severity: 'page',
          objective: 0.999,
        });
        add(t + 1_800_000, 'slo.alert.resolved', where, 'server', {
          projectId: project.id,
          environment: 'production',
          slo: 'availability',
          severity: 'page',
        });
        if (rand() < 0.25) {
          const number = (incidents.get(project.id) ?? 0) + 1;
          incidents.set(project.id, number);
          const person = PEOPLE[Math.floor(rand() * PEOPLE.length)] as string;
          add(t + 60_000, 'incident.opened', where, 'alert', {
            projectId: project.id,
            environment: 'production',
            number,
            title: 'availability burning fast',
            severity: 'sev2',
          });
          add(t + 600_000, 'incident.acknowledged', where, `api:${person}`, { projectId: project.id, environment: 'production', number });
          add(t + 1_900_000, 'incident.resolved', where, `api:${person}`, { projectId: project.id, environment: 'production', number });
        }
      }
    }
    today.sort((a, b) => a.at - b.at);
    for (const e of today) insert.run(...e.row);
    count += today.length;
    if (day % 30 === 29) {
      db.exec('commit');
      db.exec('begin');
      progress(`generated ${count} events (${day + 1} days)`);
    }
  }
  db.exec('commit');
  db.close();
  return { events: count, sampleCommit, sampleRelease };
}

/**
 * The baseline: the same query answered by scanning the event log with LIKE, newest first, as a
 * search without an index would (case-insensitive for ASCII, like the index). Reads a page as
 * large as the service's first page.
 */
function likeScan(db: DatabaseSync, q: SearchQuery, projectIds: string[], limit: number): number {
  const where: string[] = [];
  const args: (string | number)[] = [];
  const text = "lower(type || ' ' || actor || ' ' || subject || ' ' || data)";
  /** One condition: any of the clauses, each with its one parameter. */
  const anyOf = (clauses: [string, string | number][]) => {
    if (clauses.length === 0) return;
    where.push(`(${clauses.map(([clause]) => clause).join(' or ')})`);
    for (const [, arg] of clauses) args.push(arg);
  };
  for (const t of q.text) for (const w of t.words) anyOf([[`${text} like ?`, `%${w}%`]]);
  for (const t of q.text) if (t.phrase) anyOf([[`${text} like ?`, `%${t.phrase}%`]]);
  anyOf(q.commits.map((c) => ['env || data like ?', `%${c}%`]));
  anyOf(
    q.releases.flatMap((r) => [
      ['data like ?', `%"releaseNumber":${r},%`] as [string, string],
      ['data like ?', `%"number":${r},%`] as [string, string],
    ]),
  );
  anyOf(q.people.map((p) => ['actor like ?', `%${p}%`]));
  const prefixes: Record<string, string> = {
    run: 'run.',
    job: 'job.',
    deploy: 'rollout.',
    release: 'release.',
    incident: 'incident.',
    alert: 'slo.alert.',
  };
  anyOf([...q.kinds.map((k) => `${prefixes[k] ?? k}%`), ...q.eventTypes].map((k) => ['type like ?', k]));
  anyOf(projectIds.map((id) => ['subject || data like ?', `%${id}%`]));
  anyOf(q.environments.map((e) => ['subject || data like ?', `%${e}%`]));
  if (q.since !== null) anyOf([['at >= ?', new Date(q.since).toISOString()]]);
  if (q.until !== null) anyOf([['at <= ?', new Date(q.until).toISOString()]]);
  const sql = `select id from events ${where.length ? `where ${where.join(' and ')}` : ''} order by id desc limit ${limit}`;
  return db.prepare(sql).all(...args).length;
}

/** Wall and CPU (user + system of this process) milliseconds per round: CPU is the steadier figure on a shared machine. */
async function timedRounds(rounds: number, body: () => Promise<unknown> | unknown): Promise<{ wall: number[]; cpu: number[] }> {
  await body(); // warm-up: page cache, JIT
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const cpuBefore = process.cpuUsage();
    const start = performance.now();
    await body();
    wall.push(performance.now() - start);
    const used = process.cpuUsage(cpuBefore);
    cpu.push((used.user + used.system) / 1000);
  }
  return { wall, cpu };
}

await benchMain('search', (QUICK ? 4 : 25) * 60_000, async () => {
  // KEEP_DB=/path/gantry.db keeps the generated store for a closer look (it must not exist yet).
  const dir = process.env.KEEP_DB ? dirname(process.env.KEEP_DB) : await tempDir('search');
  const path = process.env.KEEP_DB ?? join(dir, 'gantry.db');
  let store: Store = await openStore({ url: `sqlite:${path}` });
  const projects: { id: string; name: string }[] = [];
  for (let p = 0; p < PROJECTS; p++) {
    const name = `service-${String(p).padStart(2, '0')}`;
    projects.push({ id: (await store.projects.create({ name, source: { kind: 'local', path: dir }, webhookSecret: 'w' })).id, name });
  }
  await store.close();
  const generateStart = performance.now();
  const generated = generate(path, projects);
  progress(`generated ${generated.events} events in ${Math.round(performance.now() - generateStart)} ms; indexing`);

  store = await openStore({ url: `sqlite:${path}` });
  const scan = new DatabaseSync(path, { readOnly: true });
  try {
    const indexer = new SearchIndexer(store);
    const indexStart = performance.now();
    await indexer.catchUp();
    const indexMs = performance.now() - indexStart;
    progress(`indexed in ${Math.round(indexMs)} ms`);
    const service = new SearchService({
      store,
      indexer,
      requireProject: async (p) => {
        const found = await store.projects.get(p);
        if (!found) throw new Error(`no project ${p}`);
        return found;
      },
      clock: { ...systemClock, now: () => NOW },
    });
    const p17 = projects[17 % projects.length]?.name as string;
    const p3 = projects[3 % projects.length]?.name as string;
    const queries = [
      `commit:${generated.sampleCommit.slice(0, 7)}`,
      `release:${generated.sampleRelease.number} project:${generated.sampleRelease.project}`,
      'by:alice',
      'by:bob type:deploy since:30d',
      'type:deploy env:production since:7d',
      'timeout',
      `"connection refused" type:job project:${p17}`,
      'type:incident since:30d',
      `type:alert project:${p3}`,
      'oom*',
      'type:run.failure since:2d',
      'rolled back error rate',
      '',
    ];
    const perQuery = [];
    const all: number[] = [];
    const allBaseline: number[] = [];
    const allCpu: number[] = [];
    const allBaselineCpu: number[] = [];
    for (const text of queries) {
      const parsed = parseSearchQuery(text, NOW);
      const ids = await Promise.all(parsed.projects.map(async (p) => (await store.projects.get(p))?.id as string));
      let results = 0;
      const { wall: times, cpu } = await timedRounds(ROUNDS, async () => {
        results = (await service.search(text)).results.length;
      });
      let scanned = 0;
      const { wall: baseline, cpu: baselineCpu } = await timedRounds(BASELINE_ROUNDS, () => {
        scanned = likeScan(scan, parsed, ids, 200);
      });
      all.push(...times);
      allCpu.push(...cpu);
      allBaseline.push(...baseline);
      allBaselineCpu.push(...baselineCpu);
      const row = {
        query: text,
        results,
        baseline_rows: scanned,
        p50_ms: round(percentile(times, 50)),
        p95_ms: round(percentile(times, 95)),
        cpu_p50_ms: round(percentile(cpu, 50)),
        cpu_p95_ms: round(percentile(cpu, 95)),
        baseline_like_p50_ms: round(percentile(baseline, 50)),
        baseline_like_cpu_p50_ms: round(percentile(baselineCpu, 50)),
        ratio_p50: round(percentile(times, 50) / percentile(baseline, 50), 3),
      };
      progress(JSON.stringify(row));
      perQuery.push(row);
    }
    const p95 = percentile(all, 95);
    return {
      projects: PROJECTS,
      days: DAYS,
      events: generated.events,
      index_build_ms: Math.round(indexMs),
      index_events_per_s: Math.round(generated.events / (indexMs / 1000)),
      rounds: ROUNDS,
      baseline_rounds: BASELINE_ROUNDS,
      target_ms: TARGET_MS,
      search_p50_ms: round(percentile(all, 50)),
      search_p95_ms: round(p95),
      slowest_query_p95_ms: Math.max(...perQuery.map((q) => q.p95_ms)),
      search_cpu_p50_ms: round(percentile(allCpu, 50)),
      search_cpu_p95_ms: round(percentile(allCpu, 95)),
      slowest_query_cpu_p95_ms: Math.max(...perQuery.map((q) => q.cpu_p95_ms)),
      baseline_like_cpu_p95_ms: round(percentile(allBaselineCpu, 95)),
      ratio_cpu_p95_search_to_like: round(percentile(allCpu, 95) / percentile(allBaselineCpu, 95), 4),
      baseline_like_p50_ms: round(percentile(allBaseline, 50)),
      baseline_like_p95_ms: round(percentile(allBaseline, 95)),
      ratio_p95_search_to_like: round(p95 / percentile(allBaseline, 95), 4),
      meets_target: Math.max(...perQuery.map((q) => q.p95_ms)) < TARGET_MS,
      queries: perQuery,
    };
  } finally {
    scan.close();
    await store.close();
  }
});
