import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { z } from 'zod';
import { gantryJsonSchema } from '../../src/pipeline/json-schema.ts';

const committed: unknown = JSON.parse(readFileSync(new URL('../../schema/gantry.schema.json', import.meta.url), 'utf8'));

const EXAMPLE = `
name: shop-api
pipeline:
  on:
    push: { branches: [main], paths: [src/**] }
    schedule: ["0 3 * * *"]
    manual: { inputs: { target: { type: choice, options: [a, b], default: a } } }
    webhook:
  env: { CI: true }
  concurrency: { group: deploy, cancel-in-progress: true }
  jobs:
    build:
      steps:
        - npm ci
        - { run: npm run build, id: build, timeout: 5m, continue-on-error: false, shell: "python3 {0}" }
      cache: { key: "npm-\${{ hashFiles('package-lock.json') }}", restore-keys: npm-, paths: [node_modules] }
      artifacts: [dist/**]
      outputs: { version: "\${{ steps.build.outputs.version }}" }
    test:
      needs: build
      timeout: 90
      retry: 1
      network: false
      matrix: { shard: [1, 2], include: [{ shard: 3 }], fail-fast: false, max-parallel: 1 }
      steps: [{ run: "npm test -- --shard=\${{ matrix.shard }}/2" }]
      reports: { junit: "reports/*.xml" }
service:
  run: node dist/server.js
  instances: 2
  health: { path: /healthz, liveness: { command: ./alive, interval: 5s } }
  stop: { signal: SIGTERM, drain-timeout: 30s }
environments:
  staging: { auto: true }
  preview:
  production:
    approval: required
    port: 8080
    secrets: { DB_PASSWORD: PROD_DB_PASSWORD }
    strategy:
      canary:
        steps: [{ weight: 5, pause: 30s }, { weight: 50%, pause: until-promoted }]
        match: [{ header: x-canary, value: "true" }]
        analysis:
          error-rate: { max: 1%, max-increase: 0.005 }
          latency-p99: { max: 300ms }
          latency-p99.9: { max-increase: 50ms }
          prometheus: [{ name: saturation, query: 'avg(x)', max: 0.8 }]
          confidence: 99%
  blue: { approval: true, strategy: { blue-green: { keep-old: 10m } } }
slos: { availability: { objective: 99.9% } }
experiments: {}
`;

/** Every object schema's properties, with where they are, to check each has a description. */
function undescribed(schema: unknown, where: string): string[] {
  if (Array.isArray(schema)) return schema.flatMap((item, i) => undescribed(item, `${where}[${i}]`));
  if (typeof schema !== 'object' || schema === null) return [];
  const node = schema as Record<string, unknown>;
  const missing: string[] = [];
  if (typeof node.properties === 'object' && node.properties !== null) {
    for (const [key, property] of Object.entries(node.properties)) {
      if (typeof (property as { description?: unknown }).description !== 'string') missing.push(`${where}.${key}`);
    }
  }
  for (const [key, child] of Object.entries(node)) missing.push(...undescribed(child, `${where}/${key}`));
  return missing;
}

describe('the gantry.yaml JSON Schema', () => {
  it('is committed as generated (run `node scripts/write-schema.ts` after a schema change)', () => {
    expect(committed).toEqual(gantryJsonSchema());
  });

  it('names its draft and title, claims no address it cannot be loaded from, and describes every field', () => {
    const schema = gantryJsonSchema();
    expect(schema).toMatchObject({ $schema: 'https://json-schema.org/draft/2020-12/schema', title: 'gantry.yaml' });
    expect(schema).not.toHaveProperty('$id');
    expect(JSON.stringify(schema)).not.toContain('gantry.dev');
    expect(undescribed(schema, '')).toEqual([]);
  });

  it('accepts a full example and rejects unknown keys, as an editor would', () => {
    const validator = z.fromJSONSchema(gantryJsonSchema() as Parameters<typeof z.fromJSONSchema>[0]);
    const example = parse(EXAMPLE) as { pipeline: { jobs: { test: Record<string, unknown> } } };
    expect(validator.safeParse(example).success).toBe(true);

    example.pipeline.jobs.test.nedds = ['build'];
    const result = validator.safeParse(example);
    expect(result.success).toBe(false);
    expect(result.error?.issues).toEqual([
      expect.objectContaining({ code: 'unrecognized_keys', keys: ['nedds'], path: ['pipeline', 'jobs', 'test'] }),
    ]);
  });

  it('checks analysis keys: latency-p<NN> by pattern, anything else unknown', () => {
    const validator = z.fromJSONSchema(gantryJsonSchema() as Parameters<typeof z.fromJSONSchema>[0]);
    const example = parse(EXAMPLE) as { environments: { production: { strategy: { canary: { analysis: Record<string, unknown> } } } } };
    const analysis = example.environments.production.strategy.canary.analysis;
    analysis['latency-p50'] = { max: '100ms' };
    expect(validator.safeParse(example).success).toBe(true);

    for (const key of ['latency-99', 'latency-p100', 'windw']) {
      const wrong = structuredClone(example);
      wrong.environments.production.strategy.canary.analysis[key] = { max: '1s' };
      expect(validator.safeParse(wrong).success, key).toBe(false);
    }
    analysis['latency-p50'] = { mx: '100ms' };
    expect(validator.safeParse(example).success).toBe(false);
  });

  it('rejects a job without steps and a wrong type', () => {
    const validator = z.fromJSONSchema(gantryJsonSchema() as Parameters<typeof z.fromJSONSchema>[0]);
    expect(validator.safeParse({ pipeline: { jobs: { a: { needs: [] } } } }).success).toBe(false);
    expect(validator.safeParse({ pipeline: { jobs: { a: { steps: ['x'], retry: 'twice' } } } }).success).toBe(false);
  });
});
