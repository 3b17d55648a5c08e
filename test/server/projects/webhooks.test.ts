import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../../src/core/errors.ts';
import {
  detectProvider,
  parsePullRequestPayload,
  parsePushPayload,
  verifyWebhook,
  webhookEventName,
} from '../../../src/server/projects/webhooks.ts';

const SECRET = 's3cr3t-webhook-key';
const BEFORE = '6113728f27ae82c7b1a177c8d03f9e96e0adf246';
const AFTER = '0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c';
const ZEROS = '0000000000000000000000000000000000000000';

/** A GitHub push payload as GitHub sends it (trimmed of URLs that do not matter here). */
function githubPush(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    ref: 'refs/heads/main',
    before: BEFORE,
    after: AFTER,
    repository: { id: 186853002, name: 'gantry', full_name: 'acme/gantry', private: false, default_branch: 'main' },
    pusher: { name: 'octocat', email: 'octocat@github.com' },
    sender: { login: 'octocat', id: 1, type: 'User' },
    created: false,
    deleted: false,
    forced: false,
    base_ref: null,
    compare: `https://github.com/acme/gantry/compare/${BEFORE.slice(0, 12)}...${AFTER.slice(0, 12)}`,
    commits: [
      {
        id: 'a10867b14bb761a232cd80139fbd4c0d33264240',
        tree_id: '8c2b5e1c3b8f2a9f2b4c8a6e1d5f7c9b0a1e2d3f',
        distinct: true,
        message: 'Add the build script',
        timestamp: '2024-05-01T10:00:00+02:00',
        author: { name: 'Octo Cat', email: 'octocat@github.com', username: 'octocat' },
        added: ['scripts/build.sh'],
        removed: [],
        modified: ['README.md'],
      },
      {
        id: AFTER,
        tree_id: '1f2e3d4c5b6a79881f2e3d4c5b6a79881f2e3d4c',
        distinct: true,
        message: 'Drop the old config',
        timestamp: '2024-05-01T10:05:00+02:00',
        author: { name: 'Octo Cat', email: 'octocat@github.com', username: 'octocat' },
        added: [],
        removed: ['old.yaml'],
        modified: ['README.md', 'src/app.ts'],
      },
    ],
    head_commit: { id: AFTER, message: 'Drop the old config' },
    ...overrides,
  };
}

function sign(secret: string, body: Buffer): string {
  return createHmac('sha256', secret).update(body).digest('hex');
}

describe('detectProvider and webhookEventName', () => {
  it('recognises each provider by its event header', () => {
    expect(detectProvider({ 'x-github-event': 'push' })).toBe('github');
    expect(detectProvider({ 'x-gitlab-event': 'Push Hook' })).toBe('gitlab');
    expect(detectProvider({ 'content-type': 'application/json' })).toBeNull();
  });

  it('recognises Gitea even though it also sends x-github-event', () => {
    const headers = { 'x-github-event': 'push', 'x-gitea-event': 'push', 'x-gogs-event': 'push' };
    expect(detectProvider(headers)).toBe('gitea');
    expect(webhookEventName('gitea', headers)).toBe('push');
  });

  it('reads the event name, case-insensitively, empty when missing', () => {
    expect(webhookEventName('gitlab', { 'X-Gitlab-Event': 'Push Hook' })).toBe('Push Hook');
    expect(webhookEventName('github', {})).toBe('');
  });
});

describe('verifyWebhook', () => {
  const body = Buffer.from(JSON.stringify(githubPush()));

  it('accepts a GitHub payload signed with the secret', () => {
    expect(verifyWebhook('github', SECRET, body, { 'x-hub-signature-256': `sha256=${sign(SECRET, body)}` })).toBe(true);
  });

  it('refuses a GitHub payload signed with another secret', () => {
    expect(verifyWebhook('github', SECRET, body, { 'x-hub-signature-256': `sha256=${sign('other', body)}` })).toBe(false);
  });

  it('refuses a tampered body', () => {
    const signature = `sha256=${sign(SECRET, body)}`;
    const tampered = Buffer.from(body.toString().replace('refs/heads/main', 'refs/heads/prod'));
    expect(verifyWebhook('github', SECRET, tampered, { 'x-hub-signature-256': signature })).toBe(false);
  });

  it('refuses a missing signature header', () => {
    expect(verifyWebhook('github', SECRET, body, {})).toBe(false);
    expect(verifyWebhook('github', SECRET, body, { 'x-github-event': 'push' })).toBe(false);
  });

  it('refuses malformed signature headers', () => {
    const hex = sign(SECRET, body);
    for (const bad of [hex, `sha1=${hex}`, `sha256=${hex.slice(0, 40)}`, `sha256=${'z'.repeat(64)}`, 'sha256=', `sha256=${hex}00`]) {
      expect(verifyWebhook('github', SECRET, body, { 'x-hub-signature-256': bad }), bad).toBe(false);
    }
    // A repeated header cannot be trusted even if one copy is right.
    expect(verifyWebhook('github', SECRET, body, { 'x-hub-signature-256': [`sha256=${hex}`, `sha256=${hex}`] })).toBe(false);
  });

  it('never accepts anything with an empty secret', () => {
    expect(verifyWebhook('github', '', body, { 'x-hub-signature-256': `sha256=${sign('', body)}` })).toBe(false);
    expect(verifyWebhook('gitlab', '', body, { 'x-gitlab-token': '' })).toBe(false);
  });

  it('checks the GitLab token', () => {
    expect(verifyWebhook('gitlab', SECRET, body, { 'x-gitlab-token': SECRET })).toBe(true);
    expect(verifyWebhook('gitlab', SECRET, body, { 'x-gitlab-token': `${SECRET}x` })).toBe(false);
    expect(verifyWebhook('gitlab', SECRET, body, { 'x-gitlab-token': 'short' })).toBe(false);
    expect(verifyWebhook('gitlab', SECRET, body, {})).toBe(false);
  });

  it('checks the Gitea signature (bare hex)', () => {
    expect(verifyWebhook('gitea', SECRET, body, { 'x-gitea-signature': sign(SECRET, body) })).toBe(true);
    expect(verifyWebhook('gitea', SECRET, body, { 'x-gitea-signature': sign('other', body) })).toBe(false);
    expect(verifyWebhook('gitea', SECRET, body, { 'x-gitea-signature': `sha256=${sign(SECRET, body)}` })).toBe(false);
    expect(verifyWebhook('gitea', SECRET, body, {})).toBe(false);
  });
});

describe('parsePushPayload', () => {
  it('turns a GitHub push into a push trigger with the union of changed files', () => {
    expect(parsePushPayload('github', 'push', githubPush())).toEqual({
      kind: 'push',
      ref: 'refs/heads/main',
      sha: AFTER,
      changedFiles: ['README.md', 'old.yaml', 'scripts/build.sh', 'src/app.ts'],
    });
  });

  it('accepts the raw JSON body too', () => {
    expect(parsePushPayload('github', 'push', Buffer.from(JSON.stringify(githubPush())))?.sha).toBe(AFTER);
  });

  it('ignores a branch deletion', () => {
    expect(parsePushPayload('github', 'push', githubPush({ after: ZEROS, deleted: true, commits: [], head_commit: null }))).toBeNull();
    expect(
      parsePushPayload('gitlab', 'Push Hook', { ref: 'refs/heads/old', before: BEFORE, after: ZEROS, commits: [], total_commits_count: 0 }),
    ).toBeNull();
  });

  it('ignores ping and other events', () => {
    expect(parsePushPayload('github', 'ping', { zen: 'Design for failure.', hook_id: 1 })).toBeNull();
    expect(parsePushPayload('github', 'pull_request', githubPush())).toBeNull();
    expect(parsePushPayload('gitlab', 'Merge Request Hook', githubPush())).toBeNull();
  });

  it('reads tag pushes: GitHub and Gitea as pushes to refs/tags/, GitLab as its Tag Push Hook', () => {
    // GitHub's payload for a new annotated tag: `after` is the tag object, no commits listed.
    const tag = githubPush({ ref: 'refs/tags/v1.0.0', before: ZEROS, created: true, commits: [], base_ref: 'refs/heads/main' });
    expect(parsePushPayload('github', 'push', tag)).toEqual({ kind: 'push', ref: 'refs/tags/v1.0.0', sha: AFTER });
    expect(parsePushPayload('gitea', 'push', tag)).toEqual({ kind: 'push', ref: 'refs/tags/v1.0.0', sha: AFTER });
    const gitlab = {
      object_kind: 'tag_push',
      event_name: 'tag_push',
      before: ZEROS,
      after: AFTER,
      ref: 'refs/tags/v1.0.0',
      checkout_sha: BEFORE,
      commits: [],
      total_commits_count: 0,
    };
    expect(parsePushPayload('gitlab', 'Tag Push Hook', gitlab)).toEqual({ kind: 'push', ref: 'refs/tags/v1.0.0', sha: AFTER });
    expect(parsePushPayload('gitlab', 'Tag Push Hook', { ...gitlab, after: ZEROS })).toBeNull();
    // Neither a branch nor a tag.
    expect(parsePushPayload('github', 'push', githubPush({ ref: 'refs/notes/commits' }))).toBeNull();
  });

  it('leaves changedFiles unknown when the payload lists no commits', () => {
    const event = parsePushPayload('github', 'push', githubPush({ before: ZEROS, created: true, commits: [] }));
    expect(event).toEqual({ kind: 'push', ref: 'refs/heads/main', sha: AFTER });
    expect(event).not.toHaveProperty('changedFiles');
  });

  it('reads a GitLab push, and leaves files unknown when GitLab truncated the commit list', () => {
    const gitlab = {
      object_kind: 'push',
      event_name: 'push',
      ref: 'refs/heads/develop',
      before: BEFORE,
      after: AFTER,
      checkout_sha: AFTER,
      user_username: 'jsmith',
      project: { id: 15, path_with_namespace: 'acme/gantry' },
      commits: [{ id: AFTER, message: 'fix', added: ['a.txt'], modified: [], removed: ['b.txt'] }],
      total_commits_count: 1,
    };
    expect(parsePushPayload('gitlab', 'Push Hook', gitlab)).toEqual({
      kind: 'push',
      ref: 'refs/heads/develop',
      sha: AFTER,
      changedFiles: ['a.txt', 'b.txt'],
    });
    expect(parsePushPayload('gitlab', 'Push Hook', { ...gitlab, total_commits_count: 25 })?.changedFiles).toBeUndefined();
  });

  it('reads a Gitea push', () => {
    const gitea = {
      ref: 'refs/heads/main',
      before: BEFORE,
      after: AFTER,
      commits: [{ id: AFTER, message: 'x', added: [], removed: [], modified: ['go.mod'] }],
      total_commits: 1,
      repository: { full_name: 'acme/gantry' },
    };
    expect(parsePushPayload('gitea', 'push', gitea)).toEqual({
      kind: 'push',
      ref: 'refs/heads/main',
      sha: AFTER,
      changedFiles: ['go.mod'],
    });
  });

  it('refuses a push payload of the wrong shape with INVALID_INPUT', () => {
    expect(() => parsePushPayload('github', 'push', { ref: 'refs/heads/main', after: 'not-a-sha' })).toThrow(InputError);
    expect(() => parsePushPayload('github', 'push', 'not json')).toThrow(/not valid JSON/);
    try {
      parsePushPayload('github', 'push', null);
      expect.unreachable();
    } catch (e) {
      expect((e as InputError).code).toBe('INVALID_INPUT');
    }
  });
});

/** GitHub's pull_request payload (its documented example, trimmed to the fields that matter and a few that do not). */
function githubPullRequest(action: string, headRepo: string | null = 'acme/gantry'): Record<string, unknown> {
  return {
    action,
    number: 42,
    pull_request: {
      url: 'https://api.github.com/repos/acme/gantry/pulls/42',
      number: 42,
      state: 'open',
      title: 'Faster builds',
      user: { login: 'octocat', id: 1 },
      head: {
        label: 'octocat:feature/fast',
        ref: 'feature/fast',
        sha: AFTER,
        repo: headRepo === null ? null : { id: 2, full_name: headRepo },
      },
      base: { label: 'acme:main', ref: 'main', sha: BEFORE, repo: { id: 186853002, full_name: 'acme/gantry' } },
      merged: false,
    },
    repository: { id: 186853002, full_name: 'acme/gantry' },
    sender: { login: 'octocat', id: 1, type: 'User' },
  };
}

/** GitLab's Merge Request Hook (its documented example, trimmed). */
function gitlabMergeRequest(attributes: Record<string, unknown>): Record<string, unknown> {
  return {
    object_kind: 'merge_request',
    event_type: 'merge_request',
    user: { id: 1, username: 'root' },
    project: { id: 1, path_with_namespace: 'acme/gantry' },
    object_attributes: {
      id: 99,
      iid: 3,
      title: 'Faster builds',
      source_branch: 'feature/fast',
      target_branch: 'main',
      source_project_id: 1,
      target_project_id: 1,
      state: 'opened',
      last_commit: { id: AFTER, message: 'Faster builds', timestamp: '2024-05-01T10:00:00+02:00' },
      action: 'open',
      ...attributes,
    },
  };
}

describe('parsePullRequestPayload', () => {
  it('turns a GitHub pull request into a pull_request trigger of its head commit, under refs/pull/N/head', () => {
    expect(parsePullRequestPayload('github', 'pull_request', githubPullRequest('opened'))).toEqual({
      event: {
        kind: 'pull_request',
        ref: 'refs/pull/42/head',
        sha: AFTER,
        pullRequest: { number: 42, action: 'opened', baseRef: 'main', headRef: 'feature/fast', fork: false, title: 'Faster builds' },
      },
    });
  });

  it('marks a pull request from another repository as a fork, a deleted one too', () => {
    const fromFork = parsePullRequestPayload('github', 'pull_request', githubPullRequest('synchronize', 'octocat/gantry'));
    expect(fromFork).toMatchObject({ event: { pullRequest: { action: 'synchronize', fork: true } } });
    expect(parsePullRequestPayload('github', 'pull_request', githubPullRequest('reopened', null))).toMatchObject({
      event: { pullRequest: { action: 'reopened', fork: true } },
    });
  });

  it('says why other actions start nothing, and leaves other events alone', () => {
    expect(parsePullRequestPayload('github', 'pull_request', githubPullRequest('labeled'))).toEqual({
      ignored: "pull request #42: 'labeled' starts nothing",
    });
    expect(parsePullRequestPayload('github', 'push', githubPush())).toBeNull();
    expect(parsePullRequestPayload('gitlab', 'Push Hook', githubPush())).toBeNull();
  });

  it("reads Gitea's pull requests, whose new commits are 'synchronized'", () => {
    const body = Buffer.from(JSON.stringify(githubPullRequest('synchronized')));
    expect(parsePullRequestPayload('gitea', 'pull_request', body)).toMatchObject({
      event: { ref: 'refs/pull/42/head', sha: AFTER, pullRequest: { action: 'synchronize', fork: false } },
    });
    expect(parsePullRequestPayload('gitea', 'pull_request_sync', body)).toMatchObject({
      event: { pullRequest: { action: 'synchronize' } },
    });
  });

  it("maps GitLab's merge request actions to GitHub's, under refs/merge-requests/N/head", () => {
    const parse = (attributes: Record<string, unknown>) =>
      parsePullRequestPayload('gitlab', 'Merge Request Hook', gitlabMergeRequest(attributes));
    expect(parse({})).toEqual({
      event: {
        kind: 'pull_request',
        ref: 'refs/merge-requests/3/head',
        sha: AFTER,
        pullRequest: { number: 3, action: 'opened', baseRef: 'main', headRef: 'feature/fast', fork: false, title: 'Faster builds' },
      },
    });
    expect(parse({ action: 'update', oldrev: BEFORE })).toMatchObject({ event: { pullRequest: { action: 'synchronize' } } });
    expect(parse({ action: 'update' })).toEqual({ ignored: "merge request !3: 'update' without new commits starts nothing" });
    expect(parse({ action: 'merge' })).toMatchObject({ event: { pullRequest: { action: 'closed' } } });
    expect(parse({ action: 'reopen' })).toMatchObject({ event: { pullRequest: { action: 'reopened' } } });
    expect(parse({ action: 'approved' })).toEqual({ ignored: "merge request !3: 'approved' without new commits starts nothing" });
    expect(parse({ source_project_id: 7 })).toMatchObject({ event: { pullRequest: { fork: true } } });
  });

  it('refuses a pull request payload of the wrong shape with INVALID_INPUT', () => {
    const broken = githubPullRequest('opened');
    (broken.pull_request as { head: { sha: string } }).head.sha = 'abc';
    expect(() => parsePullRequestPayload('github', 'pull_request', broken)).toThrow(InputError);
    expect(() => parsePullRequestPayload('github', 'pull_request', broken)).toThrow(
      'not a github pull request payload: pull_request.head.sha: must be a full commit sha',
    );
    expect(() => parsePullRequestPayload('gitlab', 'Merge Request Hook', { object_kind: 'merge_request' })).toThrow(InputError);
  });
});
