import { describe, expect, it } from 'vitest';
import type { StrategyConfig } from '../../src/core/delivery-config.ts';
import { parseConfig, validateConfig } from '../../src/pipeline/load-config.ts';

/** A file with two environments, production's canary analysis given by `analysis` (one line, indented 10: line 10), then `slos` lines (indented 2). */
function file(analysis: string, ...sloLines: string[]): string {
  return [
    'pipeline:',
    '  jobs: { build: { steps: [make] } }',
    'service: { run: x }',
    'environments:',
    '  staging: {}',
    '  production:',
    '    strategy:',
    '      canary:',
    '        steps: [{ weight: 10, pause: 1m }]',
    `        analysis: ${analysis}`,
    ...(sloLines.length > 0 ? ['slos:', ...sloLines.map((line) => `  ${line}`)] : []),
  ].join('\n');
}

function problems(text: string): string[] {
  return validateConfig(text, 'gantry.yaml').diagnostics.map((d) => `${d.line}:${d.col}: ${d.message}`);
}

function production(text: string): StrategyConfig | undefined {
  return parseConfig(text, 'gantry.yaml').environments?.production?.strategy;
}

const SLOS = [
  'availability: { objective: 99.9%, period: 30d }',
  'latency: { objective: 99%, threshold: 300ms, period: 30d }',
  "checkout: { objective: 99.5%, prometheus: { good: 'sum(rate(ok[{{window}}]))', total: 'sum(rate(all[{{window}}]))' } }",
  'staging-only: { objective: 99%, environments: [staging] }',
];

describe("the analysis 'slo' check", () => {
  it("reads a burn-rate check and copies the SLO's objective and SLI into it", () => {
    const strategy = production(file('{ slo: { name: availability, max-burn-rate: 14.4 } }', ...SLOS));
    expect(strategy).toMatchObject({
      kind: 'canary',
      analysis: { slo: { name: 'availability', maxBurnRate: 14.4, objective: 0.999, sli: { kind: 'availability' } } },
    });
    expect(production(file('{ slo: { name: latency, max-burn-rate: 6 } }', ...SLOS))).toMatchObject({
      analysis: { slo: { objective: 0.99, sli: { kind: 'latency', thresholdMs: 300 } } },
    });
  });

  it('names an unknown SLO where it is written, with the closest name', () => {
    expect(problems(file('{ slo: { name: availabilty, max-burn-rate: 14.4 } }', ...SLOS))).toEqual([
      "10:34: SLO 'availabilty' is not declared in 'slos' (did you mean 'availability'?)",
    ]);
    expect(problems(file('{ slo: { name: errors, max-burn-rate: 14.4 } }', ...SLOS))).toEqual([
      "10:34: SLO 'errors' is not declared in 'slos' (declared: availability, latency, checkout, staging-only)",
    ]);
    expect(problems(file('{ slo: { name: availability, max-burn-rate: 14.4 } }'))).toEqual([
      "10:34: SLO 'availability' is not declared in 'slos' (there is no 'slos' section)",
    ]);
  });

  it('refuses SLOs that cannot judge this canary: a PromQL SLI, or one for other environments', () => {
    expect(problems(file('{ slo: { name: checkout, max-burn-rate: 2 } }', ...SLOS))).toEqual([
      "10:34: SLO 'checkout' counts its events with PromQL, which cannot tell the canary from the stable pool: use an availability or latency SLO",
    ]);
    expect(problems(file('{ slo: { name: staging-only, max-burn-rate: 2 } }', ...SLOS))).toEqual([
      "10:34: SLO 'staging-only' does not apply to environment 'production' (its environments: staging)",
    ]);
  });

  it('checks its own keys and values like every other check', () => {
    expect(problems(file('{ slo: { name: availability, max-burn: 14.4 } }', ...SLOS))).toEqual([
      "10:48: unknown key 'max-burn' in the slo check of environment 'production' (did you mean 'max-burn-rate'?)",
    ]);
    expect(problems(file('{ slo: { name: availability, max-burn-rate: 0 } }', ...SLOS))).toEqual([
      "10:63: 'max-burn-rate' in the slo check of environment 'production': expected a number > 0, got 0",
    ]);
    expect(problems(file('{ slo: availability }', ...SLOS))).toEqual([
      "10:26: 'slo' in the analysis of environment 'production': expected a map with name and max-burn-rate, got a string",
    ]);
    expect(problems(file('{ sli: { name: availability } }', ...SLOS))).toEqual([
      "10:21: unknown key 'sli' in the analysis of environment 'production' (did you mean 'slo'?)",
    ]);
  });
});
