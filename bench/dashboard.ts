/**
 * The dashboard in Debian's Chromium against a real `gantry up`:
 *  1. first-load size: the JavaScript and CSS `/` loads (entry + preloads), gzipped as served;
 *  2. a run of 1,000 jobs, drawn by each of the graph's renderers in turn (the DOM one as the
 *     baseline, the canvas one; `?graph=dom|canvas`): navigation → the graph on screen, the
 *     longest main-thread task meanwhile, the latency of each interaction as INP counts it
 *     (clicks on nodes, arrow keys: p50/p95/max), the frames while panning and, on the canvas,
 *     while zooming; the canvas/DOM ratio of each from the same run;
 *  3. a 100 MB job log: navigation → first lines, jumps to 25/50/75/100 % (time until those lines
 *     are on screen) and the worst frame gap during 3 s of continuous scrolling.
 * There is no peer dashboard that runs here (Jenkins, GitLab, Grafana need services this machine
 * lacks), so figures are absolute; 50 ms is the usual "long task" line, 100 ms the interaction one.
 *
 * Env: JOBS (default 1000), LOG_MB (default 100), ROUNDS (default 2: DOM then canvas, canvas then DOM),
 * PARTS (default graph,log).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../test/support/chromium.ts';
import { benchMain, percentile, progress, REPO_ROOT, round, startServer, tempDir, tempRepo, waitFor } from './lib.ts';

const JOBS = Number(process.env.JOBS ?? 1000);
const LOG_MB = Number(process.env.LOG_MB ?? 100);
const ROUNDS = Number(process.env.ROUNDS ?? 2);
const PARTS = new Set((process.env.PARTS ?? 'graph,log').split(','));
/** The graph's grid (web/src/graph/geometry.ts), to click nodes where both renderers draw them. */
const GRID = { pad: 8, columnPitch: 212 + 56, rowPitch: 46, nodeHeight: 38 };
/** Interactions: clicks on nodes in view, then arrow keys from a focused node. */
const CLICKS = 10;
const KEYS = 20;

function firstLoadBytes(): Record<string, number> {
  const dir = join(REPO_ROOT, 'dist', 'web');
  const html = readFileSync(join(dir, 'index.html'), 'utf8');
  const files = [...html.matchAll(/(?:src|href)="\/(assets\/[^"]+\.(js|css))"/g)].map((m) => ({ path: m[1]!, kind: m[2]! }));
  let js = 0;
  let jsRaw = 0;
  let css = 0;
  for (const file of files) {
    const body = readFileSync(join(dir, file.path));
    const gz = gzipSync(body).length;
    if (file.kind === 'js') {
      js += gz;
      jsRaw += body.length;
    } else css += gz;
  }
  return { js_gzip_kib: round(js / 1024, 1), js_raw_kib: round(jsRaw / 1024, 1), css_gzip_kib: round(css / 1024, 1), files: files.length };
}

function graphPipeline(jobs: number): string {
  const perLayer = 50;
  const lines = ['pipeline:', '  on: { manual: {} }', '  jobs:'];
  for (let i = 0; i < jobs; i++) {
    const layer = Math.floor(i / perLayer);
    const needs = layer === 0 ? [] : [(layer - 1) * perLayer + (i % perLayer), (layer - 1) * perLayer + ((i * 7 + 3) % perLayer)];
    lines.push(
      `    j${i}:`,
      ...(needs.length ? [`      needs: [${[...new Set(needs)].map((n) => `j${n}`).join(', ')}]`] : []),
      '      steps: ["true"]',
    );
  }
  return `${lines.join('\n')}\n`;
}

const LOG_PIPELINE = (lines: number) => `
pipeline:
  on: { manual: {} }
  jobs:
    noisy:
      steps:
        - run: seq 1 ${lines} | awk '{ printf "%07d \\033[36minfo\\033[0m GET /api/items/%d status=200 duration=%dms lorem ipsum dolor sit amet consectetur\\n", $1, $1, $1 % 97 }'
`;

/** Watches long tasks and frame gaps inside the page. */
async function instrument(page: Page): Promise<void> {
  await page.addInitScript(() => {
    const w = window as unknown as { __long: number[]; __events: { name: string; duration: number; interaction: number }[] };
    w.__long = [];
    w.__events = [];
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) w.__long.push(e.duration);
    }).observe({ type: 'longtask', buffered: true });
    // Interactions as INP counts them: events with an interactionId (clicks, taps, key presses).
    // 16 ms is the lowest threshold the API allows: faster interactions are not reported.
    new PerformanceObserver((list) => {
      for (const e of list.getEntries() as (PerformanceEntry & { interactionId?: number })[])
        if (e.interactionId) w.__events.push({ name: e.name, duration: e.duration, interaction: e.interactionId });
    }).observe({ type: 'event', buffered: true, durationThreshold: 16 } as PerformanceObserverInit);
  });
}

async function pageStats(
  page: Page,
): Promise<{ longest_task_ms: number; long_tasks: number; slowest_interaction_ms: number; slowest_interaction: string | null }> {
  return page.evaluate(() => {
    const w = window as unknown as { __long: number[]; __events: { name: string; duration: number; interaction: number }[] };
    const slowest = [...w.__events].sort((a, b) => b.duration - a.duration)[0];
    const stats = {
      longest_task_ms: Math.round(Math.max(0, ...w.__long)),
      long_tasks: w.__long.length,
      slowest_interaction_ms: Math.round(slowest?.duration ?? 0),
      slowest_interaction: slowest?.name ?? null,
    };
    w.__long = [];
    w.__events = [];
    return stats;
  });
}

type FrameStats = { worst_frame_ms: number; p95_frame_ms: number; frames: number };

/** The worst and p95 gaps between frames. */
function frameStats(gaps: number[]): FrameStats {
  const sorted = [...gaps].sort((a, b) => a - b);
  return {
    worst_frame_ms: Math.round(sorted.at(-1) ?? 0),
    p95_frame_ms: Math.round(sorted[Math.floor(sorted.length * 0.95)] ?? 0),
    frames: gaps.length,
  };
}

/** Scrolls `selector` continuously for `ms` (one step per frame) and returns the worst and p95 frame gaps. */
async function scrollFrames(page: Page, selector: string, ms: number, axis: 'x' | 'y'): Promise<FrameStats> {
  const gaps = await page.evaluate(
    async ({ selector, ms, axis }) => {
      const el = document.querySelector(selector) as HTMLElement;
      const gaps: number[] = [];
      const max = axis === 'y' ? el.scrollHeight - el.clientHeight : el.scrollWidth - el.clientWidth;
      const step = Math.max(1, max / 240);
      await new Promise<void>((resolve) => {
        const start = performance.now();
        let last = start;
        const frame = (now: number) => {
          gaps.push(now - last);
          last = now;
          if (axis === 'y') el.scrollTop = (el.scrollTop + step) % max;
          else el.scrollLeft = (el.scrollLeft + step) % max;
          if (now - start < ms) requestAnimationFrame(frame);
          else resolve();
        };
        requestAnimationFrame(frame);
      });
      gaps.shift();
      return gaps;
    },
    { selector, ms, axis },
  );
  return frameStats(gaps);
}

/**
 * The latency of each interaction since the last call, as INP counts it (the longest event of
 * the interaction), padded with 16 ms for the `expected` ones too fast to be reported at all
 * (an upper bound for them).
 */
async function interactionLatencies(page: Page, expected: number): Promise<number[]> {
  const reported = await page.evaluate(() => {
    const w = window as unknown as { __events: { duration: number; interaction: number }[] };
    const longest = new Map<number, number>();
    for (const e of w.__events) longest.set(e.interaction, Math.max(longest.get(e.interaction) ?? 0, e.duration));
    w.__events = [];
    return [...longest.values()];
  });
  return [...reported, ...Array.from({ length: Math.max(0, expected - reported.length) }, () => 16)];
}

function latencySummary(values: number[]): { p50_ms: number; p95_ms: number; max_ms: number; count: number } {
  return { p50_ms: percentile(values, 50), p95_ms: percentile(values, 95), max_ms: Math.max(...values), count: values.length };
}

/** Zooms the canvas graph out and in with Ctrl + wheel, one step per frame, and returns the frame gaps. */
async function zoomFrames(page: Page, ms: number): Promise<FrameStats> {
  const gaps = await page.evaluate(async (ms) => {
    const target = document.querySelector('.job-graph') as HTMLElement;
    const rect = target.getBoundingClientRect();
    const gaps: number[] = [];
    await new Promise<void>((resolve) => {
      const start = performance.now();
      let last = start;
      let step = 0;
      const frame = (now: number) => {
        gaps.push(now - last);
        last = now;
        // 40 steps out (to the smallest scale), 40 back in, around the view's centre.
        const deltaY = Math.floor(step++ / 40) % 2 === 0 ? 40 : -40;
        target.dispatchEvent(
          new WheelEvent('wheel', {
            deltaY,
            ctrlKey: true,
            clientX: rect.left + rect.width / 2,
            clientY: rect.top + rect.height / 2,
            bubbles: true,
            cancelable: true,
          }),
        );
        if (now - start < ms) requestAnimationFrame(frame);
        else resolve();
      };
      requestAnimationFrame(frame);
    });
    gaps.shift();
    return gaps;
  }, ms);
  return frameStats(gaps);
}

type Renderer = 'dom' | 'canvas';

/**
 * One renderer on the big run's page, in a fresh context: load, then interactions the same way
 * for both (clicks at the same grid positions, arrow keys from the same job), pan, and zoom
 * (canvas only: the DOM renderer has none).
 */
async function measureGraph(browser: Browser, url: string, link: string, runId: string, renderer: Renderer) {
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  try {
    const page = await context.newPage();
    await instrument(page);
    await page.goto(link);
    await page.waitForURL(`${url}/`);
    const started = performance.now();
    await page.goto(`${url}/runs/${runId}?graph=${renderer}`);
    await page.waitForFunction(
      ({ n, canvas }) =>
        document.querySelectorAll('[data-job]').length >= n && (!canvas || document.querySelector('canvas[data-painted]') !== null),
      { n: JOBS, canvas: renderer === 'canvas' },
      { timeout: 60_000, polling: 'raf' },
    );
    const navigationMs = performance.now() - started;
    const load = await pageStats(page);

    // A person pauses between clicks: each interaction starts on an idle page, so it is measured
    // alone rather than queued behind the previous one's fetches.
    const idle = () => page.evaluate(() => new Promise<void>((resolve) => requestIdleCallback(() => resolve(), { timeout: 2000 })));
    const graph = page.locator('.job-graph');
    for (let i = 0; i < CLICKS; i++) {
      // Clicks land on nodes of the first view (columns 0–4, rows 0–8), scrolled to the top left.
      await graph.evaluate((el) => el.scrollTo(0, 0));
      await idle();
      const origin = await graph.evaluate((el) => {
        const r = el.getBoundingClientRect();
        return { x: r.left + el.clientLeft, y: r.top + el.clientTop };
      });
      const before = page.url();
      const column = i % 5;
      const row = (i * 3) % 9;
      await page.mouse.click(
        origin.x + GRID.pad + column * GRID.columnPitch + 100,
        origin.y + GRID.pad + row * GRID.rowPitch + GRID.nodeHeight / 2,
      );
      await page.waitForURL((u) => u.href !== before && /\/jobs\/j\d+/.test(u.pathname), { timeout: 30_000 });
    }
    await idle();
    const clickLatencies = await interactionLatencies(page, CLICKS);
    await page.locator('[data-job="j0"]').focus();
    for (let i = 0; i < KEYS; i++) {
      await idle();
      await page.keyboard.press(i % 2 ? 'ArrowDown' : 'ArrowRight');
    }
    await idle();
    const keyLatencies = await interactionLatencies(page, KEYS);
    const latencies = [...clickLatencies, ...keyLatencies];
    const interactionTasks = await pageStats(page);
    await graph.evaluate((el) => el.setAttribute('data-bench-scroller', ''));
    const pan = await scrollFrames(page, '[data-bench-scroller]', 2000, 'x');
    const zoom = renderer === 'canvas' ? await zoomFrames(page, 2000) : null;
    const interactions = latencySummary(latencies.map((v) => Math.round(v)));
    progress(
      `graph (${renderer}): ${Math.round(navigationMs)} ms to the graph; interactions ${JSON.stringify(interactions)}; pan p95 ${pan.p95_frame_ms} ms`,
    );
    return {
      navigation_ms: Math.round(navigationMs),
      load_longest_task_ms: load.longest_task_ms,
      interactions,
      clicks: latencySummary(clickLatencies.map((v) => Math.round(v))),
      arrow_keys: latencySummary(keyLatencies.map((v) => Math.round(v))),
      interaction_longest_task_ms: interactionTasks.longest_task_ms,
      pan,
      zoom,
    };
  } finally {
    await context.close();
  }
}

type GraphRound = Awaited<ReturnType<typeof measureGraph>>;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

/** The median over rounds of one figure, for each renderer, and canvas ÷ DOM. */
function compare(rounds: Record<Renderer, GraphRound[]>, figure: (r: GraphRound) => number) {
  const dom = median(rounds.dom.map(figure));
  const canvas = median(rounds.canvas.map(figure));
  return { dom, canvas, ratio: dom > 0 ? round(canvas / dom, 2) : null };
}

await benchMain('dashboard', 15 * 60_000, async () => {
  const size = firstLoadBytes();
  progress(`first load: ${size.js_gzip_kib} KiB of JavaScript gzipped`);
  const logLines = Math.round((LOG_MB * 1024 * 1024) / 128);
  const server = await startServer({
    dataDir: await tempDir('dashboard-data'),
    // Without the sandbox: the jobs' steps are `true`, only the run's shape matters here, and on a
    // loaded machine a sandbox per job stretched the 1,000-job run past four minutes.
    env: { ...process.env, GANTRY_LOG_CAP_BYTES: String(LOG_MB * 2 * 1024 * 1024), GANTRY_SANDBOX: 'off' },
  });
  const browser = await launchChromium();
  try {
    const runOf = async (name: string, yaml: string) => {
      const dir = await tempRepo(name, yaml);
      await server.api('POST', '/api/projects', { path: dir, name });
      const { run } = await server.api<{ run: { id: string } }>('POST', `/api/projects/${name}/runs`, {});
      await waitFor(
        `${name} to finish`,
        async () => ((await server.api<{ status: string }>('GET', `/api/runs/${run.id}`)).status === 'success' ? true : undefined),
        480_000,
        500,
      );
      return run.id;
    };
    progress(`running a ${JOBS}-job pipeline${PARTS.has('log') ? ` and a ${LOG_MB} MB log` : ''}`);
    const login = async () => (await server.api<{ url: string }>('POST', '/api/login-links')).url;
    const result: Record<string, unknown> = { first_load: size };

    // ---- the graph, each renderer in turn (the DOM one first: the baseline)
    if (PARTS.has('graph')) {
      const graphRun = await runOf('graph', graphPipeline(JOBS));
      const rounds: Record<Renderer, GraphRound[]> = { dom: [], canvas: [] };
      // Alternating which goes first: the second page of a pair loaded the run seconds slower
      // (server side, whichever renderer it was).
      for (let i = 0; i < ROUNDS; i++) {
        for (const renderer of i % 2 === 0 ? (['dom', 'canvas'] as const) : (['canvas', 'dom'] as const))
          rounds[renderer].push(await measureGraph(browser, server.url, await login(), graphRun, renderer));
      }
      result.graph = {
        jobs: JOBS,
        rounds: ROUNDS,
        interactions_per_round: { clicks: CLICKS, arrow_keys: KEYS },
        median_of_rounds: {
          navigation_ms: compare(rounds, (r) => r.navigation_ms),
          load_longest_task_ms: compare(rounds, (r) => r.load_longest_task_ms),
          interaction_p50_ms: compare(rounds, (r) => r.interactions.p50_ms),
          interaction_p95_ms: compare(rounds, (r) => r.interactions.p95_ms),
          interaction_max_ms: compare(rounds, (r) => r.interactions.max_ms),
          pan_p95_frame_ms: compare(rounds, (r) => r.pan.p95_frame_ms),
          pan_worst_frame_ms: compare(rounds, (r) => r.pan.worst_frame_ms),
        },
        dom: rounds.dom,
        canvas: rounds.canvas,
      };
    }
    if (!PARTS.has('log')) return { ...result, peer: { name: 'the graph: the DOM renderer (baseline) against the canvas one, same run' } };

    const logRun = await runOf('logs', LOG_PIPELINE(logLines));
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
    const page = await context.newPage();
    await instrument(page);
    await page.goto(await login());
    await page.waitForURL(`${server.url}/`);

    // ---- the log
    const started = performance.now();
    await page.goto(`${server.url}/runs/${logRun}/jobs/noisy`);
    await page.locator('[data-line]').first().waitFor({ timeout: 60_000 });
    const logFirstLinesMs = performance.now() - started;
    const logLoad = await pageStats(page);
    const jumps: Record<string, number> = {};
    for (const fraction of [0.25, 0.5, 0.75, 1]) {
      const t0 = performance.now();
      const target = await page.evaluate((f) => {
        const el = document.querySelector('[data-testid="log-scroll"]') as HTMLElement;
        el.scrollTop = (el.scrollHeight - el.clientHeight) * f;
        return f;
      }, fraction);
      const expected = Math.floor(logLines * target * 0.9);
      await page.waitForFunction(
        (min) =>
          [...document.querySelectorAll('[data-line]')].some(
            (l) => Number(l.getAttribute('data-line')) >= min && (l.textContent ?? '').includes('lorem'),
          ),
        expected,
        { timeout: 30_000, polling: 'raf' },
      );
      jumps[`${fraction * 100}%`] = Math.round(performance.now() - t0);
    }
    const logScroll = await scrollFrames(page, '[data-testid="log-scroll"]', 3000, 'y');
    const logAfter = await pageStats(page);
    progress(`log: ${round(logFirstLinesMs)} ms to the first lines, worst frame while scrolling ${logScroll.worst_frame_ms} ms`);
    const logBytes = (
      await fetch(`${server.url}/api/runs/${logRun}/jobs/noisy/log`, {
        method: 'HEAD',
        headers: { authorization: `Bearer ${server.token()}` },
      })
    ).headers.get('content-length');

    return {
      ...result,
      log: {
        bytes: Number(logBytes),
        lines: logLines,
        navigation_to_first_lines_ms: Math.round(logFirstLinesMs),
        load: logLoad,
        jump_to_lines_ms: jumps,
        continuous_scroll: logScroll,
        during_scroll: logAfter,
      },
      peer: {
        name: 'the graph: the DOM renderer (baseline) against the canvas one, same run; the log: none runs here (Jenkins, GitLab and Grafana need services this machine lacks)',
      },
    };
  } finally {
    await browser.close();
    await server.stop();
  }
});
