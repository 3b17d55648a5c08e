/**
 * A run's cache spaces (ADR 0055): its project's; a pull request saves in its own and reads its
 * project's as well, as GitHub scopes a pull request's caches to it, so what a fork saved is
 * never restored outside its pull request. No space's keys start with another's: a restore key
 * is a prefix, and `p` in the project's space must not reach a pull request's entries.
 */
import type { RunRecord } from '../../store/ports.ts';

export function cacheScopesOf(run: Pick<RunRecord, 'projectId' | 'event'>): { cacheScope?: string; cacheReadScopes?: string[] } {
  if (!run.projectId) return {};
  const project = `project-${run.projectId}`;
  const pr = run.event.pullRequest;
  return pr ? { cacheScope: `pull-${run.projectId}-${pr.number}`, cacheReadScopes: [project] } : { cacheScope: project };
}
