/**
 * Service instances outlive the server by design (the next start adopts them). Tests that are
 * done with a data directory stop them here, by the PIDs the supervisor recorded.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export function killInstances(dataDir: string): number[] {
  const dir = join(dataDir, 'instances');
  if (!existsSync(dir)) return [];
  const killed: number[] = [];
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.json'))) {
    let pid: number | null = null;
    try {
      pid = (JSON.parse(readFileSync(join(dir, file), 'utf8')) as { pid?: number | null }).pid ?? null;
    } catch {
      continue;
    }
    if (!pid) continue;
    // Each instance leads its own process group (a session of its own).
    for (const target of [-pid, pid]) {
      try { process.kill(target, 'SIGKILL'); } catch { /* already gone */ }
    }
    killed.push(pid);
  }
  return killed;
}
