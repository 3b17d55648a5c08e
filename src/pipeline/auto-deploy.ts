/**
 * Continuous delivery's choice, pure: does a successful push run become a release, and which
 * environments deploy it by themselves? `auto: true` takes the default branch's releases, `auto:
 * { branches, tags }` those of matching refs (GitHub's filter patterns, as in `on.push`), so
 * staging can follow `main` while production follows `v*` tags.
 */
import type { EnvironmentConfig } from '../core/delivery-config.ts';
import type { GantryConfig } from '../core/types.ts';
import { lastMatchWins } from './filter-patterns.ts';
import { refKind } from './triggers.ts';

export interface AutoDeploys {
  /** A release is made: the default branch, or a ref some environment takes. */
  release: boolean;
  /** The environments that deploy it by themselves, in file order. */
  environments: string[];
}

export function autoDeploys(
  environments: Record<string, Pick<EnvironmentConfig, 'auto'>> | undefined,
  ref: string,
  defaultRef: string,
): AutoDeploys {
  const taking = Object.entries(environments ?? {})
    .filter(([, environment]) => takes(environment.auto, ref, defaultRef))
    .map(([name]) => name);
  return { release: ref === defaultRef || taking.length > 0, environments: taking };
}

function takes(auto: EnvironmentConfig['auto'], ref: string, defaultRef: string): boolean {
  if (auto === false) return false;
  if (auto === true) return ref === defaultRef;
  const { type, name } = refKind(ref);
  const patterns = type === 'branch' ? auto.branches : type === 'tag' ? auto.tags : undefined;
  return patterns !== undefined && lastMatchWins(name, patterns);
}

/**
 * `auto` filters no push can ever satisfy because the pipeline's push trigger leaves those refs
 * out (GitHub's rule: only branches filtered → tag pushes start nothing, and the other way round):
 * a production that follows `v*` tags would silently never deploy. Each with the path of the list.
 */
export function unreachableAutoDeploys(
  config: Pick<GantryConfig, 'pipeline' | 'environments'>,
): { path: (string | number)[]; message: string }[] {
  const on = config.pipeline.on;
  const declared = on.push !== undefined || on.schedule.length > 0 || on.manual !== undefined || on.webhook !== undefined;
  const push = on.push;
  const branchFilter = push?.branches !== undefined || push?.branchesIgnore !== undefined;
  const tagFilter = push?.tags !== undefined || push?.tagsIgnore !== undefined;
  const starts = {
    branches: !declared || (push !== undefined && (branchFilter || !tagFilter)),
    tags: !declared || (push !== undefined && (tagFilter || !branchFilter)),
  };
  const problems: { path: (string | number)[]; message: string }[] = [];
  for (const [name, environment] of Object.entries(config.environments ?? {})) {
    const auto = environment.auto;
    if (typeof auto === 'boolean') continue;
    for (const key of ['branches', 'tags'] as const) {
      if (auto[key] === undefined || starts[key]) continue;
      const why = push === undefined ? 'on declares no push trigger' : `on.push filters only ${key === 'tags' ? 'branches' : 'tags'}`;
      problems.push({
        path: ['environments', name, 'auto', key],
        message: `environment '${name}' deploys releases of ${key}, but no push of ${key} starts the pipeline (${why}): add ${key} to on.push`,
      });
    }
  }
  return problems;
}
