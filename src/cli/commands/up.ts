/** `gantry up`: the server on its embedded defaults, until SIGINT/SIGTERM. */
import type { Command } from 'commander';
import { resolveServerOptions } from '../../server/server-options.ts';
import { bold, dim } from '../output.ts';

export function registerUpCommand(program: Command): void {
  program.command('up')
    .description('start the Gantry server (SQLite under the data directory unless --store says otherwise)')
    .option('--port <port>', 'TCP port (default 7700)')
    .option('--host <host>', 'address to listen on (default 127.0.0.1)')
    .option('--store <url>', 'postgres://… to use PostgreSQL instead of the embedded SQLite')
    .option('--parallel <n>', 'jobs at once (default: the number of cores)')
    .action(async (opts: { port?: string; host?: string; store?: string; parallel?: string }) => {
      // --data is the program-wide option: the same flag tells client commands where a local server keeps its data.
      const { data } = program.opts() as { data?: string };
      const options = resolveServerOptions({ port: opts.port, host: opts.host, dataDir: data, store: opts.store, parallel: opts.parallel });
      // Loaded here, not at the top: the server's dependencies (fastify, kysely, pg) would slow
      // every other command's start-up and make each step's fork in `gantry run` costlier.
      const { startServer } = await import('../../server/start.ts');
      const server = await startServer(options);
      process.stdout.write(`${bold('Gantry is up')} at ${server.url}  ${dim(`(data: ${options.dataDir}, store: ${server.store.dialect})`)}\n`);
      if (server.createdAdminToken) process.stdout.write(`${dim(`an admin API token was saved to ${options.dataDir}/admin.token (mode 0600); the CLI uses it from there`)}\n`);
      if (options.host !== '127.0.0.1' && options.host !== 'localhost') process.stdout.write(`listening on ${options.host}: every API call still needs the token\n`);
      await new Promise<void>((resolve) => {
        const stop = () => { process.stdout.write('shutting down…\n'); resolve(); };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      await server.close();
    });
}
