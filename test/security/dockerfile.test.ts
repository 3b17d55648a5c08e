/** The Dockerfile parser's corners, and Gantry's own rule (GD001), beyond hadolint's cases. */
import { describe, expect, it } from 'vitest';
import { lintDockerfile, parseDockerfile } from '../../src/security/dockerfile/index.ts';

const codes = (text: string): string[] => lintDockerfile(text).map((f) => `${f.code}@${f.line}`);

describe('parsing', () => {
  it('continuations, comments inside them, the escape directive, heredocs and exec form', () => {
    const instructions = parseDockerfile(
      '# escape=`\nFROM mcr.microsoft.com/windows:ltsc2022\nRUN echo a `\n  # a comment\n  && echo b\nRUN <<EOF\napt-get update\nEOF\nCMD ["node", "server.js"]\n',
    );
    expect(instructions.map((i) => [i.keyword, i.line])).toEqual([
      ['FROM', 2],
      ['RUN', 3],
      ['RUN', 6],
      ['CMD', 9],
    ]);
    expect(instructions[1]?.args).toBe('echo a   && echo b');
    expect(instructions[2]?.heredocs).toEqual(['apt-get update']);
    expect(instructions[3]?.json).toEqual(['node', 'server.js']);
  });

  it('a hadolint ignore pragma silences those rules for the next instruction only', () => {
    expect(codes('FROM debian:12\n# hadolint ignore=DL3008,DL3015\nRUN apt-get install -y curl\nRUN apt-get install -y wget\n')).toEqual([
      'DL3008@4',
      'DL3015@4',
    ]);
  });
});

describe('GD001: a downloaded script piped into a shell', () => {
  it.each([
    ['RUN curl -fsSL https://get.example.com | sh', true],
    ['RUN wget -qO- https://x.sh | sudo bash', true],
    ['RUN curl -fsSL https://get.example.com -o install.sh && sha256sum -c sums && sh install.sh', false],
    ['RUN curl -s https://api.example.com | jq .', false],
  ])('%s', (run, flagged) => {
    expect(codes(`FROM debian:12\nSHELL ["/bin/bash", "-o", "pipefail", "-c"]\n${run}\n`).some((c) => c.startsWith('GD001'))).toBe(flagged);
  });
});

describe('secrets in ENV and ARG (DL3064)', () => {
  it.each([
    ['ENV DB_PASSWORD=hunter2', true],
    ['ENV GITHUB_TOKEN ghp_x', true],
    ['ARG NPM_TOKEN', true],
    ['ENV NODE_ENV=production PORT=8080', false],
    ['ARG VERSION=1.2.3', false],
  ])('%s', (line, flagged) => {
    expect(codes(`FROM node:24\n${line}\n`).some((c) => c.startsWith('DL3064'))).toBe(flagged);
  });
});
