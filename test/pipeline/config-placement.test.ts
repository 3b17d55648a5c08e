import { describe, expect, it } from 'vitest';
import { parseConfig, validateConfig } from '../../src/pipeline/load-config.ts';

const HEAD = ['pipeline:', '  jobs: { build: { steps: [make] } }', 'service: { run: node server.js }', 'environments:', '  production:'];

/** `line:col: message` for a `production` environment whose body is given (indented 4; line 6 is the first). */
function problems(...body: string[]): string[] {
  const text = [...HEAD, ...body.map((line) => `    ${line}`)].join('\n');
  return validateConfig(text, 'gantry.yaml').diagnostics.map((d) => `${d.line}:${d.col}: ${d.message}`);
}

describe("an environment's placement on agents", () => {
  it('reads labels and spread', () => {
    const config = parseConfig([...HEAD, '    placement: { labels: [linux, eu], spread: 2 }'].join('\n'), 'gantry.yaml');
    expect(config.environments?.production?.placement).toEqual({ labels: ['linux', 'eu'], spread: 2 });
  });

  it('takes one label as a list, and no spread as every matching agent', () => {
    const config = parseConfig([...HEAD, '    placement: { labels: linux }'].join('\n'), 'gantry.yaml');
    expect(config.environments?.production?.placement).toEqual({ labels: ['linux'] });
  });

  it('leaves an environment without placement on the server', () => {
    const config = parseConfig([...HEAD, '    instances: 2'].join('\n'), 'gantry.yaml');
    expect(config.environments?.production?.placement).toBeUndefined();
  });

  it('reports a misspelled key at its position with the key it could be', () => {
    const [problem] = problems('placement:', '  labels: [linux]', '  spred: 2');
    expect(problem).toMatch(/^8:7: .*spred/);
    expect(problem).toMatch(/spread/);
  });

  it('refuses a spread below one and a label that is not a label, at their positions', () => {
    expect(problems('placement: { labels: [linux], spread: 0 }')).toEqual([expect.stringMatching(/^6:\d+: .*/)]);
    expect(problems('placement: { labels: ["two words"] }')).toEqual([expect.stringMatching(/^6:\d+: .*agent label/)]);
    expect(problems('placement: { labels: [] }')).toHaveLength(1);
  });

  it('refuses placement together with a kubernetes target', () => {
    const found = problems('placement: { labels: [linux] }', 'target: { kubernetes: { namespace: shop, image: shop:1 } }');
    expect(found).toEqual([expect.stringMatching(/^6:\d+: .*not both/)]);
  });
});
