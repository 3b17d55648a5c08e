/**
 * The small process an instance fault leaves behind so that it ends by the experiment's deadline
 * whether or not the server is still there (as the proxy keeps its faults' deadline). Started
 * detached by instance-faults.ts; every mode exits by itself at `--until` (epoch ms):
 *
 * - `resume --pids pid:start,…`: waits, then SIGCONTs the paused processes that are still the
 *   same (pid and start time), so a pause never outlives its experiment.
 * - `cpu`: one busy loop (a worker of CPU pressure).
 * - `memory --bytes N`: holds N resident bytes (written, so the pages are really in memory).
 *
 * Dependencies: node: modules and platform/proc.ts only, so it starts fast and alone.
 */
import { isSameProcess } from '../platform/proc.ts';

/** Bytes allocated per buffer: a Buffer has a size limit, and smaller chunks fail less on a tight host. */
const CHUNK_BYTES = 64 * 1024 * 1024;

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? undefined : process.argv[i + 1];
}

function resume(pids: string): void {
  for (const entry of pids.split(',')) {
    const [pid, startTime] = entry.split(':');
    if (pid === undefined || startTime === undefined || !isSameProcess(Number(pid), startTime)) continue;
    try {
      process.kill(Number(pid), 'SIGCONT');
    } catch {
      // Gone meanwhile: nothing to resume.
    }
  }
}

function busyUntil(until: number): void {
  for (;;) {
    for (let i = 0; i < 1_000_000; i++) Math.sqrt(i);
    if (Date.now() >= until) return;
  }
}

function main(): void {
  const mode = process.argv[2];
  const until = Number(arg('until'));
  if (!Number.isFinite(until)) process.exit(2);
  const wait = Math.max(0, until - Date.now());
  switch (mode) {
    case 'resume': {
      const pids = arg('pids') ?? '';
      setTimeout(() => resume(pids), wait);
      // SIGTERM is the server's revert, which resumes the processes itself: just go.
      process.on('SIGTERM', () => process.exit(0));
      return;
    }
    case 'cpu':
      busyUntil(until);
      return;
    case 'memory': {
      const chunks: Buffer[] = [];
      for (let left = Number(arg('bytes')); left > 0; left -= CHUNK_BYTES)
        chunks.push(Buffer.allocUnsafe(Math.min(left, CHUNK_BYTES)).fill(1));
      setTimeout(() => chunks.length, wait);
      return;
    }
    default:
      process.exit(2);
  }
}

main();
