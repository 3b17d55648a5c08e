/**
 * The HTTP API in process, without a port: `createApp` over a real SQLite store in a temp data
 * directory, with the real services. Requests go through `app.inject()`. `closing` and `fault`
 * steer the app's two outside inputs: shutdown, and a store port that fails like a bug would.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { SlotPool } from '../../src/engine/slot-pool.ts';
import { runJob } from '../../src/executor/job-runner.ts';
import { systemClock } from '../../src/core/clock.ts';
import { ensureAdminToken, SecretBox, SessionService } from '../../src/server/auth/index.ts';
import { DeliveryController, ProxyProcesses, ReleaseService, SupervisedInstances } from '../../src/server/delivery/index.ts';
import { LiveHub } from '../../src/server/events/index.ts';
import { createApp } from '../../src/server/index.ts';
import { ProjectService } from '../../src/server/projects/index.ts';
import { RunService } from '../../src/server/runs/index.ts';
import { openStore } from '../../src/store/index.ts';
import type { EventEnvironment, ProjectStore, Store } from '../../src/store/ports.ts';

export interface TestApp {
  app: FastifyInstance;
  store: Store;
  sessions: SessionService;
  dataDir: string;
  /** The admin token (a valid bearer token). */
  token: string;
  /** Set to make every request answer as during shutdown. */
  closing: boolean;
  /** Set to make `store.projects.list()` throw it (as a bug of ours would). */
  fault: Error | null;
  /** What reached `onInternalError`. */
  internalErrors: Error[];
  cleanup(): Promise<void>;
}

export async function buildTestApp(): Promise<TestApp> {
  const dataDir = await mkdtemp(join(tmpdir(), 'gantry-app-'));
  const realStore = await openStore({ url: `sqlite:${join(dataDir, 'gantry.db')}` });
  const secretBox = await SecretBox.open(dataDir);
  await ensureAdminToken(realStore, dataDir);
  const token = readFileSync(join(dataDir, 'admin.token'), 'utf8').trim();
  const eventEnv = (): EventEnvironment => ({ gantryVersion: 'test', nodeVersion: process.version, host: 'test' });
  const hub = new LiveHub();

  const state: Pick<TestApp, 'closing' | 'fault' | 'internalErrors'> = { closing: false, fault: null, internalErrors: [] };
  const projectsPort = new Proxy(realStore.projects, {
    get(target, key) {
      if (key === 'list' && state.fault) {
        const fault = state.fault;
        return async () => {
          throw fault;
        };
      }
      const value = Reflect.get(target, key) as unknown;
      return typeof value === 'function' ? value.bind(target) : value;
    },
  }) as ProjectStore;
  const store = new Proxy(realStore, {
    get: (target, key) => (key === 'projects' ? projectsPort : Reflect.get(target, key)),
  }) as Store;

  const runs = new RunService({
    store,
    dataDir,
    logCapBytes: 1024 * 1024,
    sandbox: 'off',
    interruptedRetries: 1,
    slots: new SlotPool(1),
    runJob,
    secrets: async () => ({}),
    eventEnv,
    notify: (runId) => hub.notify(runId),
    clock: systemClock,
  });
  const supervisor = new SupervisedInstances({ dataDir, secretCodec: secretBox });
  const releases = new ReleaseService({ store, dataDir, eventEnv, checkout: (project, sha, dest) => runs.checkout(project, sha, dest) });
  const delivery = new DeliveryController({
    store,
    supervisor,
    proxies: new ProxyProcesses(dataDir),
    secretBox,
    dataDir,
    host: '127.0.0.1',
    sandbox: 'off',
    prometheus: null,
    eventEnv,
    notify: (id) => hub.notify(id),
    warn: () => undefined,
    clock: systemClock,
  });
  const projects = new ProjectService({
    store,
    runs,
    secretBox,
    dataDir,
    pollIntervalMs: 60_000,
    eventEnv,
    warn: () => undefined,
    clock: systemClock,
  });
  const sessions = new SessionService(store);
  const app = createApp({
    store,
    runs,
    projects,
    secretBox,
    hub,
    dataDir,
    sessions,
    delivery: { releases, delivery },
    publicUrl: () => 'http://gantry.test',
    isClosing: () => testApp.closing,
    onInternalError: (error) => testApp.internalErrors.push(error),
  });
  await app.ready();

  const testApp: TestApp = {
    app,
    store,
    sessions,
    dataDir,
    token,
    get closing() {
      return state.closing;
    },
    set closing(value) {
      state.closing = value;
    },
    get fault() {
      return state.fault;
    },
    set fault(value) {
      state.fault = value;
    },
    internalErrors: state.internalErrors,
    cleanup: async () => {
      await app.close();
      await runs.shutdown(0);
      await realStore.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
  return testApp;
}
