/**
 * Gantry's burn rates agree with Prometheus's within 1 % on the same traffic: a real server with
 * a deployed service (every 5th request a 500, every 4th answered after 300 ms), 100 requests a
 * second through its proxy, and a real Prometheus scraping the server's /metrics every second
 * and evaluating the rules `gantry slo rules` wrote (checked by promtool first). The SLO period
 * is 12 h, so the workbook's windows are 5 s, 30 s, 1 min, 6 min, 72 min; the 30-second one is
 * compared, at three evaluations (why not the others, and why the comparison is fair:
 * test/support/slo-agreement.ts; `npm run bench:slo-agreement` compares the 1-minute and longer
 * ones too, for longer).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.ts';
import { prometheusAvailable, startPrometheus, type TestPrometheus } from '../support/prometheus.ts';
import { makeRepo } from '../support/repo.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import {
  AGREEMENT_SERVICE,
  type AgreementStatus,
  agreementYaml,
  compareBurnRates,
  deployAgreementService,
  OpenLoopLoad,
  type WindowAgreement,
  waitForRuleEvaluation,
} from '../support/slo-agreement.ts';
import { waitFor } from '../support/wait.ts';

const SCRAPE_MS = 1000;
const COMPARED_WINDOW_MS = 30_000;

describe.runIf(prometheusAvailable())("Gantry's burn rates against Prometheus evaluating `gantry slo rules`", () => {
  let server: TestServer;
  let repo: Awaited<ReturnType<typeof makeRepo>>;
  let prometheus: TestPrometheus | undefined;
  let load: OpenLoopLoad | undefined;
  let rules = '';
  let port = 0;

  beforeAll(async () => {
    // Evaluated every 500 ms rather than 2 s: each of the three compared evaluations comes sooner.
    server = await startTestServer({ start: { sloEvaluateEveryMs: 500 } });
    repo = await makeRepo({ 'server.js': AGREEMENT_SERVICE, 'gantry.yaml': agreementYaml('12h') });
    port = await deployAgreementService(server.api, repo.dir);
    const written = await runCli(repo.dir, ['slo', 'rules', 'shop'], { env: { GANTRY_URL: server.url, GANTRY_TOKEN: server.token } });
    expect(written.code).toBe(0);
    rules = written.stdout;
  }, 90_000);

  afterAll(async () => {
    load?.stop();
    await prometheus?.stop();
    await server?.cleanup();
    await repo?.cleanup();
  });

  it('writes rules that promtool accepts', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gantry-slo-rules-'));
    try {
      await writeFile(join(dir, 'rules.yaml'), rules);
      const checked = await promisify(execFile)('promtool', ['check', 'rules', join(dir, 'rules.yaml')]);
      expect(checked.stdout).toContain('SUCCESS: 14 rules found');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('agrees within 1 % on the 30-second window, at several evaluations', async () => {
    prometheus = await startPrometheus({
      targets: [new URL(server.url).host],
      scrapeInterval: `${SCRAPE_MS / 1000}s`,
      rules: [rules],
      bearerToken: server.token,
    });
    load = new OpenLoopLoad(port, 100);
    load.start();
    const loadStartedAt = Date.now();
    // One scrape of margin past the compared window.
    await waitFor(() => Date.now() - loadStartedAt > COMPARED_WINDOW_MS + 2 * SCRAPE_MS, {
      what: 'the 30-second window to fill',
      timeoutMs: 90_000,
    });

    const compared: WindowAgreement[] = [];
    for (let i = 0; i < 3; i++) {
      const previous = compared.length === 0 ? 0 : Date.now();
      // A fresh evaluation each time (every 500 ms here).
      const statuses = await waitFor(
        async () => {
          const list = (await server.api<{ slos: AgreementStatus[] }>('GET', '/api/projects/shop/slos')).body.slos;
          return list.every((s) => (s.evaluatedAtMs ?? 0) > previous) ? list : undefined;
        },
        { what: 'a new evaluation' },
      );
      const at = statuses[0]?.evaluatedAtMs ?? 0;
      await waitForRuleEvaluation(prometheus.url, 'gantry_slo:sli_error:ratio_rate30s', at);
      compared.push(
        ...(await compareBurnRates({
          statuses,
          prometheusUrl: prometheus.url,
          project: 'shop',
          scrapeMs: SCRAPE_MS,
          scrapingSinceMs: loadStartedAt,
          minWindowMs: COMPARED_WINDOW_MS,
        })),
      );
    }
    expect(load.failed).toBe(0);
    // Every 5th request fails against a 1 % budget (20×); every 4th is slow against 5 % (5×).
    for (const c of compared) expect(c.gantry).toBeCloseTo(c.slo === 'availability' ? 20 : 5, 0);
    // The 30 s windows; a loaded machine may come to compare after a minute, and the 1-minute ones then too.
    const windows = new Set(compared.map((c) => `${c.slo} ${c.window}`));
    expect([...windows]).toEqual(expect.arrayContaining(['availability 30s', 'latency 30s']));
    expect([...windows].filter((w) => !/ (30s|1m)$/.test(w))).toEqual([]);
    const worst = Math.max(...compared.map((c) => c.relativeDifference));
    expect(worst, JSON.stringify(compared, null, 1)).toBeLessThan(0.01);
  }, 150_000);
});
