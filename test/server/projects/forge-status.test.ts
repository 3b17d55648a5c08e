/**
 * Commit statuses in each forge's API (src/server/projects/forge-status.ts): where a delivery
 * says they go, and the request that sets one, against the three APIs' documented shapes
 * (GitHub and Gitea `POST /repos/{owner}/{repo}/statuses/{sha}` with state, context, target_url
 * and description; GitLab `POST /projects/:id/statuses/:sha` with its own state names and `name`).
 */
import { describe, expect, it } from 'vitest';
import { commitStateOf, forgeTargetOf, statusRequest } from '../../../src/server/projects/forge-status.ts';

const SHA = '0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c';

describe('forgeTargetOf', () => {
  it("reads GitHub's statuses_url, Gitea's repository API URL and GitLab's project id on its host", () => {
    expect(forgeTargetOf('github', { repository: { statuses_url: 'https://api.github.com/repos/acme/shop/statuses/{sha}' } })).toEqual({
      provider: 'github',
      statusesUrl: 'https://api.github.com/repos/acme/shop/statuses/{sha}',
    });
    expect(
      forgeTargetOf('gitea', Buffer.from(JSON.stringify({ repository: { url: 'https://git.example/api/v1/repos/acme/shop' } }))),
    ).toEqual({
      provider: 'gitea',
      statusesUrl: 'https://git.example/api/v1/repos/acme/shop/statuses/{sha}',
    });
    expect(forgeTargetOf('gitlab', { project: { id: 42, web_url: 'https://gitlab.example/acme/shop' } })).toEqual({
      provider: 'gitlab',
      statusesUrl: 'https://gitlab.example/api/v4/projects/42/statuses/{sha}',
    });
  });

  it('names no target when the payload does not say, or says something that is not an http(s) URL', () => {
    expect(forgeTargetOf('github', { repository: {} })).toBeUndefined();
    expect(forgeTargetOf('github', { repository: { statuses_url: 'file:///etc/{sha}' } })).toBeUndefined();
    expect(forgeTargetOf('github', { repository: { statuses_url: 'https://api.github.com/repos/acme/shop/statuses' } })).toBeUndefined();
    expect(forgeTargetOf('gitlab', { project: { id: '42', web_url: 'https://gitlab.example/acme/shop' } })).toBeUndefined();
    expect(forgeTargetOf('gitea', 'not json')).toBeUndefined();
  });
});

describe('statusRequest', () => {
  const o = { sha: SHA, token: 't0k', targetUrl: 'https://gantry.example/runs/r1', description: 'The pipeline failed', context: 'gantry' };

  it('sets a GitHub status with a bearer token, and a Gitea one with its token scheme', () => {
    const github = statusRequest(
      { provider: 'github', statusesUrl: 'https://api.github.com/repos/acme/shop/statuses/{sha}' },
      { ...o, state: 'failure' },
    );
    expect(github.url).toBe(`https://api.github.com/repos/acme/shop/statuses/${SHA}`);
    expect(github.init.method).toBe('POST');
    expect(github.init.headers).toMatchObject({ authorization: 'Bearer t0k', 'content-type': 'application/json' });
    expect(JSON.parse(github.init.body as string)).toEqual({
      state: 'failure',
      context: 'gantry',
      target_url: 'https://gantry.example/runs/r1',
      description: 'The pipeline failed',
    });
    const gitea = statusRequest(
      { provider: 'gitea', statusesUrl: 'https://git.example/api/v1/repos/acme/shop/statuses/{sha}' },
      { ...o, state: 'error' },
    );
    expect(gitea.init.headers).toMatchObject({ authorization: 'token t0k' });
    expect(JSON.parse(gitea.init.body as string)).toMatchObject({ state: 'error' });
  });

  it('sets a GitLab status with its PRIVATE-TOKEN header and its state names', () => {
    const target = { provider: 'gitlab' as const, statusesUrl: 'https://gitlab.example/api/v4/projects/42/statuses/{sha}' };
    const failed = statusRequest(target, { ...o, state: 'failure' });
    expect(failed.url).toBe(`https://gitlab.example/api/v4/projects/42/statuses/${SHA}`);
    expect(failed.init.headers).toMatchObject({ 'private-token': 't0k' });
    expect(failed.init.headers).not.toHaveProperty('authorization');
    expect(JSON.parse(failed.init.body as string)).toEqual({
      state: 'failed',
      name: 'gantry',
      target_url: 'https://gantry.example/runs/r1',
      description: 'The pipeline failed',
    });
    expect(JSON.parse(statusRequest(target, { ...o, state: 'error' }).init.body as string).state).toBe('canceled');
  });

  it("maps a run's status to the commit state", () => {
    expect(['queued', 'running', 'success', 'failure', 'cancelled'].map((s) => commitStateOf(s as never))).toEqual([
      'pending',
      'pending',
      'success',
      'failure',
      'error',
    ]);
  });
});
