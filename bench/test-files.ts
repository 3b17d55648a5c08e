/**
 * What single test files cost: each file run alone by `vitest run` (one worker), its wall time
 * as vitest reports it (the file, without vitest's start and global setup) and the CPU (user +
 * sys) of the whole run — vitest, its worker and every process the file started and waited for,
 * the steadier figure on a shared machine. It includes what every run pays once (vitest's start,
 * the throwaway PostgreSQL cluster of test/support/global-setup.ts): `fixed_cpu_ms` is that
 * share, measured on a file with one trivial test, for reading small files.
 *
 * With BASE=<git ref> the same files also run in a copy of that commit (`git archive`, this
 * tree's node_modules linked, its own web build), alternating file by file, and each file gets
 * its ratio this tree ÷ BASE; that is how the before/after figures of the test-timings section of
 * BENCHMARKS.md were taken.
 *
 * Run: `npm run bench:test-files [-- <test file>…]` (default: the slowest end-to-end files).
 * Env: BASE (no baseline), REPS (1, runs of each file per tree; medians), DEADLINE_S (1200).
 */
import { existsSync, readFileSync, symlinkSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { benchMain, NODE, progress, REPO_ROOT, round, runCmd, runOk, tempDir } from './lib.ts';

const DEFAULT_FILES = [
  'test/e2e/slo.test.ts',
  'test/e2e/slo-prometheus-agreement.test.ts',
  'test/e2e/dashboard-slo.test.ts',
  'test/e2e/notify-durability.test.ts',
];
const FIXED_COST_FILE = 'test/core/ids.test.ts';
const REPS = Number(process.env.REPS ?? 1);
const BASE = process.env.BASE ?? '';
const files = process.argv.slice(2).length > 0 ? process.argv.slice(2) : DEFAULT_FILES;
const VITEST = join(REPO_ROOT, 'node_modules', 'vitest', 'vitest.mjs');

interface FileRun {
  fileMs: number;
  cpuMs: number;
  ok: boolean;
  /** The first failure's message, cut short, when a test failed. */
  failure?: string;
}

/** Runs one file alone in `root`; vitest's JSON report gives the file's own duration and verdict. */
async function runFile(root: string, file: string, reportDir: string): Promise<FileRun> {
  const report = join(reportDir, `${Date.now()}-${file.replaceAll('/', '_')}.json`);
  const result = await runCmd([NODE, VITEST, 'run', '--maxWorkers=1', '--reporter=json', `--outputFile=${report}`, file], {
    cwd: root,
    cpu: true,
    timeoutMs: 300_000,
  });
  if (!existsSync(report)) throw new Error(`vitest wrote no report for ${file} in ${root}: ${result.stderr.slice(-2000)}`);
  const parsed = JSON.parse(readFileSync(report, 'utf8')) as {
    success: boolean;
    testResults: { startTime: number; endTime: number; message?: string; assertionResults: { failureMessages: string[] }[] }[];
  };
  const own = parsed.testResults[0];
  const failure = own?.assertionResults.flatMap((a) => a.failureMessages)[0] ?? own?.message;
  return {
    fileMs: own ? own.endTime - own.startTime : Number.NaN,
    cpuMs: result.cpuMs ?? Number.NaN,
    ok: parsed.success,
    ...(parsed.success || !failure ? {} : { failure: failure.slice(0, 1500) }),
  };
}

function median(xs: number[]): number {
  return [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)] ?? Number.NaN;
}

/** A copy of BASE's tree that runs its tests with this tree's node_modules. */
async function baselineTree(ref: string): Promise<string> {
  const dir = await tempDir('test-files-base');
  await runOk(['bash', '-c', `git -C "$1" archive "$2" | tar -x -C "$3"`, 'archive', REPO_ROOT, ref, dir]);
  symlinkSync(join(REPO_ROOT, 'node_modules'), join(dir, 'node_modules'));
  return dir;
}

/** `npm test`'s pretest step: the dashboard's build, which the browser tests serve. */
async function buildWeb(root: string): Promise<void> {
  await runOk([NODE, join(REPO_ROOT, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', 'web', '--logLevel', 'warn'], { cwd: root });
}

function summary(runs: FileRun[]) {
  return {
    file_ms: round(median(runs.map((r) => r.fileMs)), 0),
    cpu_ms: round(median(runs.map((r) => r.cpuMs)), 0),
    runs: runs.map((r) => ({
      file_ms: round(r.fileMs, 0),
      cpu_ms: round(r.cpuMs, 0),
      ok: r.ok,
      ...(r.failure ? { failure: r.failure } : {}),
    })),
  };
}

await benchMain('test-files', Number(process.env.DEADLINE_S ?? 1200) * 1000, async () => {
  const loadAtStart = round(loadavg()[0] ?? 0);
  const reports = await tempDir('test-files-reports');
  const trees: { name: string; root: string }[] = [{ name: 'this', root: REPO_ROOT }];
  if (BASE !== '') trees.push({ name: 'base', root: await baselineTree(BASE) });
  for (const tree of trees) {
    progress(`building the dashboard in ${tree.root}`);
    await buildWeb(tree.root);
  }
  progress(`fixed cost: ${FIXED_COST_FILE}`);
  const fixed = await runFile(REPO_ROOT, FIXED_COST_FILE, reports);
  const runs = new Map<string, FileRun[]>();
  for (let rep = 0; rep < REPS; rep++) {
    for (const file of files) {
      // Alternating trees file by file, so both see the same neighbours on a shared machine.
      for (const tree of rep % 2 === 0 ? trees : [...trees].reverse()) {
        progress(`${tree.name}: ${file} (run ${rep + 1} of ${REPS})`);
        const key = `${tree.name} ${file}`;
        runs.set(key, [...(runs.get(key) ?? []), await runFile(tree.root, file, reports)]);
      }
    }
  }
  const results = files.map((file) => {
    const self = summary(runs.get(`this ${file}`) ?? []);
    if (BASE === '') return { file, ...self };
    const base = summary(runs.get(`base ${file}`) ?? []);
    return {
      file,
      ...self,
      base,
      ratio_file_ms: round(self.file_ms / base.file_ms, 3),
      ratio_cpu_ms: round(self.cpu_ms / base.cpu_ms, 3),
    };
  });
  const total = (pick: (r: (typeof results)[number]) => number) =>
    round(
      results.reduce((sum, r) => sum + pick(r), 0),
      0,
    );
  return {
    base: BASE || null,
    reps: REPS,
    loadavg_1m_at_start: loadAtStart,
    fixed_cpu_ms: round(fixed.cpuMs, 0),
    files: results,
    total_file_ms: total((r) => r.file_ms),
    total_cpu_ms: total((r) => r.cpu_ms),
    ...(BASE === ''
      ? {}
      : {
          base_total_file_ms: total((r) => ('base' in r ? r.base.file_ms : 0)),
          base_total_cpu_ms: total((r) => ('base' in r ? r.base.cpu_ms : 0)),
        }),
  };
});
