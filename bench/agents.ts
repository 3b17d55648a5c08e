/**
 * Dispatch to build agents (issue 14 §1): one run of JOBS independent trivial jobs (`true`)
 * dispatched to AGENTS `gantry agent` processes of CAPACITY jobs each, against the same run on the
 * embedded executor with as many slots (AGENTS × CAPACITY), on one `gantry up`, interleaved.
 * Figures: jobs per second from trigger to the run's end (dispatch rate) and the server
 * process's CPU per job (utime + stime from /proc, the agents' own CPU not counted: it is
 * another host's in production), and agents ÷ embedded for both.
 *
 * Knobs: JOBS [10000], AGENTS [4], CAPACITY [2], REPS [1], DEADLINE_MS [900000: each run's bound; the
 * whole benchmark's is every run's (2 × REPS) plus two minutes for starting and stopping],
 * EMBEDDED [1; 0 skips the embedded runs, to look at the agents' side alone: no ratio then].
 * The server's and the agents' output go to a folder printed at the start and kept on failure.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchMain, GANTRY_CLI, NODE, progress, round, startServer, type ServerHandle, tempDir, tempRepo, track, waitFor } from './lib.ts';

const JOBS = Number(process.env.JOBS ?? 10_000);
const AGENTS = Number(process.env.AGENTS ?? 4);
const CAPACITY = Number(process.env.CAPACITY ?? 2);
const REPS = Number(process.env.REPS ?? 1);
const DEADLINE_MS = Number(process.env.DEADLINE_MS ?? 900_000);
const EMBEDDED = process.env.EMBEDDED !== '0';
const CLOCK_TICKS = 100;

function pipeline(runsOn: string | null): string {
  const lines = ['pipeline:', '  jobs:'];
  for (let i = 0; i < JOBS; i++) {
    lines.push(`    j${i}:`);
    if (runsOn) lines.push(`      runs-on: [${runsOn}]`);
    lines.push('      steps: ["true"]');
  }
  return `${lines.join('\n')}\n`;
}

/** CPU time of a process (user + system), ms. */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
}

interface Measure {
  wallMs: number;
  serverCpuMs: number;
}

/** An API call that waits as long as a loaded server needs (lib's `api` gives up after 10 s). */
async function call<T>(server: ServerHandle, method: string, path: string, body?: unknown): Promise<T> {
  const r = await fetch(`${server.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${server.token()}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(120_000),
  });
  const text = await r.text();
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${text.slice(0, 500)}`);
  return JSON.parse(text) as T;
}

async function measureRun(server: ServerHandle, project: string): Promise<Measure> {
  const cpuBefore = cpuMs(server.pid);
  const started = performance.now();
  const { run } = await call<{ run: { id: string } }>(server, 'POST', `/api/projects/${project}/runs`, {});
  const view = await waitFor(
    `run of ${project} to end`,
    async () => {
      // The list's run rows carry no jobs: looking costs the server little whatever the run's size.
      const { runs } = await call<{ runs: { id: string; status: string }[] }>(server, 'GET', `/api/runs?project=${project}&limit=1`);
      const v = runs.find((r) => r.id === run.id);
      return v && ['success', 'failure', 'cancelled'].includes(v.status) ? v : undefined;
    },
    DEADLINE_MS,
    500,
  );
  const wallMs = performance.now() - started;
  if (view.status !== 'success') throw new Error(`the run of ${project} ended ${view.status}`);
  return { wallMs, serverCpuMs: cpuMs(server.pid) - cpuBefore };
}

function figures(m: Measure[]) {
  const wall = m.reduce((t, x) => t + x.wallMs, 0) / m.length;
  const cpu = m.reduce((t, x) => t + x.serverCpuMs, 0) / m.length;
  return { wall_ms: round(wall, 0), jobs_per_s: round((JOBS * 1000) / wall, 1), server_cpu_ms_per_job: round(cpu / JOBS, 3) };
}

// Each repetition runs twice (embedded, then agents): the whole bound must hold all of them, or a
// slow first run would leave the second none of its time.
// Not a tempDir of lib's (removed at the end, however it ends): a failed run's logs are what tell why.
const logsDir = await mkdtemp(join(tmpdir(), 'gantry-bench-agents-logs-'));
let succeeded = false;
await benchMain('agents', 2 * REPS * DEADLINE_MS + 120_000, async () => {
  const dataDir = await tempDir('agents-server');
  progress(`logs in ${logsDir}`);
  const server = await startServer({
    dataDir,
    env: { ...process.env, GANTRY_SANDBOX: 'off', GANTRY_PARALLEL: String(AGENTS * CAPACITY), GANTRY_LOG_LEVEL: 'warn' },
    logFile: join(logsDir, 'server.log'),
    readyTimeoutMs: 120_000,
  });
  progress(`server ${server.url} (pid ${server.pid}); ${JOBS} jobs, ${AGENTS} agents × ${CAPACITY}`);
  const embeddedRepo = await tempRepo('agents-embedded', pipeline(null));
  const agentsRepo = await tempRepo('agents-remote', pipeline('bench'));
  // A project of 10,000 jobs takes the loaded server more than lib's 10 s to read.
  await call(server, 'POST', '/api/projects', { path: embeddedRepo, name: 'embedded' });
  await call(server, 'POST', '/api/projects', { path: agentsRepo, name: 'agents' });
  const children: ChildProcess[] = [];
  for (let i = 0; i < AGENTS; i++) {
    const { token } = await call<{ token: string }>(server, 'POST', '/api/agents', { name: `bench-${i}`, labels: ['bench'] });
    const workDir = await tempDir(`agent-${i}`);
    const child = spawn(
      NODE,
      [GANTRY_CLI, 'agent', '--server', server.url, '--capacity', String(CAPACITY), '--work-dir', join(workDir, 'w')],
      { env: { ...process.env, GANTRY_AGENT_TOKEN: token }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const log = createWriteStream(join(logsDir, `agent-${i}.log`));
    child.stdout?.pipe(log);
    child.stderr?.pipe(log);
    track(child, false);
    children.push(child);
  }
  const embedded: Measure[] = [];
  const agents: Measure[] = [];
  for (let rep = 0; rep < REPS; rep++) {
    if (EMBEDDED) {
      embedded.push(await measureRun(server, 'embedded'));
      progress(`embedded rep ${rep + 1}: ${round(embedded.at(-1)?.wallMs ?? 0, 0)} ms`);
    }
    agents.push(await measureRun(server, 'agents'));
    progress(`agents rep ${rep + 1}: ${round(agents.at(-1)?.wallMs ?? 0, 0)} ms`);
  }
  const a = figures(agents);
  const e = EMBEDDED ? figures(embedded) : null;
  succeeded = true;
  return {
    jobs: JOBS,
    agents_count: AGENTS,
    capacity_each: CAPACITY,
    reps: REPS,
    agents: a,
    embedded: e,
    ratio: e && {
      jobs_per_s: round(a.jobs_per_s / e.jobs_per_s, 2),
      server_cpu_per_job: round(a.server_cpu_ms_per_job / e.server_cpu_ms_per_job, 2),
    },
    loadavg_after: readFileSync('/proc/loadavg', 'utf8').trim(),
    cli: GANTRY_CLI,
  };
});
if (succeeded) await rm(logsDir, { recursive: true, force: true });
else progress(`the server's and agents' logs are kept in ${logsDir}`);
