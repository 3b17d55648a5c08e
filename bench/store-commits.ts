/**
 * What a durable commit costs the server: run transitions (a job's patch and its event in one
 * transaction, as `RunStore.transition` stores every reducer step) on the real SQLite store in a
 * temp dir, by WRITERS runs at once, each applying its transitions one after another (a run's
 * driver waits for each before the next).
 *
 * Baseline in the same run, same file system, same statements: SQLite's own `synchronous=FULL`,
 * which fsyncs the WAL inside every COMMIT on the event loop (the store's setting before group
 * commit, docs/decisions/0050). Figures per transition: wall time and the process's CPU; and the
 * event loop's longest stall during the run, seen by a timer re-armed at every turn (what any other
 * request would have waited). The variants alternate.
 *
 * Env: TRANSITIONS (per variant and writer count, default 2000), WRITERS (comma-separated, default
 * `1,8,32`), ROUNDS (default 3; medians).
 */
import { join } from 'node:path';
import { Kysely } from 'kysely';
import type { Database } from '../src/store/migrations.ts';
import { migrateToLatest } from '../src/store/migrations.ts';
import { createKyselyStore } from '../src/store/kysely-store.ts';
import type { Store } from '../src/store/ports.ts';
import { NodeSqliteDialect, openSqliteDatabase } from '../src/store/sqlite-dialect.ts';
import { jobRow, manualRun } from '../test/support/run-records.ts';
import { benchMain, progress, round, spread, tempDir } from './lib.ts';

const TRANSITIONS = Number(process.env.TRANSITIONS ?? 2000);
const WRITERS = (process.env.WRITERS ?? '1,8,32').split(',').map(Number);
const ROUNDS = Number(process.env.ROUNDS ?? 3);

type Variant = 'group_commit' | 'sqlite_full';

async function openVariant(variant: Variant, dir: string): Promise<Store> {
  const database = openSqliteDatabase(join(dir, 'gantry.db'));
  if (variant === 'sqlite_full') database.exec('PRAGMA synchronous = FULL');
  // The baseline's commits are durable when COMMIT returns: nothing left for the driver to sync.
  const syncWal = variant === 'sqlite_full' ? () => {} : undefined;
  const db = new Kysely<Database>({ dialect: new NodeSqliteDialect({ database, syncWal }) });
  await migrateToLatest(db, 'sqlite');
  return createKyselyStore(db, 'sqlite');
}

const ENV = { gantryVersion: 'bench', nodeVersion: process.version, host: 'bench' };

async function newRun(store: Store, n: number): Promise<string> {
  return (await store.runs.create(manualRun(), [jobRow('build', { status: 'queued', interruptions: n })])).id;
}

interface Figures {
  wall_us: number;
  cpu_us: number;
  longest_loop_stall_ms: number;
}

async function measure(variant: Variant, writers: number): Promise<Figures> {
  const store = await openVariant(variant, await tempDir(`commits-${variant}`));
  try {
    const runs = await Promise.all(Array.from({ length: writers }, (_, i) => newRun(store, i)));
    const each = Math.ceil(TRANSITIONS / writers);
    // Another request's view: a timer re-armed at every turn of the loop; its longest wait.
    let lastTurn = performance.now();
    let longestStall = 0;
    let probing = true;
    const probe = () => {
      const now = performance.now();
      longestStall = Math.max(longestStall, now - lastTurn);
      lastTurn = now;
      if (probing) setTimeout(probe, 0);
    };
    setTimeout(probe, 0);
    const cpu = process.cpuUsage();
    const started = performance.now();
    await Promise.all(
      runs.map(async (runId) => {
        for (let i = 0; i < each; i++) {
          const status = i % 2 === 0 ? 'running' : 'queued';
          await store.runs.transition(runId, {
            jobs: [{ key: 'build', patch: { status, attempt: i } }],
            events: [{ type: `job.${status}`, subject: `job:${runId}/build`, actor: 'server', data: { runId, i }, env: ENV }],
          });
        }
      }),
    );
    const wall = performance.now() - started;
    const used = process.cpuUsage(cpu);
    probing = false;
    longestStall = Math.max(longestStall, performance.now() - lastTurn);
    const total = each * writers;
    return {
      wall_us: (wall * 1000) / total,
      cpu_us: (used.user + used.system) / total,
      longest_loop_stall_ms: longestStall,
    };
  } finally {
    await store.close();
  }
}

await benchMain('store-commits', 170_000, async () => {
  const results: Record<string, unknown> = {};
  for (const writers of WRITERS) {
    const got: Record<Variant, Figures[]> = { group_commit: [], sqlite_full: [] };
    for (let r = 0; r < ROUNDS; r++) {
      for (const variant of ['sqlite_full', 'group_commit'] as const) {
        const f = await measure(variant, writers);
        got[variant].push(f);
        progress(
          `${writers} writers, ${variant}: ${round(f.wall_us, 0)} µs/transition, CPU ${round(f.cpu_us, 0)} µs, longest stall ${round(f.longest_loop_stall_ms, 1)} ms`,
        );
      }
    }
    const median = (variant: Variant, pick: (f: Figures) => number) => spread(got[variant].map(pick), 1);
    const figures = (variant: Variant) => ({
      wall_us_per_transition: median(variant, (f) => f.wall_us),
      cpu_us_per_transition: median(variant, (f) => f.cpu_us),
      longest_loop_stall_ms: median(variant, (f) => f.longest_loop_stall_ms),
    });
    const group = figures('group_commit');
    const full = figures('sqlite_full');
    results[`writers_${writers}`] = {
      group_commit: group,
      baseline: { name: "SQLite's synchronous=FULL (fsync inside each COMMIT), same run", ...full },
      ratio_wall: round(group.wall_us_per_transition.median / full.wall_us_per_transition.median, 2),
      ratio_cpu: round(group.cpu_us_per_transition.median / full.cpu_us_per_transition.median, 2),
    };
  }
  return { transitions: TRANSITIONS, rounds: ROUNDS, ...results };
});
