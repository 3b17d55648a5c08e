/**
 * Shared pieces of the runtime tests: specs for the fixture service, waiting for conditions,
 * plain HTTP, and a safety net that kills every instance process a test left behind.
 */
import { chmodSync, copyFileSync, linkSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterEach, beforeEach } from 'vitest';
import type { HealthCheckConfig, ServiceConfig } from '../../src/core/delivery-config.ts';
import { parseLogLine } from '../../src/executor/index.ts';
import { Supervisor, type InstanceSpec, type InstanceStatus, type SupervisorOptions } from '../../src/runtime/index.ts';
import { killInstances } from '../support/instances.ts';

export const FIXTURE = join(import.meta.dirname, 'fixtures', 'service.mjs');
export const SUPERVISOR_CHILD = join(import.meta.dirname, 'fixtures', 'supervisor-child.ts');

export function check(o: Partial<HealthCheckConfig> = {}): HealthCheckConfig {
  return { path: '/healthz', intervalMs: 40, timeoutMs: 1000, successThreshold: 1, failureThreshold: 2, initialDelayMs: 0, ...o };
}

export function service(o: Partial<ServiceConfig> = {}): ServiceConfig {
  return {
    run: `exec "${process.execPath}" "${FIXTURE}"`,
    env: {},
    instances: 1,
    health: { readiness: check() },
    stop: { signal: 'SIGTERM', drainTimeoutMs: 2000 },
    ...o,
  };
}

/**
 * The fixture service as a sandboxed instance runs it: from inside its release dir. The sandbox
 * gives the service a fresh /tmp, so a checkout under /tmp (and the Node inside its
 * node_modules) is out of its sight; the release dir is bound in, as the server's artifacts are.
 */
export function boxedService(workDir: string, o: Partial<ServiceConfig> = {}): ServiceConfig {
  mkdirSync(workDir, { recursive: true });
  copyFileSync(FIXTURE, join(workDir, 'service.mjs'));
  let node = process.execPath;
  if (!relative(tmpdir(), node).startsWith('..')) {
    node = join(workDir, 'node');
    try {
      linkSync(process.execPath, node);
    } catch {
      copyFileSync(process.execPath, node);
      chmodSync(node, 0o755);
    }
  }
  return service({ run: `exec "${node}" "${join(workDir, 'service.mjs')}"`, ...o });
}

/** A spec for the fixture service; the release's artifacts dir lives inside the data dir (as in the server). */
export function spec(dataDir: string, id: string, o: Partial<InstanceSpec> = {}): InstanceSpec {
  const workDir = join(dataDir, 'releases', 'r1');
  mkdirSync(workDir, { recursive: true });
  return {
    id,
    environment: 'staging',
    releaseId: 'r1',
    pool: 'stable',
    service: service(),
    env: {},
    secrets: [],
    workDir,
    sandbox: 'off',
    ...o,
  };
}

export function httpGet(port: number, path = '/'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false, headers: { connection: 'close' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.setTimeout(5000, () => req.destroy(new Error('request timed out')));
    req.end();
  });
}

export function readLog(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

export type Change = InstanceStatus & { at: number };

export interface Harness {
  dataDir: string;
  supervisor: Supervisor;
  /** Every onChange report, with the monotonic time it came. */
  changes: Change[];
  /** Replaces the supervisor (for other options); the default one has fast polls and a 100 ms backoff. */
  make(o?: Partial<SupervisorOptions>): Supervisor;
}

/** A fresh data dir and supervisor per test; afterwards every instance is stopped and the dir removed. */
export function supervisorHarness(): Harness {
  const h: Harness = {
    dataDir: '',
    supervisor: undefined as unknown as Supervisor,
    changes: [],
    make(o = {}) {
      h.supervisor = new Supervisor({
        dataDir: h.dataDir,
        pollMs: 30,
        statsIntervalMs: 100,
        backoff: { initialMs: 100 },
        onChange: (s) => h.changes.push({ ...s, at: performance.now() }),
        ...o,
      });
      return h.supervisor;
    },
  };
  beforeEach(() => {
    h.dataDir = mkdtempSync(join(tmpdir(), 'gantry-runtime-'));
    h.changes = [];
    h.make();
  });
  afterEach(async () => {
    for (const s of h.supervisor.list()) await h.supervisor.stop(s.id).catch(() => {});
    await h.supervisor.detach();
    killInstances(h.dataDir);
    rmSync(h.dataDir, { recursive: true, force: true });
  });
  return h;
}

/** Gantry's own lines of an instance log, without their `[gantry] ` prefix. */
export function systemLines(file: string): string[] {
  return readLog(file)
    .split('\n')
    .filter(Boolean)
    .map(parseLogLine)
    .filter((l) => l.stream === 's')
    .map((l) => l.text.replace(/^\[gantry\] /, ''));
}
