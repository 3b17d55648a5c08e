// {{name}}: does its work every INTERVAL_MS, and answers /healthz and /status on $PORT so Gantry
// can tell it is alive and route its checks; SIGTERM finishes the current unit, then exits.
import { createServer } from 'node:http';
import { work } from './work.js';

let state = { done: 0, lastAt: null };
const timer = setInterval(() => {
  state = work(state);
}, Number(process.env.INTERVAL_MS ?? 1000));

const server = createServer((req, res) => {
  if (req.url === '/healthz') return res.end('ok\n');
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ worker: '{{name}}', ...state }));
});
server.listen(Number(process.env.PORT ?? 3000), process.env.HOST ?? '127.0.0.1');
process.on('SIGTERM', () => {
  clearInterval(timer);
  server.close(() => process.exit(0));
});
