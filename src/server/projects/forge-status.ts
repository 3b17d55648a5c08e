/**
 * Commit statuses back to the forge a run came from (GitHub, Gitea, GitLab): the check a pull
 * request shows, and what a branch protection rule can require. `pending` when the run is
 * created, `success`, `failure` or `error` when it ends (ADR 0054).
 *
 * Where to: the statuses URL the signed delivery named (GitHub's `repository.statuses_url`,
 * Gitea's repository API URL, GitLab's project id on its host), kept in the run's event. With
 * what: the project's `FORGE_TOKEN` secret; without one nothing is reported. A status is sent
 * again after a failure (three tries, 1 s and 4 s apart); a run's statuses leave in order.
 */
import type { ForgeTarget, RunStatus } from '../../core/types.ts';
import type { RunRecord } from '../../store/ports.ts';
import type { WebhookProvider } from './webhooks.ts';

/** The project secret holding the forge token statuses are sent with. */
export const FORGE_TOKEN_SECRET = 'FORGE_TOKEN';

export type CommitState = 'pending' | 'success' | 'failure' | 'error';

const RETRY_DELAYS_MS = [1000, 4000];

function record(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

function httpUrl(value: unknown): URL | undefined {
  if (typeof value !== 'string') return undefined;
  try {
    const url = new URL(value);
    return url.protocol === 'https:' || url.protocol === 'http:' ? url : undefined;
  } catch {
    return undefined;
  }
}

/** Where a delivery's commit statuses go (`{sha}` stands for the commit), or undefined when the payload does not say. */
export function forgeTargetOf(provider: WebhookProvider, body: unknown): ForgeTarget | undefined {
  const payload = record(typeof body === 'string' || Buffer.isBuffer(body) ? safeJson(body.toString()) : body);
  if (provider === 'gitlab') {
    const project = record(payload?.project);
    const web = httpUrl(project?.web_url);
    if (!web || typeof project?.id !== 'number') return undefined;
    return { provider, statusesUrl: `${web.origin}/api/v4/projects/${project.id}/statuses/{sha}` };
  }
  const repository = record(payload?.repository);
  if (provider === 'github') {
    const template = typeof repository?.statuses_url === 'string' ? repository.statuses_url : '';
    return httpUrl(template.replace('{sha}', 'x')) && template.endsWith('{sha}') ? { provider, statusesUrl: template } : undefined;
  }
  // Gitea's repository `url` is its API URL (…/api/v1/repos/owner/name).
  const api = httpUrl(repository?.url);
  return api ? { provider, statusesUrl: `${api.href.replace(/\/$/, '')}/statuses/{sha}` } : undefined;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** A run's end as the commit state GitHub and Gitea know. */
export function commitStateOf(status: RunStatus): CommitState {
  if (status === 'success') return 'success';
  if (status === 'failure') return 'failure';
  return status === 'queued' || status === 'running' ? 'pending' : 'error';
}

/** GitLab's names for the same states. */
const GITLAB_STATES: Record<CommitState, string> = { pending: 'pending', success: 'success', failure: 'failed', error: 'canceled' };

/** The request that sets one commit status, in the forge's own API. Pure. */
export function statusRequest(
  target: ForgeTarget,
  o: { sha: string; state: CommitState; token: string; targetUrl: string; description: string; context: string },
): { url: string; init: RequestInit } {
  const url = target.statusesUrl.replace('{sha}', o.sha);
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
  if (target.provider === 'gitlab') {
    headers['private-token'] = o.token;
    const body = { state: GITLAB_STATES[o.state], name: o.context, target_url: o.targetUrl, description: o.description };
    return { url, init: { method: 'POST', headers, body: JSON.stringify(body) } };
  }
  headers.authorization = target.provider === 'gitea' ? `token ${o.token}` : `Bearer ${o.token}`;
  const body = { state: o.state, context: o.context, target_url: o.targetUrl, description: o.description };
  return { url, init: { method: 'POST', headers, body: JSON.stringify(body) } };
}

export interface ForgeStatusDeps {
  /** The project's FORGE_TOKEN, or undefined. */
  token(projectId: string): Promise<string | undefined>;
  /** The run's page on the dashboard. */
  runUrl(runId: string): string;
  warn(message: string, data: Record<string, unknown>): void;
  fetch?: typeof fetch;
  /** Between tries; a test shortens it. */
  retryDelaysMs?: readonly number[];
}

const DESCRIPTIONS: Record<CommitState, string> = {
  pending: 'Gantry is running the pipeline',
  success: 'The pipeline passed',
  failure: 'The pipeline failed',
  error: 'The pipeline was cancelled or could not run',
};

export class ForgeStatusReporter {
  readonly #deps: ForgeStatusDeps;
  /** Each run's last status in flight: the next waits for it, so they reach the forge in order. */
  readonly #queues = new Map<string, Promise<void>>();

  constructor(deps: ForgeStatusDeps) {
    this.#deps = deps;
  }

  /** Sends the run's status when its event names a forge; never throws. Resolves once sent or given up. */
  report(run: RunRecord, state: CommitState): Promise<void> {
    const target = run.event.forge;
    if (!target || !run.projectId) return Promise.resolve();
    const projectId = run.projectId;
    const previous = this.#queues.get(run.id) ?? Promise.resolve();
    const next = previous.then(() => this.#send(run, projectId, target, state));
    this.#queues.set(run.id, next);
    void next.finally(() => {
      if (this.#queues.get(run.id) === next) this.#queues.delete(run.id);
    });
    return next;
  }

  async #send(run: RunRecord, projectId: string, target: ForgeTarget, state: CommitState): Promise<void> {
    const token = await this.#deps.token(projectId).catch(() => undefined);
    if (!token) return;
    const request = statusRequest(target, {
      sha: run.event.sha,
      state,
      token,
      targetUrl: this.#deps.runUrl(run.id),
      description: DESCRIPTIONS[state],
      context: 'gantry',
    });
    const delays = this.#deps.retryDelaysMs ?? RETRY_DELAYS_MS;
    let why = '';
    for (let attempt = 0; attempt <= delays.length; attempt++) {
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, delays[attempt - 1]));
      try {
        const response = await (this.#deps.fetch ?? fetch)(request.url, { ...request.init, signal: AbortSignal.timeout(10_000) });
        await response.arrayBuffer().catch(() => undefined);
        if (response.ok) return;
        why = `the forge answered ${response.status}`;
        // A refusal (bad token, no such commit) will not change on a second try; a 429 or a 5xx may.
        if (response.status < 500 && response.status !== 429) break;
      } catch (error) {
        why = error instanceof Error ? error.message : String(error);
      }
    }
    this.#deps.warn('sending the commit status to the forge failed', { runId: run.id, state, url: request.url, why });
  }
}
