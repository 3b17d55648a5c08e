// One instance of {{name}}: Gantry starts it with $PORT and stops it with SIGTERM.
import { createServer } from 'node:http';
import { createHandler } from './app.js';

const server = createServer(createHandler({ environment: process.env.GANTRY_ENVIRONMENT }));
server.listen(Number(process.env.PORT ?? 3000), process.env.HOST ?? '127.0.0.1', () => {
  console.log(`{{name}} listening on ${JSON.stringify(server.address())}`);
});
process.on('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeIdleConnections();
});
