/**
 * The proxy process's program (proxy-host.ts is what it runs): `node proxy-host-main.ts --dir D
 * --key K --label L --host H --port P`, what `ProxyClient` starts. A file of its own, run for its
 * effect alone, so that in the bundled CLI (scripts/bundle.ts) the program is its entry chunk,
 * whatever else imports proxy-host.ts.
 */
import { parseArgs } from 'node:util';
import { LOG, processLogger, type ProxyHost, runProxyHost } from './proxy-host.ts';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      dir: { type: 'string' },
      key: { type: 'string' },
      label: { type: 'string' },
      host: { type: 'string' },
      port: { type: 'string' },
    },
  });
  const port = Number(values.port);
  const log = processLogger();
  if (!values.dir || !values.key || !values.label || !values.host || !Number.isInteger(port)) {
    log.error(LOG.usage);
    process.exit(2);
  }
  let host: ProxyHost;
  try {
    host = await runProxyHost({ dir: values.dir, environmentKey: values.key, label: values.label, host: values.host, port, log });
  } catch (error) {
    log.error(LOG.startFailed, { environment: values.label, err: error });
    process.exit(1);
  }
  process.on('SIGTERM', () => void host.shutdown());
  process.on('SIGINT', () => void host.shutdown());
  // Detached from the server's terminal: a hangup there is not ours.
  process.on('SIGHUP', () => undefined);
  await host.done;
  process.exit(0);
}

await main();
