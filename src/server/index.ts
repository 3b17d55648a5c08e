/**
 * The server as the CLI and tests start it. Every CLI command loads this file, so it stays light:
 * the server itself (fastify, the store drivers, the services) is loaded only when one starts.
 */
import type { RunningServer, ServerParts, StartOverrides } from './start.ts';
import type { ServerOptions } from './server-options.ts';

export type { AppDeps } from './app.ts';
export { resolveServerOptions, SERVER_OPTION_TABLE, type ServerOptions } from './server-options.ts';
export type { RunningServer, ServerParts, StartOverrides } from './start.ts';
export type { SloStatus } from './slo/index.ts';
export type { DoraAnswer } from './dora/index.ts';
export type { ServiceLogAnswer, ServiceLogLine } from './logs/index.ts';
export type { SearchAnswer } from './search/index.ts';
export type { PendingApproval } from './approvals/index.ts';

/** See start.ts: wires the server without listening. */
export async function buildServer(options: ServerOptions, overrides?: StartOverrides): Promise<ServerParts> {
  return (await import('./start.ts')).buildServer(options, overrides);
}

/** See start.ts: wires the server, listens and resumes what a previous process left. */
export async function startServer(options: ServerOptions, overrides?: StartOverrides): Promise<RunningServer> {
  return (await import('./start.ts')).startServer(options, overrides);
}
