/**
 * The HTTP API in process, without a port: the server as `gantry up` wires it (`buildServer`)
 * over a real SQLite store in a temp data directory, never listening. Requests go through
 * `app.inject()`. `closing` and `fault` steer the app's two outside inputs: shutdown, and a
 * store port that fails like a bug would.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { SessionService } from '../../src/server/auth/index.ts';
import { buildServer, resolveServerOptions } from '../../src/server/index.ts';
import type { ProjectStore, Store } from '../../src/store/ports.ts';

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
  const state: Pick<TestApp, 'closing' | 'fault' | 'internalErrors'> = { closing: false, fault: null, internalErrors: [] };
  const withFaults = (store: Store): Store => {
    const projects = new Proxy(store.projects, {
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
    return new Proxy(store, { get: (target, key) => (key === 'projects' ? projects : Reflect.get(target, key)) }) as Store;
  };
  const options = resolveServerOptions({ dataDir, sandbox: 'off', parallel: 1 }, {});
  const parts = await buildServer(options, {
    wrapStore: withFaults,
    isClosing: () => state.closing,
    onInternalError: (error) => state.internalErrors.push(error),
    log: () => undefined,
  });
  await parts.app.ready();

  return {
    app: parts.app,
    store: parts.store,
    sessions: parts.sessions,
    dataDir,
    token: readFileSync(join(dataDir, 'admin.token'), 'utf8').trim(),
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
      await parts.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
