/**
 * Gantry's burn rates against Prometheus's on the same traffic (issue "SLOs" target: within 1 %).
 * A Gantry server (in process, real proxy process, real service) with an availability and a
 * latency SLO over PERIOD; RATE requests a second through its proxy, every 5th a 500 and every
 * 4th answered after 300 ms; a real Prometheus scraping /metrics every SCRAPE_S with the rules of
 * `gantry slo rules`. After the longest compared window has filled, every few seconds each SLO's
 * windows (those of 10 scrapes or more, see test/support/slo-agreement.ts) are compared with
 * the recorded series at Gantry's evaluation time. Prints the relative differences per window.
 *
 *   npm run bench:slo-agreement     (PERIOD=12h RATE=100 SCRAPE_S=1 DURATION_S=120)
 */
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { promDuration } from '../src/slo/index.ts';
import { runCli } from '../test/support/cli.ts';
import { startPrometheus } from '../test/support/prometheus-process.ts';
import { makeRepo } from '../test/support/repo.ts';
import { startTestServer } from '../test/support/server.ts';
import {
  AGREEMENT_SERVICE,
  type AgreementStatus,
  agreementYaml,
  compareBurnRates,
  deployAgreementService,
  OpenLoopLoad,
  type WindowAgreement,
  waitForRuleEvaluation,
} from '../test/support/slo-agreement.ts';
import { benchMain, percentile, progress, round, tempDir, waitFor } from './lib.ts';

const PERIOD = process.env.PERIOD ?? '12h';
const RATE = Number(process.env.RATE ?? 100);
const SCRAPE_S = Number(process.env.SCRAPE_S ?? 1);
const DURATION_S = Number(process.env.DURATION_S ?? 120);
const HOUR = 3_600_000;

await benchMain('slo-prometheus-agreement', (DURATION_S + 150) * 1000, async () => {
  const server = await startTestServer();
  const repo = await makeRepo({ 'server.js': AGREEMENT_SERVICE, 'gantry.yaml': agreementYaml(PERIOD) });
  let prometheus: Awaited<ReturnType<typeof startPrometheus>> | undefined;
  let load: OpenLoopLoad | undefined;
  try {
    const port = await deployAgreementService(server.api, repo.dir);
    const rules = (await runCli(repo.dir, ['slo', 'rules', 'shop'], { env: { GANTRY_URL: server.url, GANTRY_TOKEN: server.token } }))
      .stdout;
    const dir = await tempDir('gantry-bench-slo-rules-');
    await writeFile(join(dir, 'rules.yaml'), rules);
    const promtool = (await promisify(execFile)('promtool', ['check', 'rules', join(dir, 'rules.yaml')])).stdout.trim().split('\n').at(-1);
    progress(`promtool: ${promtool}`);

    prometheus = await startPrometheus({
      targets: [new URL(server.url).host],
      scrapeInterval: `${SCRAPE_S}s`,
      rules: [rules],
      bearerToken: server.token,
    });
    load = new OpenLoopLoad(port, RATE);
    load.start();
    const startedAt = Date.now();
    const statuses = async () => (await server.api<{ slos: AgreementStatus[] }>('GET', '/api/projects/shop/slos')).body.slos;
    const windows = [...new Set((await statuses()).flatMap((s) => s.rules.flatMap((r) => [r.longWindowMs, r.shortWindowMs])))];
    const compared = windows.filter((w) => w >= 10 * SCRAPE_S * 1000 && w < DURATION_S * 1000);
    const longest = Math.max(...compared);
    progress(`windows of ${PERIOD}: ${windows.map(promDuration).join(', ')}; comparing ${compared.map(promDuration).join(', ')}`);
    await waitFor(
      'the longest compared window to fill',
      () => (Date.now() - startedAt > longest + 2000 ? true : undefined),
      longest + 10_000,
      200,
    );

    const samples: WindowAgreement[] = [];
    let last = 0;
    while (Date.now() - startedAt < DURATION_S * 1000) {
      const current = await waitFor(
        'a new evaluation',
        async () => {
          const list = await statuses();
          return list.every((s) => (s.evaluatedAtMs ?? 0) > last + 4000) ? list : undefined;
        },
        20_000,
        100,
      );
      last = current[0]?.evaluatedAtMs ?? Date.now();
      await waitForRuleEvaluation(prometheus.url, `gantry_slo:sli_error:ratio_rate${promDuration(longest)}`, last);
      const round1 = await compareBurnRates({
        statuses: current,
        prometheusUrl: prometheus.url,
        project: 'shop',
        scrapeMs: SCRAPE_S * 1000,
        scrapingSinceMs: startedAt,
      });
      samples.push(...round1);
      progress(round1.map((s) => `${s.slo} ${s.window}: ${round(s.gantry, 3)} vs ${round(s.prometheus, 3)}`).join('; '));
    }

    const perWindow: Record<string, unknown> = {};
    for (const key of [...new Set(samples.map((s) => `${s.slo} ${s.window}`))]) {
      const of = samples.filter((s) => `${s.slo} ${s.window}` === key);
      const diffs = of.map((s) => s.relativeDifference);
      const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
      perWindow[key] = {
        comparisons: of.length,
        gantry_burn_rate_mean: round(mean(of.map((s) => s.gantry)), 4),
        prometheus_burn_rate_mean: round(mean(of.map((s) => s.prometheus)), 4),
        ratio: round(mean(of.map((s) => s.gantry)) / mean(of.map((s) => s.prometheus)), 4),
        relative_difference_p50: round(percentile(diffs, 50), 5),
        relative_difference_max: round(Math.max(...diffs), 5),
      };
    }
    const all = samples.map((s) => s.relativeDifference);
    return {
      settings: {
        period: PERIOD,
        rate: RATE,
        scrape_s: SCRAPE_S,
        duration_s: DURATION_S,
        period_hours: round(parsePeriodHours(PERIOD), 2),
      },
      promtool,
      requests: { sent: load.sent, failed_to_send: load.failed },
      windows: perWindow,
      relative_difference_max: round(Math.max(...all), 5),
      target: 0.01,
      within_target: Math.max(...all) < 0.01,
    };
  } finally {
    load?.stop();
    await prometheus?.stop();
    await server.cleanup();
    await repo.cleanup();
  }
});

function parsePeriodHours(text: string): number {
  const match = /^(\d+)([hd])$/.exec(text);
  return match === null ? Number.NaN : (Number(match[1]) * (match[2] === 'd' ? 24 * HOUR : HOUR)) / HOUR;
}
