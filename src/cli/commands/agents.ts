/**
 * `gantry agent` runs a build agent on this host; `gantry agents add|list|revoke` manage agents on
 * the server (docs/decisions/0036, README "Build agents").
 */
import { availableParallelism } from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { InputError } from '../../core/errors.ts';
import { dim, printJson } from '../output.ts';
import { client, list } from './shared.ts';

const enc = encodeURIComponent;

interface AgentRow {
  name: string;
  labels: string[];
  revokedAt: string | null;
  lastSeenAt: string | null;
  leases: { runId: string; jobKey: string; fence: number }[];
}

export function registerAgentCommands(program: Command): void {
  program
    .command('agent')
    .description('run a build agent: takes jobs with runs-on from the server (connects out; no port)')
    .requiredOption('--server <url>', "the server's URL, e.g. http://10.0.0.1:7700")
    .option('--token <token>', 'the agent token from `gantry agents add` (default: $GANTRY_AGENT_TOKEN)')
    .option('--labels <labels>', 'comma-separated labels besides those registered, e.g. linux,bwrap,large', '')
    .option('--capacity <n>', 'jobs at once (default: the number of cores)')
    .option('--work-dir <dir>', 'workspaces and caches (default: ./.gantry-agent)')
    .option('--address <host>', "where others reach this host's service instances and proxies (default: 127.0.0.1)", '127.0.0.1')
    .action(async (opts: { server: string; token?: string; labels: string; capacity?: string; workDir?: string; address: string }) => {
      const token = opts.token ?? process.env.GANTRY_AGENT_TOKEN;
      if (!token) throw new InputError('give the agent token with --token or GANTRY_AGENT_TOKEN (`gantry agents add NAME` prints it)');
      const capacity = opts.capacity === undefined ? availableParallelism() : Number(opts.capacity);
      if (!Number.isInteger(capacity) || capacity < 1) throw new InputError(`--capacity must be a positive integer, got ${opts.capacity}`);
      let server: URL;
      try {
        server = new URL(opts.server);
      } catch {
        throw new InputError(`--server is not a URL: ${opts.server}`);
      }
      const { Agent } = await import('../../agent/index.ts');
      const agent = new Agent({
        server: server.toString().replace(/\/+$/, ''),
        token,
        labels: list(opts.labels),
        capacity,
        workDir: path.resolve(opts.workDir ?? '.gantry-agent'),
        log: (message, data) => process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), msg: message, ...data })}\n`),
      });
      // Environments placed on this agent (docs/decisions/0043): their instances and proxies, beside the jobs.
      const { PlacementRunner } = await import('../../agent/index.ts');
      const placement = new PlacementRunner({
        server: server.toString().replace(/\/+$/, ''),
        token,
        labels: list(opts.labels),
        address: opts.address,
        workDir: path.resolve(opts.workDir ?? '.gantry-agent', 'placed'),
        log: (message, data) => process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), msg: message, ...data })}\n`),
      });
      const stop = () => {
        agent.stop();
        placement.stop();
      };
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
      await Promise.all([agent.run(), placement.run()]);
    });

  const agents = program.command('agents').description('build agents registered on the server');
  agents
    .command('add <name>')
    .description('register an agent; prints its token once (give it to `gantry agent --token`)')
    .option('--labels <labels>', 'comma-separated labels, e.g. linux,bwrap,large', '')
    .action(async (name: string, opts: { labels: string }) => {
      const { token } = await client(program).request<{ token: string }>('POST', '/api/agents', { name, labels: list(opts.labels) });
      process.stdout.write(`${token}\n`);
      process.stderr.write(dim(`agent ${name} registered; its token is shown only now\n`));
    });
  agents
    .command('list')
    .option('--json', 'JSON output')
    .action(async (opts: { json?: boolean }) => {
      const answer = await client(program).request<{ agents: AgentRow[] }>('GET', '/api/agents');
      if (opts.json) {
        printJson(answer);
        return;
      }
      for (const a of answer.agents) {
        const state = a.revokedAt ? 'revoked' : `last seen ${a.lastSeenAt ?? 'never'}`;
        process.stdout.write(`${a.name}  [${a.labels.join(',')}]  ${state}  ${a.leases.length} job(s)\n`);
      }
    });
  agents
    .command('revoke <name>')
    .description('revoke an agent: its token stops working at once, its jobs go to other agents')
    .action(async (name: string) => {
      await client(program).request('DELETE', `/api/agents/${enc(name)}`);
      process.stdout.write(`revoked agent ${name}\n`);
    });
}
