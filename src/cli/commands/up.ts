/** `gantry up`: the server on its embedded defaults, until SIGINT/SIGTERM; `--example` adds the example project. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { ADMIN_TOKEN_FILE } from '../../core/data-files.ts';
import type { Logger } from '../../platform/logger.ts';
import { resolveServerOptions } from '../../server/index.ts';
import { ApiClient } from '../api-client.ts';
import { setUpExample } from '../example-project.ts';
import { bold, dim } from '../output.ts';

/** WARN messages of `gantry up` (the server's log, component `up`). */
const LOG = {
  exampleFailed: 'the example could not be set up',
  noLoginLink: 'no login link',
} as const;

export function registerUpCommand(program: Command): void {
  program
    .command('up')
    .description('start the Gantry server (SQLite under the data directory unless --store says otherwise)')
    .option('--port <port>', 'TCP port (default 7700)')
    .option('--host <host>', 'address to listen on (default 127.0.0.1)')
    .option('--store <url>', 'postgres://… to use PostgreSQL instead of the embedded SQLite')
    .option('--parallel <n>', 'jobs at once (default: the number of cores)')
    .option('--example', 'also register the example service (examples/hello), run its pipeline and deploy it to staging')
    .action(async (opts: { port?: string; host?: string; store?: string; parallel?: string; example?: boolean }) => {
      // --data is the program-wide option: the same flag tells client commands where a local server keeps its data.
      const { data } = program.opts() as { data?: string };
      const options = resolveServerOptions({ port: opts.port, host: opts.host, dataDir: data, store: opts.store, parallel: opts.parallel });
      // Loaded here, not at the top: the server's dependencies (fastify, kysely, pg) would slow
      // every other command's start-up and make each step's fork in `gantry run` costlier.
      const { startServer } = await import('../../server/index.ts');
      // Signals are watched before the server starts: a SIGTERM from a supervisor once the server
      // listens but before this command had its handler killed the process outright (no close, no
      // drain); now it stops the server as soon as it has started. A Ctrl-C while the example is
      // being set up stops that too.
      const stopping = new AbortController();
      const stopped = new Promise<NodeJS.Signals>((resolve) => {
        const stop = (signal: NodeJS.Signals) => {
          process.stdout.write('shutting down…\n');
          stopping.abort();
          resolve(signal);
        };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      const server = await startServer(options);
      const log = server.log.child({ component: 'up' });
      void stopped.then((signal) => log.info('shutdown requested', { signal }));
      process.stdout.write(
        `${bold('Gantry is up')} at ${server.url}  ${dim(`(data: ${options.dataDir}, store: ${server.store.dialect})`)}\n`,
      );
      if (server.createdAdminToken)
        process.stdout.write(
          `${dim(`an admin API token was saved to ${options.dataDir}/admin.token (mode 0600); the CLI uses it from there`)}\n`,
        );
      if (options.host !== '127.0.0.1' && options.host !== 'localhost')
        process.stdout.write(`listening on ${options.host}: every API call still needs the token\n`);
      if (opts.example) {
        await showExample(server.url, options.dataDir, stopping.signal, log);
        if (!stopping.signal.aborted) await printLoginLink(() => server.sessions.createLoginLink(server.url), log);
      } else {
        process.stdout.write(`${dim('the dashboard is at the same address: `gantry open` prints a one-time sign-in link')}\n`);
      }
      const lost = await Promise.race([stopped.then(() => false), server.leaseLost.then(() => true)]);
      await server.close();
      if (lost) {
        // Another server owns the background loops now; a supervisor (systemd, Kubernetes) starts this one again as a follower.
        process.stderr.write('gantry up: this server lost the lease over the background loops to another server and stopped\n');
        process.exitCode = 1;
      }
    });
}

/** The example's setup, told as it happens; a failure is reported and the server keeps running. */
async function showExample(url: string, dataDir: string, signal: AbortSignal, log: Logger): Promise<void> {
  const say = (line: string) => process.stdout.write(`${line}\n`);
  try {
    const api = new ApiClient({ url, token: readFileSync(join(dataDir, ADMIN_TOKEN_FILE), 'utf8').trim() });
    const setup = await setUpExample({ dataDir, api, log: say, signal });
    if (setup.stagingUrl) say(`${bold('staging')} of ${setup.project.name} answers at ${setup.stagingUrl}`);
    say(dim(`next: \`gantry demo\` canaries new versions into production; edit ${setup.repoDir}/version.json and commit to ship your own`));
  } catch (error) {
    if (signal.aborted) return;
    log.warn(LOG.exampleFailed, { err: error });
  }
}

async function printLoginLink(create: () => Promise<{ url: string; expiresAt: string }>, log: Logger): Promise<void> {
  try {
    const link = await create();
    process.stdout.write(
      `${bold('Open the dashboard')}: ${link.url}\n${dim(`(a one-time link, valid until ${link.expiresAt}; \`gantry open\` makes another)`)}\n`,
    );
  } catch (error) {
    log.warn(LOG.noLoginLink, { err: error });
  }
}
