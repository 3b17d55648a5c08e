/**
 * Samples the security tests share: a token shaped like a GitHub personal access token, a real
 * advisory (qs's prototype pollution, as OSV publishes it) and an npm lockfile that pulls the
 * vulnerable qs in through express.
 */
export const GITHUB_PAT = `ghp_${'x7Kq2Lm9Pz4Rt8Vw1Yb6Nc3Hd5Fg0Js2Ae7Uo'.slice(0, 36)}`;

export const QS_ADVISORY = {
  id: 'GHSA-hrpp-h998-j3pp',
  modified: '2026-11-01T00:00:00Z',
  aliases: ['CVE-2022-24999'],
  summary: 'qs vulnerable to Prototype Pollution',
  affected: [
    { package: { ecosystem: 'npm', name: 'qs' }, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '6.7.0' }, { fixed: '6.7.3' }] }] },
  ],
  database_specific: { severity: 'HIGH' },
};

export const QS_LOCK = {
  name: 'app',
  lockfileVersion: 3,
  packages: {
    '': { name: 'app', dependencies: { express: '^4.17.0' } },
    'node_modules/express': { version: '4.17.1', dependencies: { qs: '6.7.0' } },
    'node_modules/qs': { version: '6.7.0' },
  },
};
