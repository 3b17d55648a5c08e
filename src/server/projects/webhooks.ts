/**
 * Push and pull request webhooks from GitHub, GitLab and Gitea (and Forgejo, which speaks Gitea):
 * who sent it, whether it is genuine, and what it means as a TriggerEvent. Framework-free so the HTTP layer
 * can call it with the raw body it must keep for signature checks.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { InputError } from '../../core/errors.ts';
import type { PullRequestAction, PullRequestInfo, TriggerEvent } from '../../core/types.ts';

export type WebhookProvider = 'github' | 'gitlab' | 'gitea';

type Headers = Record<string, string | string[] | undefined>;

/** A header that is present exactly once; a repeated header is treated as absent (it cannot be trusted). */
function header(headers: Headers, name: string): string | undefined {
  const value = headers[name] ?? Object.entries(headers).find(([key]) => key.toLowerCase() === name)?.[1];
  return typeof value === 'string' ? value : undefined;
}

/**
 * Detects the provider from headers (x-github-event, x-gitlab-event, x-gitea-event).
 * Gitea also sends `x-github-event` for compatibility, so it is recognised first.
 */
export function detectProvider(headers: Headers): WebhookProvider | null {
  if (header(headers, 'x-gitea-event') !== undefined) return 'gitea';
  if (header(headers, 'x-gitlab-event') !== undefined) return 'gitlab';
  if (header(headers, 'x-github-event') !== undefined) return 'github';
  return null;
}

/** The provider's event name (`push`, `ping`, `Push Hook`…); '' when the header is missing. */
export function webhookEventName(provider: WebhookProvider, headers: Headers): string {
  return header(headers, `x-${provider}-event`) ?? '';
}

function equalHex(expectedHex: string, actualHex: string): boolean {
  if (!/^[0-9a-f]{64}$/i.test(actualHex)) return false;
  return timingSafeEqual(Buffer.from(expectedHex, 'hex'), Buffer.from(actualHex, 'hex'));
}

/**
 * Verifies the payload BEFORE anything is parsed or triggered. GitHub: `x-hub-signature-256:
 * sha256=<hex HMAC-SHA256(secret, rawBody)>`; Gitea: `x-gitea-signature: <hex HMAC-SHA256>`;
 * GitLab: `x-gitlab-token` equals the secret. Timing-safe comparisons; a missing or malformed
 * header is a failure. An empty secret never verifies: it would let anyone trigger runs.
 */
export function verifyWebhook(provider: WebhookProvider, secret: string, rawBody: Buffer, headers: Headers): boolean {
  if (secret === '') return false;
  if (provider === 'gitlab') {
    const token = header(headers, 'x-gitlab-token');
    if (token === undefined) return false;
    // Hashing both sides gives equal lengths, so the comparison leaks neither content nor length.
    const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();
    return timingSafeEqual(digest(secret), digest(token));
  }
  const expected = createHmac('sha256', secret).update(rawBody).digest('hex');
  if (provider === 'gitea') {
    const signature = header(headers, 'x-gitea-signature');
    return signature !== undefined && equalHex(expected, signature.trim());
  }
  const signature = header(headers, 'x-hub-signature-256');
  if (signature === undefined || !signature.startsWith('sha256=')) return false;
  return equalHex(expected, signature.slice('sha256='.length).trim());
}

/** GitLab announces tag pushes as an event of their own; GitHub and Gitea as pushes to refs/tags/. */
const PUSH_EVENTS: Record<WebhookProvider, readonly string[]> = {
  github: ['push'],
  gitlab: ['Push Hook', 'Tag Push Hook'],
  gitea: ['push'],
};

const commitSchema = z.object({
  added: z.array(z.string()).optional(),
  modified: z.array(z.string()).optional(),
  removed: z.array(z.string()).optional(),
});

/** The fields the three providers share in a push payload; everything else is ignored. */
const pushSchema = z.object({
  ref: z.string(),
  after: z.string().regex(/^(?:[0-9a-f]{40}|[0-9a-f]{64})$/, 'must be a full commit sha'),
  deleted: z.boolean().optional(),
  commits: z.array(commitSchema).nullish(),
  /** GitLab: the payload lists at most 20 commits; this is the real count. */
  total_commits_count: z.number().optional(),
  /** Gitea: same idea. */
  total_commits: z.number().optional(),
});

/**
 * The union of files the listed commits touched, or undefined when the payload cannot tell
 * (no commits listed, a truncated list, a commit without file lists): unknown files make path
 * filters match, which is safer than a missed run.
 */
function filesOf(push: z.infer<typeof pushSchema>): string[] | undefined {
  const commits = push.commits;
  if (!commits || commits.length === 0) return undefined;
  const total = push.total_commits_count ?? push.total_commits;
  if (total !== undefined && total > commits.length) return undefined;
  const files = new Set<string>();
  for (const commit of commits) {
    if (!commit.added || !commit.modified || !commit.removed) return undefined;
    for (const file of [...commit.added, ...commit.modified, ...commit.removed]) files.add(file);
  }
  return [...files].sort();
}

/**
 * A push payload → TriggerEvent (kind 'push', ref, sha = `after`, changedFiles = union of
 * commits[].added/modified/removed, or undefined when the payload lists no commits info); null for
 * a deletion (after = 40 zeros), a ref that is neither a branch nor a tag, or a non-push event
 * (with the event name, e.g. 'ping' → null). For an annotated tag `after` is the tag object:
 * the trigger runs the commit it points to.
 * `body` is the parsed JSON (a string or Buffer of JSON is parsed here). A push payload of the
 * wrong shape throws InputError (code INVALID_INPUT).
 */
export function parsePushPayload(provider: WebhookProvider, eventName: string, body: unknown): TriggerEvent | null {
  if (!PUSH_EVENTS[provider].includes(eventName)) return null;
  const parsed = pushSchema.safeParse(parseJson(body));
  if (!parsed.success) throw invalid(provider, 'push', parsed.error);
  const push = parsed.data;
  if (push.deleted === true || /^0+$/.test(push.after)) return null;
  if (!push.ref.startsWith('refs/heads/') && !push.ref.startsWith('refs/tags/')) return null;
  const changed = filesOf(push);
  return { kind: 'push', ref: push.ref, sha: push.after, ...(changed ? { changedFiles: changed } : {}) };
}

// ---------------------------------------------------------------- pull requests

/** GitHub's and Gitea's pull_request payload, the fields read; Gitea says `synchronized` for GitHub's `synchronize`. */
const githubPullRequestSchema = z.object({
  action: z.string(),
  number: z.number().int().positive(),
  pull_request: z.object({
    title: z.string().optional(),
    head: z.object({
      ref: z.string().min(1),
      sha: z.string().regex(/^(?:[0-9a-f]{40}|[0-9a-f]{64})$/, 'must be a full commit sha'),
      // null when the fork was deleted.
      repo: z.object({ full_name: z.string() }).nullish(),
    }),
    base: z.object({ ref: z.string().min(1), repo: z.object({ full_name: z.string() }) }),
  }),
});

/** GitLab's Merge Request Hook, the fields read. */
const gitlabMergeRequestSchema = z.object({
  object_attributes: z.object({
    iid: z.number().int().positive(),
    action: z.string().optional(),
    title: z.string().optional(),
    source_branch: z.string().min(1),
    target_branch: z.string().min(1),
    source_project_id: z.number(),
    target_project_id: z.number(),
    last_commit: z.object({ id: z.string().regex(/^(?:[0-9a-f]{40}|[0-9a-f]{64})$/, 'must be a full commit sha') }),
    /** Present on an update that pushed commits; an update without it changed the title, labels… */
    oldrev: z.string().optional(),
  }),
});

const GITHUB_ACTIONS: Record<string, PullRequestAction> = {
  opened: 'opened',
  synchronize: 'synchronize',
  synchronized: 'synchronize',
  reopened: 'reopened',
  closed: 'closed',
};

const GITLAB_ACTIONS: Record<string, PullRequestAction> = { open: 'opened', reopen: 'reopened', close: 'closed', merge: 'closed' };

/** A pull request event, or why it starts nothing (an action no trigger takes: edited, labeled, approved…). */
export type PullRequestDelivery = { event: TriggerEvent } | { ignored: string };

function parseJson(body: unknown): unknown {
  if (typeof body !== 'string' && !Buffer.isBuffer(body)) return body;
  try {
    return JSON.parse(body.toString());
  } catch {
    throw new InputError('webhook body is not valid JSON');
  }
}

function invalid(provider: WebhookProvider, what: string, error: z.ZodError): InputError {
  return new InputError(`not a ${provider} ${what} payload: ${error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
}

function pullRequestEvent(ref: string, sha: string, info: PullRequestInfo): { event: TriggerEvent } {
  return { event: { kind: 'pull_request', ref, sha, pullRequest: info } };
}

/**
 * A pull request payload → a `pull_request` TriggerEvent of its head commit, with the ref the
 * forge keeps it under (`refs/pull/N/head`; GitLab `refs/merge-requests/N/head`), which a mirror
 * clone fetches with the branches. null for another event. GitLab's actions are mapped to
 * GitHub's (open → opened, an update with new commits → synchronize, merge → closed). A
 * pull request from another repository is marked `fork`: its code is untrusted.
 */
export function parsePullRequestPayload(provider: WebhookProvider, eventName: string, body: unknown): PullRequestDelivery | null {
  if (provider === 'gitlab') {
    if (eventName !== 'Merge Request Hook') return null;
    const parsed = gitlabMergeRequestSchema.safeParse(parseJson(body));
    if (!parsed.success) throw invalid(provider, 'merge request', parsed.error);
    const mr = parsed.data.object_attributes;
    const action = mr.action === 'update' ? (mr.oldrev ? 'synchronize' : undefined) : GITLAB_ACTIONS[mr.action ?? ''];
    if (action === undefined) return { ignored: `merge request !${mr.iid}: '${mr.action ?? 'update'}' without new commits starts nothing` };
    return pullRequestEvent(`refs/merge-requests/${mr.iid}/head`, mr.last_commit.id, {
      number: mr.iid,
      action,
      baseRef: mr.target_branch,
      headRef: mr.source_branch,
      fork: mr.source_project_id !== mr.target_project_id,
      ...(mr.title ? { title: mr.title } : {}),
    });
  }
  if (eventName !== 'pull_request' && !(provider === 'gitea' && eventName === 'pull_request_sync')) return null;
  const parsed = githubPullRequestSchema.safeParse(parseJson(body));
  if (!parsed.success) throw invalid(provider, 'pull request', parsed.error);
  const { action: raw, number, pull_request: pr } = parsed.data;
  const action = GITHUB_ACTIONS[raw];
  if (action === undefined) return { ignored: `pull request #${number}: '${raw}' starts nothing` };
  return pullRequestEvent(`refs/pull/${number}/head`, pr.head.sha, {
    number,
    action,
    baseRef: pr.base.ref,
    headRef: pr.head.ref,
    fork: pr.head.repo?.full_name !== pr.base.repo.full_name,
    ...(pr.title ? { title: pr.title } : {}),
  });
}
