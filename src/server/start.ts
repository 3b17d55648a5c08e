/**
 * The composition root of `gantry up`: opens the store, wires services with plain constructor
 * arguments, resumes what a previous process left, then listens. `close()` shuts down in reverse.
 */
import { chmod, mkdir, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { systemClock } from '../core/clock.ts';
import { GANTRY_VERSION } from '../core/version.ts';
import { SlotPool } from '../engine/slot-pool.ts';
import type { RunJob } from '../executor/ports.ts';
import { runJob as defaultRunJob } from '../executor/job-runner.ts';
import { Supervisor } from '../runtime/index.ts';
import { openStore } from '../store/index.ts';
import type { EventEnvironment, Store } from '../store/ports.ts';
import { SERVER_INFO_FILE } from '../core/data-files.ts';
import { createApp } from './app.ts';
import { ensureAdminToken, SecretBox, SessionService } from './auth/index.ts';
import { AutoRelease, DeliveryController, PrometheusSource, ReleaseService, RollupRecorder } from './delivery/index.ts';
import { LiveHub } from './events/index.ts';
import { ProjectService } from './projects/index.ts';
import { RunService } from './runs/index.ts';
import type { ServerOptions } from './server-options.ts';

export interface RunningServer {
  url: string;
  app: FastifyInstance;
  store: Store;
  runs: RunService;
  /** Dashboard sign-in: `createLoginLink(url)` for a one-time link. */
  sessions: SessionService;
  /** Set when this start created the admin token (first start). */
  createdAdminToken: boolean;
  resumedRuns: number;
  close(): Promise<void>;
}

export interface StartOverrides {
  runJob?: RunJob;
  log?: (level: 'info' | 'warn', message: string, data?: Record<string, unknown>) => void;
}

export async function startServer(options: ServerOptions, overrides: StartOverrides = {}): Promise<RunningServer> {
  const log =
    overrides.log ??
    ((level, message, data) =>
      process.stderr.write(`${level === 'warn' ? 'WARN ' : ''}${message}${data ? ` ${JSON.stringify(data)}` : ''}\n`));
  await mkdir(options.dataDir, { recursive: true, mode: 0o700 });
  await chmod(options.dataDir, 0o700);
  const store = await openStore({ url: options.store });
  const secretBox = await SecretBox.open(options.dataDir);
  const createdAdminToken = await ensureAdminToken(store, options.dataDir);
  const hub = new LiveHub();
  const eventEnv = (): EventEnvironment => ({ gantryVersion: GANTRY_VERSION, nodeVersion: process.version, host: hostname() });
  let closing = false;

  const runs = new RunService({
    store,
    dataDir: options.dataDir,
    logCapBytes: options.logCapBytes,
    sandbox: options.sandbox,
    interruptedRetries: options.interruptedRetries,
    slots: new SlotPool(options.parallel),
    runJob: overrides.runJob ?? defaultRunJob,
    secrets: async (projectId) => {
      const sealed = await store.secrets.all(projectId);
      return Object.fromEntries(Object.entries(sealed).map(([name, value]) => [name, secretBox.decrypt(value)]));
    },
    eventEnv,
    notify: (runId) => hub.notify(runId),
    clock: systemClock,
    onRunFinished: (run, status) => {
      if (status === 'success')
        void autoRelease
          .onSuccessfulRun(run)
          .catch((error: unknown) => log('warn', 'automatic release failed', { runId: run.id, error: String(error) }));
    },
  });
  const supervisor = new Supervisor({
    dataDir: options.dataDir,
    secretCodec: secretBox,
    onChange: (status) => delivery.onInstanceChange(status),
  });
  const releases = new ReleaseService({
    store,
    dataDir: options.dataDir,
    eventEnv,
    checkout: (project, sha, dest) => runs.checkout(project, sha, dest),
  });
  const delivery: DeliveryController = new DeliveryController({
    store,
    supervisor,
    secretBox,
    dataDir: options.dataDir,
    host: options.host,
    sandbox: options.sandbox,
    prometheus: options.prometheusUrl ? new PrometheusSource({ baseUrl: options.prometheusUrl }) : null,
    eventEnv,
    notify: (rolloutId) => hub.notify(rolloutId),
    warn: (message, data) => log('warn', message, data),
    now: () => Date.now(),
  });
  const autoRelease = new AutoRelease({ store, releases, delivery, warn: (message, data) => log('warn', message, data) });
  const projects = new ProjectService({
    store,
    runs,
    secretBox,
    dataDir: options.dataDir,
    pollIntervalMs: options.pollIntervalMs,
    clock: systemClock,
    eventEnv,
    warn: (message, data) => log('warn', message, data),
  });
  const sessions = new SessionService(store);
  let url = '';
  const app = createApp({
    store,
    runs,
    projects,
    secretBox,
    hub,
    dataDir: options.dataDir,
    isClosing: () => closing,
    delivery: { releases, delivery },
    sessions,
    publicUrl: () => url,
  });

  const address = await app.listen({ host: options.host, port: options.port });
  url = address.replace('[::1]', 'localhost');
  await writeFile(join(options.dataDir, SERVER_INFO_FILE), `${JSON.stringify({ url, pid: process.pid, version: GANTRY_VERSION })}\n`, {
    mode: 0o600,
  });
  await store.events.append({
    type: 'server.started',
    subject: 'server',
    actor: 'server',
    data: { url, store: store.dialect },
    env: eventEnv(),
  });
  await projects.start(url);
  await delivery.start();
  const rollups = new RollupRecorder(store, delivery, (message, data) => log('warn', message, data));
  const resumedRuns = await runs.recover();
  if (resumedRuns > 0) log('info', `resuming ${resumedRuns} run${resumedRuns === 1 ? '' : 's'} left by the previous server`);

  return {
    url,
    app,
    store,
    runs,
    sessions,
    createdAdminToken,
    resumedRuns,
    close: async () => {
      if (closing) return;
      closing = true;
      await projects.stop();
      await rollups.stop();
      await delivery.stop();
      await runs.shutdown(options.drainMs);
      await app.close();
      await store.events
        .append({ type: 'server.stopped', subject: 'server', actor: 'server', data: {}, env: eventEnv() })
        .catch(() => undefined);
      await store.close();
      await rm(join(options.dataDir, SERVER_INFO_FILE), { force: true });
    },
  };
}
