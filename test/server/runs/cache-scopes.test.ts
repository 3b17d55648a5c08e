import { describe, expect, it } from 'vitest';
import type { TriggerEvent } from '../../../src/core/types.ts';
import { cacheScopesOf } from '../../../src/server/runs/cache-scopes.ts';

const push: TriggerEvent = { kind: 'push', ref: 'refs/heads/main', sha: 'a1' };
const pr = (number: number): TriggerEvent => ({
  kind: 'pull_request',
  ref: `refs/pull/${number}/head`,
  sha: 'a1',
  pullRequest: { number, action: 'opened', baseRef: 'main', headRef: 'x', fork: true },
});

describe('cache scopes', () => {
  it("saves a pull request's entries in its own space and reads its project's after it", () => {
    expect(cacheScopesOf({ projectId: 'P1', event: push })).toEqual({ cacheScope: 'project-P1' });
    expect(cacheScopesOf({ projectId: 'P1', event: pr(7) })).toEqual({ cacheScope: 'pull-P1-7', cacheReadScopes: ['project-P1'] });
    expect(cacheScopesOf({ projectId: null, event: push })).toEqual({});
  });

  it("keeps every space's keys out of every other's prefixes: a restore key is a prefix", () => {
    const spaces = [
      cacheScopesOf({ projectId: 'P1', event: push }).cacheScope,
      cacheScopesOf({ projectId: 'P1', event: pr(7) }).cacheScope,
      cacheScopesOf({ projectId: 'P1', event: pr(70) }).cacheScope,
      cacheScopesOf({ projectId: 'P2', event: push }).cacheScope,
    ].map((scope) => `${scope}/`);
    for (const a of spaces) for (const b of spaces) if (a !== b) expect(b.startsWith(a), `${b} starts with ${a}`).toBe(false);
  });
});
