/**
 * A service for SLO tests: answers 200, or 500 to everything but its health check between
 * POST /outage/on and POST /outage/off; deployed to production with one availability SLO.
 */
import { nodeServiceYaml } from './service-yaml.ts';

export const OUTAGE_SERVICE = `
const http = require('node:http');
let outage = false;
http.createServer((req, res) => {
  if (req.method === 'POST' && req.url.startsWith('/outage/')) { outage = req.url === '/outage/on'; res.end('ok'); return; }
  res.statusCode = outage && req.url !== '/healthz' ? 500 : 200;
  res.end(outage ? 'down' : 'up');
}).listen(Number(process.env.PORT), '127.0.0.1');
`;

/** Its gantry.yaml, with an availability SLO over 1 h at `objective` (e.g. `99%`). */
export function outageServiceYaml(objective: string): string {
  return nodeServiceYaml(`environments:
  production: { strategy: { recreate: {} } }
slos:
  availability: { objective: ${objective}, period: 1h }
`);
}
