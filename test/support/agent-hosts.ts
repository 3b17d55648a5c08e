/**
 * Agent "hosts" for end-to-end tests: `gantry agent` as PID 1 of its own PID namespace
 * (`unshare --pid`), so killing the host kills everything under it — jobs, service instances,
 * proxies — as a lost machine would. `canUnshare` says whether this machine allows it.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { CLI_MAIN, cliEnv, NODE } from './cli.ts';

export const canUnshare = (() => {
  try {
    execFileSync('unshare', ['--pid', '--fork', '--kill-child', '--mount-proc', 'true'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

export interface AgentHost {
  name: string;
  child: ChildProcess;
  exited: Promise<void>;
  /** What the agent wrote to stderr so far (its JSON log lines). */
  output(): string;
}

/** Starts `gantry agent` with `token` in its own PID namespace; `args` are the agent's options. */
export function spawnAgentHost(name: string, token: string, args: readonly string[]): AgentHost {
  const child = spawn('unshare', ['--pid', '--fork', '--kill-child', '--mount-proc', NODE, CLI_MAIN, 'agent', ...args], {
    env: cliEnv({ GANTRY_AGENT_TOKEN: token }),
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let output = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    output += chunk;
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return { name, child, exited, output: () => output };
}

/** Kills the host whole (SIGKILL to the namespace's init takes everything in it) and waits for it. */
export async function killAgentHost(host: AgentHost): Promise<void> {
  if (host.child.exitCode === null && host.child.signalCode === null && host.child.pid !== undefined)
    process.kill(host.child.pid, 'SIGKILL');
  await host.exited;
}
