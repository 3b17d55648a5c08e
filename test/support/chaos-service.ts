/**
 * What the chaos end-to-end tests deploy: a service that answers `ok` to everything, and its
 * gantry.yaml up to `experiments:` (each test appends its own experiments).
 */
import { nodeServiceYaml } from './service-yaml.ts';

export const OK_SERVICE = `
const http = require('node:http');
http.createServer((req, res) => res.end('ok')).listen(Number(process.env.PORT), '127.0.0.1');
`;

/** gantry.yaml for OK_SERVICE in one `staging` environment, ending with `experiments:` and a newline. */
export function okServiceYaml(o: { instances?: number } = {}): string {
  return nodeServiceYaml(
    'environments:\n  staging: { strategy: { recreate: {} } }\nexperiments:\n',
    o.instances === undefined ? '' : `  instances: ${o.instances}\n`,
  );
}
