/**
 * What the chaos end-to-end tests deploy: a service that answers `ok` to everything, and its
 * gantry.yaml up to `experiments:` (each test appends its own experiments).
 */
export const OK_SERVICE = `
const http = require('node:http');
http.createServer((req, res) => res.end('ok')).listen(Number(process.env.PORT), '127.0.0.1');
`;

/** gantry.yaml for OK_SERVICE in one `staging` environment, ending with `experiments:` and a newline. */
export function okServiceYaml(o: { instances?: number } = {}): string {
  return `
pipeline:
  jobs:
    build: { steps: ["node --check server.js"] }
service:
  run: node server.js
${o.instances === undefined ? '' : `  instances: ${o.instances}\n`}  health: { path: /healthz, readiness: { interval: 100ms } }
  stop: { drain-timeout: 1s }
environments:
  staging: { strategy: { recreate: {} } }
experiments:
`;
}
