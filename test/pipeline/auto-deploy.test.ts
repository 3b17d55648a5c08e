/** Which environments deploy a release by themselves (`auto`), and the `auto` filters gantry.yaml refuses. */
import { describe, expect, it } from 'vitest';
import { autoDeploys } from '../../src/pipeline/auto-deploy.ts';
import { validateConfig } from '../../src/pipeline/load-config.ts';

const MAIN = 'refs/heads/main';

describe('autoDeploys', () => {
  const environments = {
    staging: { auto: true },
    preview: { auto: { branches: ['feature/**', '!feature/wip-*'] } },
    production: { auto: { tags: ['v[0-9]+.[0-9]+.[0-9]+'] } },
    manual: { auto: false },
  };

  it('takes the default branch for auto: true and matching refs for a filter', () => {
    expect(autoDeploys(environments, MAIN, MAIN)).toEqual({ release: true, environments: ['staging'] });
    expect(autoDeploys(environments, 'refs/heads/feature/login', MAIN)).toEqual({ release: true, environments: ['preview'] });
    expect(autoDeploys(environments, 'refs/tags/v2.10.0', MAIN)).toEqual({ release: true, environments: ['production'] });
  });

  it('makes no release of a ref nothing takes', () => {
    expect(autoDeploys(environments, 'refs/heads/feature/wip-x', MAIN)).toEqual({ release: false, environments: [] });
    expect(autoDeploys(environments, 'refs/tags/v2.10.0-rc1', MAIN)).toEqual({ release: false, environments: [] });
    // A tag named like a branch pattern is still a tag.
    expect(autoDeploys({ preview: { auto: { branches: ['**'] } } }, 'refs/tags/x', MAIN)).toEqual({ release: false, environments: [] });
  });

  it('follows the repository’s default branch, whatever its name', () => {
    expect(autoDeploys(environments, 'refs/heads/trunk', 'refs/heads/trunk')).toEqual({ release: true, environments: ['staging'] });
    expect(autoDeploys(environments, MAIN, 'refs/heads/trunk')).toEqual({ release: false, environments: [] });
    // Without environments the default branch still makes releases (to deploy by hand).
    expect(autoDeploys(undefined, MAIN, MAIN)).toEqual({ release: true, environments: [] });
  });
});

describe('auto in gantry.yaml', () => {
  const file = (on: string, auto: string) =>
    [
      'pipeline:',
      `  on: ${on}`,
      '  jobs:',
      '    build: { steps: [echo] }',
      'service:',
      '  run: node server.js',
      'environments:',
      `  production: { auto: ${auto} }`,
    ].join('\n');
  const problems = (on: string, auto: string) =>
    validateConfig(file(on, auto), 'gantry.yaml').diagnostics.map((d) => `${d.line}:${d.col}: ${d.message}`);

  it('accepts true, false and branch or tag filters the pipeline runs for', () => {
    expect(problems('{ push: {} }', 'true')).toEqual([]);
    expect(problems("{ push: { branches: [main], tags: ['v*'] } }", "{ tags: ['v*'] }")).toEqual([]);
    expect(problems("{ push: { tags: ['v*'] } }", "{ tags: 'v*' }")).toEqual([]);
    expect(problems('{}', "{ branches: [main], tags: ['v*'] }")).toEqual([]);
  });

  it('refuses a filter for refs whose pushes never start the pipeline, at its key', () => {
    expect(problems('{ push: { branches: [main] } }', "{ tags: ['v*'] }")).toEqual([
      "8:25: environment 'production' deploys releases of tags, but no push of tags starts the pipeline (on.push filters only branches): add tags to on.push",
    ]);
    expect(problems("{ push: { tags: ['v*'] } }", '{ branches: [main] }')).toEqual([
      "8:25: environment 'production' deploys releases of branches, but no push of branches starts the pipeline (on.push filters only tags): add branches to on.push",
    ]);
    expect(problems("{ schedule: ['0 3 * * *'] }", "{ tags: ['v*'] }")).toEqual([
      "8:25: environment 'production' deploys releases of tags, but no push of tags starts the pipeline (on declares no push trigger): add tags to on.push",
    ]);
  });

  it('refuses an empty map and patterns that cannot match, at the character', () => {
    expect(problems('{}', '{}')).toEqual([
      "8:23: 'auto' in environment 'production': expected branches or tags (or auto: true for the default branch)",
    ]);
    expect(problems('{}', "{ tags: ['v 1'], branch: [main] }")).toEqual([
      "8:34: tag filter 'v 1': a space can never match: a tag name cannot contain spaces, ~, ^ or : (git check-ref-format)",
      "8:40: unknown key 'branch' in 'auto' of environment 'production' (did you mean 'branches'?)",
    ]);
  });
});
