import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import type { SloConfig } from '../../src/core/slo-config.ts';
import { parseConfig } from '../../src/pipeline/load-config.ts';
import { PROMETHEUS_BUCKETS_S } from '../../src/proxy/index.ts';
import { prometheusRules, promDuration } from '../../src/slo/index.ts';
import { commandWorks, requirement } from '../support/requirements.ts';

const run = promisify(execFile);

function slos(...lines: string[]): SloConfig[] {
  const text = ['pipeline: { jobs: { b: { steps: [make] } } }', 'slos:', ...lines.map((l) => `  ${l}`)].join('\n');
  return parseConfig(text, 'gantry.yaml').slos ?? [];
}

describe('Prometheus durations', () => {
  it.each([
    [10_000, '10s'],
    [120_000, '2m'],
    [3_600_000, '1h'],
    [8_640_000, '2h24m'],
    [259_200_000, '3d'],
    [1500, '1s500ms'],
  ])('%d ms is %s', (ms, text) => expect(promDuration(ms)).toBe(text));
});

describe('generated rules', () => {
  it('refuse a latency threshold Prometheus cannot count exactly, naming the bounds around it', () => {
    expect(() =>
      prometheusRules('shop', slos('latency: { objective: 99%, threshold: 300ms }'), ['production'], PROMETHEUS_BUCKETS_S),
    ).toThrow(
      "SLO 'latency': a latency threshold of 300ms is not a bucket bound of the proxy's histogram, so Prometheus cannot count it exactly; use 250ms or 500ms",
    );
  });

  it("put the window into Sloth's {{.window}} spelling as into {{window}}", () => {
    const [checkout] = slos(
      "checkout: { objective: 99%, period: 30d, prometheus: { good: 'sum(rate(ok[{{ .window }}]))', total: 'sum(rate(all[{{window}}]))' } }",
    );
    const rules = prometheusRules('shop', checkout === undefined ? [] : [checkout], ['production'], PROMETHEUS_BUCKETS_S);
    const first = rules.groups[0]?.rules[0];
    expect(first).toMatchObject({
      record: 'gantry_slo:sli_error:ratio_rate5m',
      expr: '1 - (\n(sum(rate(ok[5m])))\n/\n(sum(rate(all[5m])))\n)',
    });
  });

  it('apply each SLO only to its environments', () => {
    const file = prometheusRules(
      'shop',
      slos('a: { objective: 99%, environments: [production] }', 'b: { objective: 99% }'),
      ['staging', 'production'],
      PROMETHEUS_BUCKETS_S,
    );
    const envs = (name: string) => [...new Set(file.groups.find((g) => g.name === name)?.rules.map((r) => r.labels.environment))];
    expect(envs('gantry-slo-shop-a')).toEqual(['production']);
    expect(envs('gantry-slo-shop-b')).toEqual(['staging', 'production']);
  });
});

describe.runIf(requirement('promtool', commandWorks('promtool', ['--version'])))('generated rules in promtool', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gantry-rules-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('pass `promtool check rules` for every kind of SLI', async () => {
    const file = prometheusRules(
      'shop',
      slos(
        'availability: { objective: 99.9%, period: 30d }',
        'latency: { objective: 99%, threshold: 250ms, period: 7d }',
        "checkout: { objective: 99.5%, prometheus: { good: 'sum(rate(orders_ok_total[{{window}}]))', total: 'sum(rate(orders_total[{{window}}]))' } }",
      ),
      ['production'],
      PROMETHEUS_BUCKETS_S,
    );
    await writeFile(join(dir, 'check.yaml'), stringify(file));
    const { stdout } = await run('promtool', ['check', 'rules', join(dir, 'check.yaml')]);
    // 3 SLOs × (5 distinct windows + a page and a ticket alert).
    expect(stdout).toContain('SUCCESS: 21 rules found');
  });

  it("page in Prometheus on a full outage when Gantry's rules say so, and not before (promtool test rules)", async () => {
    const file = prometheusRules('shop', slos('availability: { objective: 99.9%, period: 1d }'), ['production'], PROMETHEUS_BUCKETS_S);
    await writeFile(join(dir, 'outage.rules.yaml'), stringify(file));
    const series = (status: string) =>
      `gantry_proxy_requests_total{project="shop",environment="production",version="v1",route="/",status_class="${status}"}`;
    const labels = { project: 'shop', environment: 'production', slo: 'availability', severity: 'page' };
    // 50 req/s, all good for 10 minutes, then all failing (a full outage) from 600 s.
    const test = {
      rule_files: ['outage.rules.yaml'],
      evaluation_interval: '1s',
      tests: [
        {
          interval: '1s',
          input_series: [
            { series: series('2xx'), values: '0+50x600 30000x300' },
            { series: series('5xx'), values: '0x600 50+50x300' },
          ],
          alert_rule_test: [
            { eval_time: '9m55s', alertname: 'GantrySLOBurnRatePage', exp_alerts: [] },
            {
              eval_time: '10m5s',
              alertname: 'GantrySLOBurnRatePage',
              exp_alerts: [
                {
                  exp_labels: labels,
                  exp_annotations: {
                    summary: "shop/production: SLO 'availability' is burning its error budget too fast",
                    description: 'The availability SLO (99.9% over 1d) burns its budget faster than 14.4× or 6×.',
                  },
                },
              ],
            },
          ],
        },
      ],
    };
    await writeFile(join(dir, 'outage.test.yaml'), stringify(test));
    const result = await run('promtool', ['test', 'rules', join(dir, 'outage.test.yaml')]).catch(
      (error: { stdout: string; stderr: string }) => error,
    );
    expect(`${result.stdout}${result.stderr}`).toContain('SUCCESS');
  });
});
