/**
 * Commit statuses back to the forge a run came from (GitHub, Gitea, GitLab): the check a pull
 * request shows, and what a branch protection rule can require. `pending` when the run is
 * created, `success`, `failure` or `error` when it ends (ADR 0054).
 *
 * Where to: the statuses URL the signed delivery named (GitHub's `repository.statuses_url`,
 * Gitea's repository API URL, GitLab's project id on its host), kept in the run's event. With
 * what: the project's `FORGE_TOKEN` secret; without one nothing is reported. A status is sent
 * again after a failure (three tries, 1 s and 4 s apart); a run's statuses leave in order. A
 * final status sent is recorded (`forge.status.sent`); one a crash kept from the forge is sent
 * when the server starts again (`resendLost`), so a pull request is not left pending.
 */
import type { ForgeTarget, RunStatus } from '../../core/types.ts';
import type { RunRecord, Store } from '../../store/ports.ts';
import type { WebhookProvider } from './webhooks.ts';

/** The project secret holding the forge token statuses are sent with. */
export const FORGE_TOKEN_SECRET = 'FORGE_TOKEN';
/** The event recording that a run's final status reached the forge. */
export const FORGE_STATUS_SENT = 'forge.status.sent';
/** How far back a restarted server looks for final statuses it may not have sent. */
const RESEND_WINDOW_MS = 24 * 3600_000;
const RESEND_RUNS = 200;

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
  /** Records that a run's final status reached the forge (the event log: durable, read by `resendLost`). */
  recordSent?(runId: string, state: CommitState): Promise<void>;
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

  /**
   * After a restart: the final status of each of these ended runs that came from a forge and has
   * none recorded as sent (`sent`: their ids). Resolves once all were tried.
   */
  async resendLost(ended: readonly RunRecord[], sent: ReadonlySet<string>): Promise<void> {
    const lost = ended.filter((run) => run.event.forge && !sent.has(run.id) && commitStateOf(run.status) !== 'pending');
    for (const run of lost) await this.report(run, commitStateOf(run.status));
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
        if (response.ok) {
          if (state !== 'pending') await this.#deps.recordSent?.(run.id, state).catch(() => undefined);
          return;
        }
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

/** On start: the final statuses of the newest ended runs of the last day that none recorded as sent. */
export async function resendLostStatuses(
  store: Pick<Store, 'runs' | 'events'>,
  reporter: ForgeStatusReporter,
  now = Date.now(),
): Promise<void> {
  const since = new Date(now - RESEND_WINDOW_MS).toISOString();
  const ended = (await store.runs.list({ status: ['success', 'failure', 'cancelled'], limit: RESEND_RUNS })).filter(
    (run) => run.event.forge && (run.finishedAt ?? '') >= since,
  );
  if (ended.length === 0) return;
  const sent = await store.events.list({ type: FORGE_STATUS_SENT, since });
  await reporter.resendLost(ended, new Set(sent.map((e) => String((e.data as { runId?: string }).runId))));
}
