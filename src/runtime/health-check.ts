/**
 * One readiness or liveness probe. HTTP: GET http://127.0.0.1:PORT<path>, healthy on 2xx/3xx,
 * on a fresh connection closed afterwards (a pooled keep-alive connection would hold the
 * instance open while it drains). Command: `bash -c` with the instance's env and cwd, healthy
 * on exit 0; it runs outside the sandbox, in its own process group, killed at the timeout.
 * A probe never throws: every error is "unhealthy".
 */
import { spawn } from 'node:child_process';
import { httpRequest } from '../platform/node-http.ts';
import type { HealthCheckConfig } from '../core/delivery-config.ts';

export interface ProbeTarget {
  port: number;
  cwd: string;
  env: Record<string, string>;
}

export function probe(check: HealthCheckConfig, target: ProbeTarget): Promise<boolean> {
  if (check.path !== undefined) return httpProbe(check.path, check.timeoutMs, target.port);
  if (check.command !== undefined) return commandProbe(check.command, check.timeoutMs, target);
  return Promise.resolve(false);
}

function httpProbe(path: string, timeoutMs: number, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (healthy: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      resolve(healthy);
    };
    const req = httpRequest(
      { host: '127.0.0.1', port, path, method: 'GET', agent: false, headers: { connection: 'close', 'user-agent': 'gantry-probe' } },
      (res) => {
        const status = res.statusCode ?? 0;
        res.resume();
        done(status >= 200 && status < 400);
      },
    );
    req.on('error', () => done(false));
    const timer = setTimeout(() => done(false), timeoutMs);
    req.end();
  });
}

function commandProbe(command: string, timeoutMs: number, target: ProbeTarget): Promise<boolean> {
  return new Promise((resolve) => {
    const child = spawn('bash', ['-c', command], {
      cwd: target.cwd,
      env: { ...target.env, PORT: String(target.port) },
      detached: true,
      stdio: 'ignore',
    });
    const timer = setTimeout(() => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }, timeoutMs);
    child.once('error', () => {
      clearTimeout(timer);
      resolve(false);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code === 0);
    });
  });
}
