/**
 * Per test file, the CPU it cost: its worker's own (the file's in-process work: tests, in-process
 * servers) and its children's (the processes it started and waited for, from /proc/self/stat's
 * cutime and cstime, platform/proc.ts). A setup file, on only when GANTRY_TEST_CPU_REPORT names a file to append
 * one JSON line per test file to (vitest.config.ts): vitest reports wall time, which on a
 * CPU-bound suite says little about what to make cheaper. In the threads pool a file's own CPU
 * is its thread's, and its children's are not known (0).
 */
import { appendFileSync } from 'node:fs';
import { isMainThread } from 'node:worker_threads';
import { afterAll, beforeAll } from 'vitest';
import { CLOCK_TICKS_PER_SECOND, readStat } from '../../src/platform/proc.ts';

const report = process.env.GANTRY_TEST_CPU_REPORT;

function childrenMs(): number {
  return ((readStat(process.pid)?.childrenCpuTicks ?? Number.NaN) * 1000) / CLOCK_TICKS_PER_SECOND;
}

function ownMs(): number {
  const usage = isMainThread ? process.cpuUsage() : process.threadCpuUsage();
  return (usage.user + usage.system) / 1000;
}

if (report) {
  let start = { own: 0, children: 0, wall: 0 };
  let file = '';
  // biome-ignore lint/correctness/noEmptyPattern: vitest wants its fixtures destructured; the file's suite is the second argument.
  beforeAll(({}, suite) => {
    file = (suite as { file?: { filepath?: string } }).file?.filepath ?? '';
    start = { own: ownMs(), children: isMainThread ? childrenMs() : 0, wall: performance.now() };
  });
  afterAll(() => {
    const line = {
      file,
      own_ms: Math.round(ownMs() - start.own),
      children_ms: isMainThread ? childrenMs() - start.children : 0,
      wall_ms: Math.round(performance.now() - start.wall),
    };
    appendFileSync(report, `${JSON.stringify(line)}\n`);
  });
}
