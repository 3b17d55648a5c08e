/**
 * The small process a pause leaves behind so that it ends by the experiment's deadline whether or
 * not the server is still there (as the proxy keeps its faults' deadline). Started detached by
 * instance-faults.ts: `resume --until MS --pids pid:start,…` waits until `--until` (epoch ms), then
 * SIGCONTs the paused processes that are still the same (pid and start time). Pressure (CPU,
 * memory, disk-full) has its own worker, pressure-process.ts, which can run inside the sandbox.
 *
 * Dependencies: node: modules and platform/proc.ts only, so it starts fast and alone.
 */
import { isSameProcess } from '../platform/proc.ts';

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
    default:
      process.exit(2);
  }
}

main();
