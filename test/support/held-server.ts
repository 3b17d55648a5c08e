/**
 * A Gantry server process that can be stopped with a route table under way: the fencing tests'
 * old owner (docs/decisions/0037). It is `gantry up` (the same `startServer`, options from the
 * same table and environment, exit 1 when the lease is lost) plus the `beforeRoutes` hook of
 * StartOverrides: once `holdNextCanaryTable()` armed it, the next table with canary weight is
 * held — the process SIGSTOPs itself just before sending it, so the test decides when it wakes.
 *
 * Run as `node held-server.ts --data DIR --port PORT` by `startHeldServer`.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { resolveServerOptions } from '../../src/server/server-options.ts';
import { startServer } from '../../src/server/start.ts';
import { cliEnv, NODE } from './cli.ts';
import { freePort } from './net.ts';
import { apiClient, type GantryUp } from './server.ts';
import { waitFor } from './wait.ts';

/** The file whose presence arms the hold (removed when the hold happens). */
const HOLD_FILE = 'hold-next-canary-table';

/** A held server, as tests drive it: a `GantryUp` (restart aside) that can be armed. */
export interface HeldServer extends GantryUp {
  /** Stops the process (SIGSTOP, by itself) just before it sends its next table with canary weight. */
  holdNextCanaryTable(): void;
  /** Whether the process is stopped (state T in /proc). */
  isStopped(): boolean;
}

/** Starts the held server on a free loopback port with `env` (cliEnv plus it); resolves once healthy. */
export async function startHeldServer(o: { env: Record<string, string>; dataDir: string }): Promise<HeldServer> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(NODE, [fileURLToPath(import.meta.url), '--data', o.dataDir, '--port', String(port)], {
    env: cliEnv(o.env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  for (const stream of [child.stdout, child.stderr])
    stream?.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
    });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const gone = () => child.exitCode !== null || child.signalCode !== null;
  await waitFor(
    async () => {
      if (gone()) throw new Error(`the held server exited: ${output}`);
      const healthy = await fetch(`${url}/api/health`).then(
        (r) => r.ok,
        () => false,
      );
      return healthy && existsSync(join(o.dataDir, 'admin.token'));
    },
    { what: 'the held server to become healthy', timeoutMs: 45_000, intervalMs: 50 },
  ).catch((error: Error) => {
    child.kill('SIGKILL');
    throw error;
  });
  const token = readFileSync(join(o.dataDir, 'admin.token'), 'utf8').trim();
  const api = apiClient(() => url, token);
  const kill = async (signal: NodeJS.Signals) => {
    if (!gone()) child.kill(signal);
    return exited;
  };
  const notRestartable = () => Promise.reject(new Error('the held server is not restarted by tests'));
  const stop = async () => {
    if (gone()) return;
    child.kill('SIGCONT');
    const killTimer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await kill('SIGTERM');
    clearTimeout(killTimer);
  };
  return {
    url,
    dataDir: o.dataDir,
    token,
    child,
    output: () => output,
    api,
    loginLink: notRestartable,
    kill,
    stopServer: stop,
    startServer: notRestartable,
    stop,
    holdNextCanaryTable: () => writeFileSync(join(o.dataDir, HOLD_FILE), ''),
    isStopped: () => {
      try {
        // Field 3 of /proc/<pid>/stat, after the command name in parentheses.
        const stat = readFileSync(`/proc/${child.pid}/stat`, 'utf8');
        return stat.slice(stat.lastIndexOf(')') + 2).startsWith('T');
      } catch {
        return false;
      }
    },
  };
}

/** The process: `gantry up`'s server with the hold hook. */
async function main(): Promise<void> {
  const { values } = parseArgs({ options: { data: { type: 'string' }, port: { type: 'string' } } });
  const dataDir = values.data as string;
  const holdFile = join(dataDir, HOLD_FILE);
  const options = resolveServerOptions({ dataDir, port: values.port });
  const server = await startServer(options, {
    beforeRoutes: (table) => {
      if (table.weights.canary <= 0 || !existsSync(holdFile)) return;
      rmSync(holdFile, { force: true });
      // Stops here, in the middle of sending; SIGCONT carries on with this very table.
      process.kill(process.pid, 'SIGSTOP');
    },
  });
  const stopped = new Promise<false>((resolve) => {
    process.once('SIGTERM', () => resolve(false));
    process.once('SIGINT', () => resolve(false));
  });
  const lost = await Promise.race([stopped, server.leaseLost.then(() => true)]);
  await server.close();
  process.exit(lost ? 1 : 0);
}

if (import.meta.main) await main();
