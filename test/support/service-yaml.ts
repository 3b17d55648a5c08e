/**
 * The gantry.yaml most end-to-end tests deploy: a `node server.js` service, built by checking its
 * syntax, ready once /healthz answers (polled every 100 ms) and drained within a second.
 * `serviceLines` go under `service:` (each indented two spaces, ending in a newline); `rest` follows
 * the service: its environments, SLOs, experiments.
 */
export function nodeServiceYaml(rest: string, serviceLines = ''): string {
  return `
pipeline:
  jobs:
    build: { steps: ["node --check server.js"] }
service:
  run: node server.js
${serviceLines}  health: { path: /healthz, readiness: { interval: 100ms } }
  stop: { drain-timeout: 1s }
${rest}`;
}
