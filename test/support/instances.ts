/**
 * Service instances outlive the server by design (the next start adopts them). Tests that are
 * done with a data directory stop them here, by the PIDs the supervisor recorded — and, for a
 * sandboxed instance, by the instance key every one of its processes carries: the service runs
 * under bubblewrap's own init in a session of its own, which outlives a killed outer bwrap.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { processesWithEnv } from '../../src/platform/proc.ts';
import { INSTANCE_KEY_VAR } from '../../src/runtime/process-control.ts';

export function killInstances(dataDir: string): number[] {
  const dir = join(dataDir, 'instances');
  if (!existsSync(dir)) return [];
  const killed: number[] = [];
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.json'))) {
    let record: { pid?: number | null; envKey?: string };
    try {
      record = JSON.parse(readFileSync(join(dir, file), 'utf8')) as typeof record;
    } catch {
      continue;
    }
    const pids = [...(record.pid ? [record.pid] : []), ...(record.envKey ? processesWithEnv(INSTANCE_KEY_VAR, record.envKey) : [])];
    for (const pid of new Set(pids)) {
      // Each instance leads its own process group (a session of its own).
      for (const target of [-pid, pid]) {
        try {
          process.kill(target, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }
      killed.push(pid);
    }
  }
  return killed;
}
