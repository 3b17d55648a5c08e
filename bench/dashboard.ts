/**
 * The dashboard in Debian's Chromium against a real `gantry up`:
 *  1. first-load size: the JavaScript and CSS `/` loads (entry + preloads), gzipped as served;
 *  2. a run of 1,000 jobs: navigation → every node of its graph on screen, the longest main-thread
 *     task meanwhile, then the slowest interaction as INP counts it (selecting nodes, arrow keys)
 *     and the worst frame while panning the graph;
 *  3. a 100 MB job log: navigation → first lines, jumps to 25/50/75/100 % (time until those lines
 *     are on screen) and the worst frame gap during 3 s of continuous scrolling.
 * There is no peer dashboard that runs here (Jenkins, GitLab, Grafana need services this machine
 * lacks), so figures are absolute; 50 ms is the usual "long task" line, 100 ms the interaction one.
 *
 * Env: JOBS (default 1000), LOG_MB (default 100).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { chromium, type Page } from 'playwright-core';
import { benchMain, progress, REPO_ROOT, round, startServer, tempDir, tempRepo, waitFor } from './lib.ts';

const JOBS = Number(process.env.JOBS ?? 1000);
const LOG_MB = Number(process.env.LOG_MB ?? 100);

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
    const w = window as unknown as { __long: number[]; __events: { name: string; duration: number }[] };
    w.__long = [];
    w.__events = [];
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) w.__long.push(e.duration);
    }).observe({ type: 'longtask', buffered: true });
    // Interactions as INP counts them: events with an interactionId (clicks, taps, key presses).
    new PerformanceObserver((list) => {
      for (const e of list.getEntries() as (PerformanceEntry & { interactionId?: number })[])
        if (e.interactionId) w.__events.push({ name: e.name, duration: e.duration });
    }).observe({ type: 'event', buffered: true, durationThreshold: 16 } as PerformanceObserverInit);
  });
}

async function pageStats(
  page: Page,
): Promise<{ longest_task_ms: number; long_tasks: number; slowest_interaction_ms: number; slowest_interaction: string | null }> {
  return page.evaluate(() => {
    const w = window as unknown as { __long: number[]; __events: { name: string; duration: number }[] };
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

/** Scrolls `selector` continuously for `ms` (one step per frame) and returns the worst and p95 frame gaps. */
async function scrollFrames(
  page: Page,
  selector: string,
  ms: number,
  axis: 'x' | 'y',
): Promise<{ worst_frame_ms: number; p95_frame_ms: number; frames: number }> {
  return page.evaluate(
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
      const sorted = [...gaps].sort((a, b) => a - b);
      return {
        worst_frame_ms: Math.round(sorted.at(-1) ?? 0),
        p95_frame_ms: Math.round(sorted[Math.floor(sorted.length * 0.95)] ?? 0),
        frames: gaps.length,
      };
    },
    { selector, ms, axis },
  );
}

await benchMain('dashboard', 15 * 60_000, async () => {
  const size = firstLoadBytes();
  progress(`first load: ${size.js_gzip_kib} KiB of JavaScript gzipped`);
  const logLines = Math.round((LOG_MB * 1024 * 1024) / 128);
  const server = await startServer({
    dataDir: await tempDir('dashboard-data'),
    env: { ...process.env, GANTRY_LOG_CAP_BYTES: String(LOG_MB * 2 * 1024 * 1024) },
  });
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-dev-shm-usage',
    ],
  });
  try {
    const runOf = async (name: string, yaml: string) => {
      const dir = await tempRepo(name, yaml);
      await server.api('POST', '/api/projects', { path: dir, name });
      const { run } = await server.api<{ run: { id: string } }>('POST', `/api/projects/${name}/runs`, {});
      await waitFor(
        `${name} to finish`,
        async () => ((await server.api<{ status: string }>('GET', `/api/runs/${run.id}`)).status === 'success' ? true : undefined),
        240_000,
        200,
      );
      return run.id;
    };
    progress(`running a ${JOBS}-job pipeline and a ${LOG_MB} MB log`);
    const graphRun = await runOf('graph', graphPipeline(JOBS));
    const logRun = await runOf('logs', LOG_PIPELINE(logLines));

    const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
    const page = await context.newPage();
    await instrument(page);
    const { url: link } = await server.api<{ url: string }>('POST', '/api/login-links');
    await page.goto(link);
    await page.waitForURL(`${server.url}/`);

    // ---- the graph
    let started = performance.now();
    await page.goto(`${server.url}/runs/${graphRun}`);
    await page.waitForFunction((n) => document.querySelectorAll('[data-job]').length >= n, JOBS, { timeout: 60_000, polling: 'raf' });
    const graphRenderMs = performance.now() - started;
    const graphLoad = await pageStats(page);
    // A person pauses between clicks: each interaction starts on an idle page, so it is measured
    // alone rather than queued behind the previous one's fetches.
    const idle = () => page.evaluate(() => new Promise<void>((resolve) => requestIdleCallback(() => resolve(), { timeout: 2000 })));
    for (let i = 0; i < 5; i++) {
      await idle();
      await page.locator(`[data-job="j${i * 101}"]`).click();
      await page.waitForURL(new RegExp(`/jobs/j${i * 101}$`));
    }
    await idle();
    await page.locator('[data-job="j0"]').focus();
    for (let i = 0; i < 10; i++) {
      await idle();
      await page.keyboard.press(i % 2 ? 'ArrowDown' : 'ArrowRight');
    }
    const graphInteraction = await pageStats(page);
    const graphScroller = await page.evaluate(() => {
      let el: HTMLElement | null = document.querySelector('[data-job]');
      while (el && !(el.scrollWidth > el.clientWidth + 10 && getComputedStyle(el).overflowX !== 'visible')) el = el.parentElement;
      if (!el) return null;
      el.setAttribute('data-bench-scroller', '');
      return true;
    });
    const graphPan = graphScroller ? await scrollFrames(page, '[data-bench-scroller]', 2000, 'x') : null;
    progress(`graph: ${round(graphRenderMs)} ms to ${JOBS} nodes`);

    // ---- the log
    started = performance.now();
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
      first_load: size,
      graph: {
        jobs: JOBS,
        navigation_to_all_nodes_ms: Math.round(graphRenderMs),
        load: graphLoad,
        interactions: graphInteraction,
        pan: graphPan,
      },
      log: {
        bytes: Number(logBytes),
        lines: logLines,
        navigation_to_first_lines_ms: Math.round(logFirstLinesMs),
        load: logLoad,
        jump_to_lines_ms: jumps,
        continuous_scroll: logScroll,
        during_scroll: logAfter,
      },
      peer: { name: 'none runs here (Jenkins, GitLab and Grafana need services this machine lacks)' },
    };
  } finally {
    await browser.close();
    await server.stop();
  }
});
