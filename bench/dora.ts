/**
 * What `GET /api/dora` costs on a long history: one project with DEPLOYS deployments to
 * production over a year (releases of 1–5 commits, one canary in ten rolled back, an incident in
 * twenty, a rollback in fifty), buried in NOISE run and job events per deployment as a real log
 * is, on a real SQLite store. Times what the route does — read DORA's event types through the
 * type index, replay them, compute a 90-day window — against the baseline of reading the whole
 * log and filtering it in memory (what the route would do without `EventStore.list({ types })`).
 *
 *   npm run bench:dora     (DEPLOYS=2000 NOISE=20 ROUNDS=15)
 */
import { join } from 'node:path';
import { DORA_EVENT_TYPES, doraReport, toDoraEvents } from '../src/dora/index.ts';
import { openStore } from '../src/store/index.ts';
import type { NewEvent, Store } from '../src/store/ports.ts';
import { benchMain, progress, round, spread, tempDir } from './lib.ts';

const DEPLOYS = Number(process.env.DEPLOYS ?? 2000);
const NOISE = Number(process.env.NOISE ?? 20);
const ROUNDS = Number(process.env.ROUNDS ?? 15);
const DAY = 86_400_000;
const ENV = { gantryVersion: 'bench', nodeVersion: process.version, host: 'bench' };

/** The events of the history, in log order, as the server writes them. */
function history(projectId: string, start: number): NewEvent[] {
  const events: NewEvent[] = [];
  const step = (365 * DAY) / DEPLOYS;
  const iso = (ms: number) => new Date(ms).toISOString();
  const add = (at: number, type: string, subject: string, data: Record<string, unknown>) =>
    events.push({ type, subject, actor: 'bench', at: iso(at), data: data as NewEvent['data'], env: ENV });
  let previous: string | null = null;
  let live: string | null = null;
  let incidents = 0;
  for (let i = 0; i < DEPLOYS; i++) {
    const t = start + i * step;
    for (let n = 0; n < NOISE; n++) add(t + n, n % 2 ? 'job.finished' : 'job.started', `job:run-${i}/build`, { status: 'success' });
    const release = `rel-${i}`;
    const commits = Array.from({ length: 1 + (i % 5) }, (_, c) => ({ sha: `${i}-${c}`, at: iso(t - (c + 1) * 3_600_000) }));
    add(t, 'release.created', `release:${release}`, {
      releaseId: release,
      number: i + 1,
      projectId,
      sha: `${i}-0`,
      baseReleaseId: previous,
      commits,
      commitsTruncated: false,
    });
    previous = release;
    const rollout = `ro-${i}`;
    add(t + 60_000, 'rollout.created', `rollout:${rollout}`, {
      rolloutId: rollout,
      projectId,
      environment: 'production',
      releaseId: release,
      kind: 'deploy',
    });
    if (i % 10 === 9) {
      add(t + 120_000, 'rollout.phase.rolling-back', `rollout:${rollout}`, { rolloutId: rollout, from: 'progressing' });
      add(t + 180_000, 'rollout.phase.rolled-back', `rollout:${rollout}`, { rolloutId: rollout, from: 'rolling-back' });
      continue;
    }
    add(t + 600_000, 'rollout.phase.succeeded', `rollout:${rollout}`, { rolloutId: rollout, from: 'promoting' });
    if (i % 20 === 4) {
      incidents++;
      add(t + 900_000, 'incident.opened', `environment:${projectId}/production`, { title: 'slow', severity: 'sev2' });
      add(t + 2_700_000, 'incident.mitigated', `environment:${projectId}/production`, { number: incidents });
    }
    if (i % 50 === 7 && live !== null) {
      const back = `back-${i}`;
      add(t + 1_200_000, 'rollout.created', `rollout:${back}`, {
        rolloutId: back,
        projectId,
        environment: 'production',
        releaseId: live,
        kind: 'rollback',
      });
      add(t + 1_260_000, 'rollout.phase.succeeded', `rollout:${back}`, { rolloutId: back, from: 'promoting' });
    }
    live = release;
  }
  return events;
}

async function timed(rounds: number, body: () => Promise<unknown>): Promise<{ wall: number[]; cpu: number[] }> {
  const wall: number[] = [];
  const cpu: number[] = [];
  await body(); // warm-up: page cache, JIT
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

await benchMain('dora', 4 * 60_000, async () => {
  const dir = await tempDir('dora');
  const store: Store = await openStore({ url: `sqlite:${join(dir, 'gantry.db')}` });
  try {
    const project = await store.projects.create({ name: 'bench', source: { kind: 'local', path: dir }, webhookSecret: 'w' });
    const now = Date.UTC(2026, 11, 1);
    const events = history(project.id, now - 365 * DAY);
    // Appended in batches (one transaction each, as run transitions append theirs), not timed.
    const run = await store.runs.create(
      {
        projectId: project.id,
        event: { kind: 'manual', ref: 'refs/heads/main', sha: 'a' },
        inputs: {},
        configText: '',
        configHash: 'h',
        concurrencyGroup: null,
        parentRunId: null,
      },
      [],
    );
    for (let i = 0; i < events.length; i += 2000) await store.runs.transition(run.id, { events: events.slice(i, i + 2000) });
    progress(`stored ${events.length} events (${DEPLOYS} deployments)`);
    const window = { from: now - 90 * DAY, to: now };
    const wanted = new Set(DORA_EVENT_TYPES);
    let deployments = 0;
    const typed = await timed(ROUNDS, async () => {
      const report = doraReport(toDoraEvents(await store.events.list({ types: DORA_EVENT_TYPES })), project.id, 'production', window);
      deployments = report.numbers.deployments;
    });
    const whole = await timed(ROUNDS, async () => {
      const all = (await store.events.list()).filter((e) => wanted.has(e.type));
      doraReport(toDoraEvents(all), project.id, 'production', window);
    });
    const read = (await store.events.list({ types: DORA_EVENT_TYPES })).length;
    const computeOnly = await timed(ROUNDS, async () =>
      doraReport(
        toDoraEvents(await Promise.resolve(events.map((e, id) => ({ ...e, id, at: e.at ?? '' })))),
        project.id,
        'production',
        window,
      ),
    );
    const median = (values: number[]) => spread(values).median;
    return {
      deployments_in_history: DEPLOYS,
      deployments_in_window: deployments,
      events_in_log: events.length,
      dora_events_read: read,
      rounds: ROUNDS,
      request_ms: spread(typed.wall),
      request_cpu_ms: spread(typed.cpu),
      baseline_whole_log_ms: spread(whole.wall),
      baseline_whole_log_cpu_ms: spread(whole.cpu),
      replay_in_memory_ms: spread(computeOnly.wall),
      ratio_request_to_baseline: round(median(typed.wall) / median(whole.wall), 3),
    };
  } finally {
    await store.close();
  }
});
