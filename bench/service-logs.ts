/**
 * Service logs (issue 11 §2), two figures:
 *
 * 1. Capture: a service writing RATE lines/s (10,000) for SECONDS (60) under the runtime's
 *    supervisor (spool files → masked, timestamped, rotating segments in the service-logs layout,
 *    budget-free), against the same service writing to a plain file (the baseline). Lines lost
 *    (every `seq=N` from 0 to the last must be stored exactly once or more), the service's CPU
 *    per line under Gantry ÷ to a plain file (a service must not pay for being logged), the
 *    supervising process's CPU per line and its RSS (start, max).
 * 2. Search: SEARCH_MB (1,024) of stored logs (4 instances, 10 MiB segments, JSON lines over a
 *    day), a regex that matches a few lines, through `ServiceLogs.search` (what the API runs),
 *    against `grep -c -E` over the same files in the same run (page cache warm for both,
 *    alternating, median of REPS); and the same search over the last hour only (the time index).
 *
 * QUICK=1: 10 s of capture and 128 MB of logs. Prints one JSON object; progress on stderr.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { Supervisor } from '../src/runtime/index.ts';
import { instanceLogDir, ServiceLogs } from '../src/server/logs/index.ts';
import type { Project, ReleaseRecord } from '../src/store/ports.ts';
import { benchMain, progress, round, runCmd, spread, tempDir } from './lib.ts';

const QUICK = process.env.QUICK === '1';
const RATE = Number(process.env.RATE ?? 10_000);
const SECONDS = Number(process.env.SECONDS ?? (QUICK ? 10 : 60));
const SEARCH_MB = Number(process.env.SEARCH_MB ?? (QUICK ? 128 : 1024));
const REPS = Number(process.env.REPS ?? 3);
const SEGMENT_BYTES = 10 * 1024 * 1024;
const INSTANCES = 4;
const NEEDLE_EVERY = 1_000_000;
const PATTERN = 'payment failed for order \\d+';
const GREP_PATTERN = 'payment failed for order [0-9]+';

/** The service: RATE lines/s, paced by the clock, each `seq=N` plus ~80 bytes; then its own CPU on stderr, then idle. */
const WRITER = `
const rate = Number(process.argv[2]), seconds = Number(process.argv[3]);
const pad = 'x'.repeat(64);
const start = Date.now();
let seq = 0;
const tick = setInterval(() => {
  const elapsed = (Date.now() - start) / 1000;
  const target = Math.min(Math.floor(Math.min(elapsed, seconds) * rate), rate * seconds);
  let out = '';
  while (seq < target) out += 'seq=' + seq++ + ' ' + pad + '\\n';
  if (out) process.stdout.write(out);
  if (elapsed >= seconds && seq >= rate * seconds) {
    clearInterval(tick);
    const cpu = process.cpuUsage();
    process.stderr.write('done lines=' + seq + ' cpu_us=' + (cpu.user + cpu.system) + '\\n');
    // Under the supervisor it must not exit (it would be restarted and write again); alone it may.
    if (process.argv[4] === 'exit') process.exit(0);
    setInterval(() => {}, 1 << 30);
  }
}, 10);
`;

async function capture(dir: string): Promise<Record<string, unknown>> {
  const writer = join(dir, 'writer.cjs');
  writeFileSync(writer, WRITER);
  const expected = RATE * SECONDS;

  progress(`baseline: the service writing ${expected} lines to a plain file`);
  const plainOut = join(dir, 'plain.out');
  const plainErr = join(dir, 'plain.err');
  const child = spawn(process.execPath, [writer, String(RATE), String(SECONDS), 'exit'], {
    stdio: ['ignore', openSync(plainOut, 'w'), openSync(plainErr, 'w')],
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  let baselineCpuUs = 0;
  for (;;) {
    const m = /cpu_us=(\d+)/.exec(readFileSync(plainErr, 'utf8'));
    if (m) {
      baselineCpuUs = Number(m[1]);
      break;
    }
    await delay(100);
  }
  await exited;
  const baselineLines = countSeq(readFileSync(plainOut, 'latin1')).distinct;

  progress(`gantry: the same service under the supervisor, ${RATE} lines/s for ${SECONDS} s`);
  const dataDir = join(dir, 'data');
  const releaseDir = join(dataDir, 'releases', 'R1');
  mkdirSync(releaseDir, { recursive: true });
  const supervisor = new Supervisor({
    dataDir,
    log: { keep: Number.POSITIVE_INFINITY, dirOf: (spec) => instanceLogDir(dataDir, 'P1', 'production', spec.releaseId, spec.id) },
  });
  const id = 'bench.production.r1.a';
  const rssStart = process.memoryUsage().rss;
  const wallStart = performance.now();
  // Bounded means flat: the second half of the capture must not need more than the first did.
  const rssMaxByHalf = [rssStart, rssStart];
  const sampler = setInterval(() => {
    const half = performance.now() - wallStart < (SECONDS * 1000) / 2 ? 0 : 1;
    rssMaxByHalf[half] = Math.max(rssMaxByHalf[half] as number, process.memoryUsage().rss);
  }, 250);
  const cpuStart = process.cpuUsage();
  let serviceCpuUs = 0;
  try {
    await supervisor.start({
      id,
      environment: 'P1:production',
      releaseId: 'R1',
      pool: 'stable',
      service: {
        run: `exec "${process.execPath}" "${writer}" ${RATE} ${SECONDS}`,
        env: {},
        instances: 1,
        health: {
          readiness: { command: 'true', intervalMs: 1000, timeoutMs: 1000, successThreshold: 1, failureThreshold: 3, initialDelayMs: 0 },
        },
        stop: { signal: 'SIGTERM', drainTimeoutMs: 2000 },
      },
      env: {},
      secrets: [],
      workDir: releaseDir,
      sandbox: 'off',
    });
    const logDir = instanceLogDir(dataDir, 'P1', 'production', 'R1', id);
    const deadline = Date.now() + (SECONDS + 60) * 1000;
    while (Date.now() < deadline) {
      const m = /cpu_us=(\d+)/.exec(await readFile(join(logDir, 'instance.log'), 'latin1').catch(() => ''));
      if (m) {
        serviceCpuUs = Number(m[1]);
        break;
      }
      await delay(250);
    }
  } finally {
    await supervisor.stop(id).catch(() => undefined);
    await supervisor.detach();
    clearInterval(sampler);
  }
  const supervisorCpu = process.cpuUsage(cpuStart);
  const wallMs = performance.now() - wallStart;
  const logDir = instanceLogDir(dataDir, 'P1', 'production', 'R1', id);
  let stored = '';
  for (const name of (await readdir(logDir)).sort()) stored += await readFile(join(logDir, name), 'latin1');
  const seen = countSeq(stored);
  return {
    lines_written: expected,
    lines_stored_distinct: seen.distinct,
    lines_lost: expected - seen.distinct,
    lines_stored_twice: seen.total - seen.distinct,
    segments: (await readdir(logDir)).length,
    service_cpu_us_per_line: round(serviceCpuUs / expected, 3),
    baseline_plain_file_lines: baselineLines,
    baseline_service_cpu_us_per_line: round(baselineCpuUs / expected, 3),
    ratio_service_cpu_gantry_to_plain_file: round(serviceCpuUs / Math.max(1, baselineCpuUs), 2),
    supervisor_cpu_us_per_line: round((supervisorCpu.user + supervisorCpu.system) / expected, 3),
    supervisor_cpu_share_of_a_core: round((supervisorCpu.user + supervisorCpu.system) / 1000 / wallMs, 3),
    supervisor_rss_mib_start: round(rssStart / 1048576, 1),
    supervisor_rss_mib_max: round(Math.max(...rssMaxByHalf) / 1048576, 1),
    supervisor_rss_mib_max_first_half: round((rssMaxByHalf[0] as number) / 1048576, 1),
    supervisor_rss_mib_max_second_half: round((rssMaxByHalf[1] as number) / 1048576, 1),
    ratio_rss_second_half_to_first: round((rssMaxByHalf[1] as number) / (rssMaxByHalf[0] as number), 2),
  };
}

/** Distinct `seq=N` values and all of them. */
function countSeq(text: string): { distinct: number; total: number } {
  const seen = new Set<number>();
  let total = 0;
  for (const m of text.matchAll(/seq=(\d+)/g)) {
    seen.add(Number(m[1]));
    total++;
  }
  return { distinct: seen.size, total };
}

/** SEARCH_MB of segments over the last day: JSON request lines, a needle every NEEDLE_EVERY lines. */
async function generate(dataDir: string): Promise<{ files: string[]; needles: number; bytes: number }> {
  const segments = Math.max(INSTANCES, Math.round((SEARCH_MB * 1024 * 1024) / SEGMENT_BYTES));
  const perInstance = Math.ceil(segments / INSTANCES);
  const end = Date.now();
  const spanMs = 24 * 3_600_000;
  const files: string[] = [];
  let line = 0;
  let needles = 0;
  let bytes = 0;
  for (let s = 0; s < perInstance; s++) {
    for (let i = 0; i < INSTANCES; i++) {
      if (files.length >= segments) break;
      const dir = instanceLogDir(dataDir, 'P1', 'production', 'R1', `shop.production.r1.i${i}`);
      mkdirSync(dir, { recursive: true });
      const file = join(dir, s === perInstance - 1 ? 'instance.log' : `instance.log.${s + 1}`);
      const parts: string[] = [];
      let size = 0;
      const from = end - spanMs + (s / perInstance) * spanMs;
      const step = spanMs / perInstance;
      while (size < SEGMENT_BYTES) {
        const at = new Date(from + (size / SEGMENT_BYTES) * step).toISOString();
        const text =
          line % NEEDLE_EVERY === NEEDLE_EVERY - 1
            ? `{"level":"error","msg":"payment failed for order ${line}","user":"u${line % 100_000}"}`
            : `{"level":"info","msg":"GET /api/orders/${line} 200","ms":${line % 997},"user":"u${line % 100_000}"}`;
        if (line % NEEDLE_EVERY === NEEDLE_EVERY - 1) needles++;
        const row = `${at} o ${text}\n`;
        parts.push(row);
        size += row.length;
        line++;
      }
      await writeFile(file, parts.join(''));
      files.push(file);
      bytes += size;
    }
  }
  return { files, needles, bytes };
}

async function search(dir: string): Promise<Record<string, unknown>> {
  const dataDir = join(dir, 'search');
  progress(`writing ${SEARCH_MB} MB of service logs`);
  const { files, needles, bytes } = await generate(dataDir);
  const project = { id: 'P1', name: 'shop' } as Project;
  const logs = new ServiceLogs({
    dataDir,
    projects: { get: async () => project, list: async () => [project] },
    releases: { get: async (id) => ({ id, number: 1 }) as ReleaseRecord },
  });
  const gantryMs: number[] = [];
  const grepMs: number[] = [];
  const recentMs: number[] = [];
  let found = 0;
  let grepFound = 0;
  let recentScanned = 0;
  // Warm the page cache for both the same way: every file read once, untimed.
  await runCmd(['cat', ...files], { timeoutMs: 120_000, stdout: 'ignore' });
  for (let r = 0; r < REPS; r++) {
    progress(`search round ${r + 1}/${REPS}`);
    let t = performance.now();
    const grep = await runCmd(['grep', '-c', '-h', '-E', GREP_PATTERN, ...files], {
      timeoutMs: 120_000,
      env: { ...process.env, LC_ALL: 'C' },
    });
    grepMs.push(performance.now() - t);
    grepFound = grep.stdout
      .trim()
      .split('\n')
      .reduce((sum, n) => sum + Number(n), 0);
    t = performance.now();
    const answer = await logs.search({ project, environment: 'production', grep: PATTERN, limit: 100 });
    gantryMs.push(performance.now() - t);
    found = answer.matched;
    t = performance.now();
    const recent = await logs.search({ project, environment: 'production', grep: PATTERN, limit: 100, sinceMs: Date.now() - 3_600_000 });
    recentMs.push(performance.now() - t);
    recentScanned = recent.scannedBytes;
  }
  const gantry = spread(gantryMs, 0);
  const grep = spread(grepMs, 0);
  return {
    stored_mb: round(bytes / 1048576, 0),
    files: files.length,
    matches_expected: needles,
    matches_gantry: found,
    matches_grep: grepFound,
    search_ms: gantry,
    baseline_grep_c_ms: grep,
    ratio_search_gantry_to_grep: round(gantry.median / grep.median, 2),
    target_search_under_2s: gantry.median < 2000,
    last_hour_search_ms: spread(recentMs, 0),
    last_hour_scanned_mb: round(recentScanned / 1048576, 1),
  };
}

await benchMain('service-logs', (QUICK ? 4 : 8) * 60_000, async () => {
  const dir = await tempDir('service-logs');
  const captureResult = await capture(dir);
  const searchResult = await search(dir);
  return {
    quick: QUICK,
    rate_lines_per_s: RATE,
    seconds: SECONDS,
    capture: captureResult,
    search: searchResult,
    loadavg: readFileSync('/proc/loadavg', 'utf8').trim(),
  };
});
