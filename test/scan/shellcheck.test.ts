/**
 * ShellCheck (the real binary, installed by .ci/run) on Dockerfile RUN lines and gantry.yaml
 * scripts, its comments mapped back to the lines of the files they came from.
 */
import { describe, expect, it } from 'vitest';
import { dockerfileScripts, pipelineScripts, shellcheckAvailable, shellcheckFindings } from '../../src/scan/shellcheck.ts';
import { requirement } from '../support/requirements.ts';

const available = requirement('shellcheck', await shellcheckAvailable());

describe.skipIf(!available)('ShellCheck', () => {
  it('checks RUN lines with their continuation lines, as sh or as the SHELL set', async () => {
    const dockerfile =
      'FROM debian:12\nRUN apt-get update && \\\n    echo $HOME/$1 > /tmp/x\nSHELL ["/bin/bash", "-c"]\nRUN [[ -n $X ]] && echo ok\nRUN ["echo", "exec form"]\n';
    const scripts = dockerfileScripts('Dockerfile', dockerfile);
    expect(scripts.map((s) => [s.firstLine, s.shell])).toEqual([
      [2, 'sh'],
      [5, 'bash'],
    ]);
    const findings = await shellcheckFindings(scripts);
    // SC2086 (unquoted expansion) on the continuation line, line 3 of the file.
    expect(findings.map((f) => `${f.ruleId}@${f.location?.startLine}`)).toContain('SC2086@3');
    // `[[` is fine in bash; under sh it would be SC3010.
    expect(findings.some((f) => f.location?.startLine === 5)).toBe(false);
  });

  it("checks gantry.yaml's run scripts at their own lines; expressions do not confuse it", async () => {
    const yaml = `pipeline:
  jobs:
    build:
      steps:
        - run: echo "\${{ gantry.sha }}"
        - run: |
            cd build
            rm -rf $TARGET/
`;
    const scripts = pipelineScripts('gantry.yaml', yaml);
    expect(scripts.map((s) => s.firstLine)).toEqual([5, 7]);
    const findings = await shellcheckFindings(scripts);
    expect(findings.map((f) => `${f.ruleId}@${f.location?.startLine}`).sort()).toEqual(['SC2086@8', 'SC2115@8']);
  });
});
