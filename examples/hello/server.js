// One instance of the example service. Gantry starts it with $PORT (and $GANTRY_ENVIRONMENT);
// the version and the fault rate come from version.json, so each version is a commit.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createHandler } from './app.js';

const { version, errorRate = 0 } = JSON.parse(readFileSync(new URL('./version.json', import.meta.url), 'utf8'));
let commit = null;
try {
  commit = JSON.parse(readFileSync(new URL('./dist/build.json', import.meta.url), 'utf8')).commit;
} catch {
  // Started outside a release (`npm start` in this folder): no build info.
}

const environment = process.env.GANTRY_ENVIRONMENT ?? 'local';
const server = createServer(createHandler({ version, errorRate, environment, commit }));
server.keepAliveTimeout = 30_000;
server.listen(Number(process.env.PORT ?? 3000), process.env.HOST ?? '127.0.0.1', () => {
  console.log(`hello ${version} listening on ${JSON.stringify(server.address())}`);
});
// Gantry stops an instance with SIGTERM after taking it out of the traffic: finish what is in flight, then exit.
process.on('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeIdleConnections();
});
