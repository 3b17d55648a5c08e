/**
 * The speed limits that used to be asserted inside unit tests, where a loaded machine made them
 * fail for no real reason. The tests keep the functional checks (same inputs, same results);
 * the wall-clock budgets live here, measured as the median of REPS runs after a warm-up, and are
 * reported (not thrown) as one JSON object: each case with its median, its budget and `ok`.
 *
 * Run: `npm run bench:test-timings` (Env: REPS, default 7). Exit code 0 even over budget: read
 * `over_budget` next to `machine.loadavg_1m_at_end`.
 */
import { cpSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { binomialUpperTail, mannWhitneyU } from '../src/delivery/index.ts';
import { materializeWorkspace } from '../src/executor/workspace.ts';
import { type GraphJob, layoutGraph } from '../web/src/graph/layout.ts';
import { parseAnsi } from '../web/src/log/ansi.ts';
import { benchMain, progress, round, tempDir } from './lib.ts';

const REPS = Number(process.env.REPS ?? 7);

interface Case {
  name: string;
  /** The budget the test used to assert, in ms (a function of the run for relative budgets). */
  budgetMs: number | ((self: number, others: Record<string, number>) => number);
  run(): void | Promise<void>;
}

function median(xs: number[]): number {
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
}

async function time(run: () => void | Promise<void>): Promise<number> {
  await run(); // warm-up: JIT and file cache
  const samples: number[] = [];
  for (let i = 0; i < REPS; i++) {
    const started = performance.now();
    await run();
    samples.push(performance.now() - started);
  }
  return median(samples);
}

const E = '\u001b';
const ansiLine = Array.from({ length: 2000 }, (_, i) => `${E}[3${i % 8}mword${i}${E}[0m `).join('');

const graphJobs: GraphJob[] = [];
for (let layer = 0; layer < 10; layer++) {
  for (let i = 0; i < 100; i++) {
    const needs = layer === 0 ? [] : [`j${layer - 1}-${(i * 7) % 100}`, `j${layer - 1}-${(i * 13 + 5) % 100}`];
    graphJobs.push({ key: `j${layer}-${i}`, id: `j${layer}-${i}`, needs });
  }
}

async function workspaceCases(): Promise<Case[]> {
  const root = await tempDir('gantry-bench-timings-');
  const source = path.join(root, 'source');
  for (let d = 0; d < 20; d++) {
    for (let f = 0; f < 10; f++) {
      const file = path.join(source, `d${d}`, `sub${d % 3}`, `f${f}.ts`);
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(file, 'x'.repeat(2000 + f * 500));
    }
  }
  return [
    {
      name: 'fs.cpSync of a 200-file tree (the peer)',
      budgetMs: Number.POSITIVE_INFINITY,
      run: () => {
        rmSync(path.join(root, 'native'), { recursive: true, force: true });
        cpSync(source, path.join(root, 'native'), { recursive: true, verbatimSymlinks: true });
      },
    },
    {
      name: 'materializeWorkspace of a 200-file tree',
      // About level with fs.cpSync; this catches a per-file spawn or a quadratic walk.
      budgetMs: (_self, others) => 3 * (others['fs.cpSync of a 200-file tree (the peer)'] ?? 0) + 50,
      run: () => materializeWorkspace(source, path.join(root, 'ws')),
    },
  ];
}

await benchMain('test-timings', 110_000, async () => {
  const cases: Case[] = [
    { name: 'parseAnsi of a 2,000-colour line', budgetMs: 50, run: () => void parseAnsi(ansiLine) },
    { name: 'layoutGraph of 1,000 jobs', budgetMs: 500, run: () => void layoutGraph(graphJobs) },
    { name: 'binomialUpperTail with n = 10 million', budgetMs: 100, run: () => void binomialUpperTail(10_100, 10_000_000, 0.001) },
    {
      name: 'mannWhitneyU of a billion samples in three buckets',
      budgetMs: 50,
      run: () =>
        void mannWhitneyU(
          [
            { valueMs: 101, count: 5e8 },
            { valueMs: 100, count: 1e8 },
          ],
          [
            { valueMs: 100, count: 5e8 },
            { valueMs: 99, count: 1 },
          ],
        ),
    },
    ...(await workspaceCases()),
  ];
  const medians: Record<string, number> = {};
  for (const c of cases) {
    progress(`timing ${c.name}`);
    medians[c.name] = await time(c.run);
  }
  const results = cases.map((c) => {
    const self = medians[c.name] ?? Number.NaN;
    const budget = typeof c.budgetMs === 'function' ? c.budgetMs(self, medians) : c.budgetMs;
    return { case: c.name, median_ms: round(self, 3), budget_ms: Number.isFinite(budget) ? round(budget, 1) : null, ok: self <= budget };
  });
  return { reps: REPS, cases: results, over_budget: results.filter((r) => !r.ok).map((r) => r.case) };
});
