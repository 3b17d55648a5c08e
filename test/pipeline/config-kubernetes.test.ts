import { describe, expect, it } from 'vitest';
import { parseConfig, validateConfig } from '../../src/pipeline/load-config.ts';

const HEAD = [
  'pipeline:',
  '  jobs: { build: { steps: [make] } }',
  'service: { run: node server.js }',
  'environments:',
  '  production:',
  '    target:',
  '      kubernetes:',
];

/** `line:col: message` for a `production` environment whose kubernetes target body is given (indented 8; line 8 is the first). */
function targetProblems(...body: string[]): string[] {
  const text = [...HEAD, ...body.map((line) => `        ${line}`)].join('\n');
  return validateConfig(text, 'gantry.yaml').diagnostics.map((d) => `${d.line}:${d.col}: ${d.message}`);
}

describe('an environment with a kubernetes target', () => {
  it('takes the defaults: proxy traffic, port 8080, this Gantry as the proxy image', () => {
    const config = parseConfig(
      [...HEAD, '        namespace: shop', '        image: registry.test/shop:{release}'].join('\n'),
      'gantry.yaml',
    );
    expect(config.environments?.production?.target).toEqual({
      kubernetes: {
        namespace: 'shop',
        image: 'registry.test/shop:{release}',
        traffic: 'proxy',
        containerPort: 8080,
        proxyImage: expect.stringMatching(/^gantry\/gantry:/),
      },
    });
  });

  it('reads a gateway target', () => {
    const text = [
      ...HEAD,
      '        namespace: shop',
      '        context: prod',
      '        kubeconfig: /etc/gantry/kubeconfig',
      '        image: registry.test/shop:{commit}',
      '        traffic: gateway',
      '        gateway: { name: edge, namespace: infra, hostnames: [shop.example.test] }',
      '        port: 3000',
    ].join('\n');
    expect(parseConfig(text, 'gantry.yaml').environments?.production?.target?.kubernetes).toEqual({
      namespace: 'shop',
      context: 'prod',
      kubeconfig: '/etc/gantry/kubeconfig',
      image: 'registry.test/shop:{commit}',
      traffic: 'gateway',
      gateway: { name: 'edge', namespace: 'infra', hostnames: ['shop.example.test'] },
      containerPort: 3000,
      proxyImage: expect.any(String),
    });
  });

  it('reports a misspelled key at its position with the keys it could be', () => {
    const [problem] = targetProblems('namespace: shop', 'image: shop:1', 'namespce: x');
    expect(problem).toMatch(/^10:9: .*namespce/);
    expect(problem).toMatch(/namespace/);
  });

  it('refuses a namespace Kubernetes would refuse, at its position', () => {
    expect(targetProblems('namespace: Shop_1', 'image: shop:1')).toEqual([
      expect.stringMatching(
        /^8:20: 'namespace' in the kubernetes target of environment 'production': invalid namespace 'Shop_1': use at most 63 lower-case letters/,
      ),
    ]);
  });

  it('needs a gateway for gateway traffic and an image always', () => {
    expect(targetProblems('namespace: shop', 'image: shop:1', 'traffic: gateway')).toEqual([
      expect.stringMatching(/^10:18: 'traffic' in the kubernetes target of environment 'production': gateway traffic needs a gateway/),
    ]);
    expect(targetProblems('namespace: shop').join('\n')).toMatch(/image/);
  });

  it('refuses an unknown traffic mode', () => {
    expect(targetProblems('namespace: shop', 'image: shop:1', 'traffic: mesh').join('\n')).toMatch(/^10:18: .*proxy.*gateway/);
  });
});
