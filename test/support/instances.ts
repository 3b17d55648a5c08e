/**
 * Service instances and environment proxies outlive the server by design (the next start adopts
 * them). Tests that are done with a data directory stop them here (`killLeftovers`): instances by
 * the PIDs the supervisor recorded — and, for a sandboxed instance, by the instance key every one
 * of its processes carries: the service runs under bubblewrap's own init in a session of its
 * own, which outlives a killed outer bwrap — and proxies by the PID in their host.json.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { processesWithEnv } from '../../src/platform/proc.ts';
import { PROXY_FILES } from '../../src/proxy/index.ts';
import { INSTANCE_KEY_VAR } from '../../src/runtime/process-control.ts';

/** SIGKILLs every instance recorded under `dataDir` (its process group too); returns their PIDs. */
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

/** SIGKILLs every environment proxy recorded under `dataDir/proxies`; returns their PIDs. */
export function killProxies(dataDir: string): number[] {
  const dir = join(dataDir, 'proxies');
  if (!existsSync(dir)) return [];
  const killed: number[] = [];
  for (const name of readdirSync(dir)) {
    try {
      const { pid } = JSON.parse(readFileSync(join(dir, name, PROXY_FILES.host), 'utf8')) as { pid: number };
      process.kill(pid, 'SIGKILL');
      killed.push(pid);
    } catch {
      /* gone, or never written */
    }
  }
  return killed;
}

/** Everything a Gantry server leaves running under `dataDir`: its instances and its proxies. */
export function killLeftovers(dataDir: string): void {
  killInstances(dataDir);
  killProxies(dataDir);
}
