/**
 * Dockerfile rules: the hadolint rules that matter most for security and reproducibility, with
 * hadolint's codes and meaning (checked against hadolint's own test cases in
 * test/security/reference/hadolint-cases.json), and two of Gantry's: a script piped from the
 * network into a shell, and a secret's value in `ENV`/`ARG` found by the secret rules.
 */
import { type Instruction, parseDockerfile } from './parse.ts';
import { type SimpleCommand, simpleCommands } from './shell.ts';

export type DockerfileLevel = 'error' | 'warning' | 'info';

export interface DockerfileFinding {
  code: string;
  level: DockerfileLevel;
  message: string;
  line: number;
}

export const DOCKERFILE_RULES: Record<string, { level: DockerfileLevel; message: string }> = {
  DL3002: { level: 'warning', message: 'Last USER should not be root.' },
  DL3003: { level: 'warning', message: 'Use WORKDIR to switch to a directory.' },
  DL3004: { level: 'error', message: 'Do not use sudo as it leads to unpredictable behavior. Use a tool like gosu to enforce root.' },
  DL3006: { level: 'warning', message: 'Always tag the version of an image explicitly.' },
  DL3007: {
    level: 'warning',
    message: 'Using latest is prone to errors if the image will ever update. Pin the version explicitly to a release tag.',
  },
  DL3008: { level: 'warning', message: 'Pin versions in apt-get install.' },
  DL3009: { level: 'info', message: 'Delete the apt-get lists after installing something.' },
  DL3015: { level: 'info', message: 'Avoid additional packages by specifying `--no-install-recommends`.' },
  DL3020: { level: 'error', message: 'Use COPY instead of ADD for files and folders.' },
  DL3025: { level: 'warning', message: 'Use arguments JSON notation for CMD and ENTRYPOINT arguments.' },
  DL3027: { level: 'warning', message: 'Do not use apt as it is meant to be an end-user tool, use apt-get or apt-cache instead.' },
  DL3064: { level: 'warning', message: 'Potentially sensitive data should not be used in the ARG or ENV commands.' },
  DL4000: { level: 'error', message: 'MAINTAINER is deprecated.' },
  DL4006: { level: 'warning', message: 'Set the SHELL option -o pipefail before RUN with a pipe in it.' },
  GD001: {
    level: 'warning',
    message: 'A script downloaded with curl or wget is piped straight into a shell: download it, check its checksum, then run it.',
  },
};

interface Stage {
  /** Index of the FROM instruction. */
  from: number;
  image: string;
  alias: string | null;
  /** The stage it builds on, when its image is an earlier stage's alias. */
  parent: Stage | null;
  instructions: Instruction[];
}

function stagesOf(instructions: Instruction[]): Stage[] {
  const stages: Stage[] = [];
  instructions.forEach((ins, index) => {
    if (ins.keyword === 'FROM') {
      const [image = '', as, alias] = ins.rest.split(/\s+/);
      const parent = stages.find((s) => s.alias !== null && s.alias === image.toLowerCase()) ?? null;
      stages.push({
        from: index,
        image,
        alias: as?.toUpperCase() === 'AS' && alias ? alias.toLowerCase() : null,
        parent,
        instructions: [],
      });
    } else if (stages.length > 0) (stages.at(-1) as Stage).instructions.push(ins);
  });
  // A fragment without FROM (hadolint lints those too) is one stage of its own.
  if (stages.length === 0) stages.push({ from: -1, image: 'scratch', alias: null, parent: null, instructions });
  return stages;
}

/** The commands a RUN runs, from its shell form or its heredocs (exec form is one command). */
function commandsOf(ins: Instruction): SimpleCommand[] {
  if (ins.json) return [{ argv: ins.json, pipesToNext: false }];
  const script = ins.heredocs.length > 0 ? ins.heredocs.join('\n') : ins.rest;
  return simpleCommands(script);
}

function commandName(argv: readonly string[]): string {
  return (argv[0] ?? '').split('/').pop() ?? '';
}

/** `apt-get [options] install pkgs…`: the packages, options and their values left out. */
function aptGetInstall(argv: readonly string[]): { packages: string[]; options: string[] } | null {
  if (commandName(argv) !== 'apt-get') return null;
  const withValue = new Set(['-o', '--option', '-t', '--target-release', '-c', '--config-file', '-a', '--host-architecture']);
  const words: string[] = [];
  const options: string[] = [];
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a.startsWith('-')) {
      options.push(a);
      if (withValue.has(a)) options.push(argv[++i] ?? '');
      continue;
    }
    words.push(a);
  }
  if (words[0] !== 'install') return null;
  return { packages: words.slice(1), options };
}

const SENSITIVE_NAME = /(PASSW(OR)?D|SECRET|TOKEN|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|CLIENT_?KEY|CREDENTIAL|AUTH)/i;
const ARCHIVE = /\.(tar|tar\.(gz|bz2|xz|zst)|tgz|tbz2?|txz|gz|bz2|xz|zst|lz|lzma)$/i;

/** `ENV A=1 B=2`, legacy `ENV A 1`, `ARG A`, `ARG A=1`: the names set. */
function namesSet(ins: Instruction): string[] {
  if (ins.keyword === 'ARG') return [ins.rest.split('=')[0]?.trim() ?? ''];
  if (!ins.rest.includes('=') || /^\S+\s/.test(ins.rest.split('=')[0] ?? '')) return [ins.rest.split(/\s+/)[0] ?? ''];
  return [...ins.rest.matchAll(/([A-Za-z_][\w.-]*)=/g)].map((m) => m[1] as string);
}

export function lintDockerfile(text: string): DockerfileFinding[] {
  const instructions = parseDockerfile(text);
  const stages = stagesOf(instructions);
  const findings: DockerfileFinding[] = [];
  const report = (code: string, ins: Instruction): void => {
    if (ins.ignored.has(code)) return;
    findings.push({
      code,
      level: DOCKERFILE_RULES[code]?.level ?? 'warning',
      message: DOCKERFILE_RULES[code]?.message ?? code,
      line: ins.line,
    });
  };

  const aliases = new Set(stages.map((s) => s.alias).filter((a): a is string => a !== null));
  const usedAsParent = new Set(stages.map((s) => s.parent).filter((p): p is Stage => p !== null));
  for (const [index, stage] of stages.entries()) {
    const from = instructions[stage.from];
    const image = stage.image;
    const bare = image.replace(/^.*\//, '');
    if (from !== undefined) {
      if (image !== 'scratch' && !image.startsWith('$') && !aliases.has(image.toLowerCase()) && !image.includes('@') && !bare.includes(':'))
        report('DL3006', from);
      if (!image.includes('@') && /:latest$/.test(bare)) report('DL3007', from);
    }

    // DL3002: a stage whose last USER is root.
    const lastUser = [...stage.instructions].reverse().find((i) => i.keyword === 'USER');
    if (lastUser && /^(root|0)(:|$)/.test(lastUser.rest.trim())) report('DL3002', lastUser);

    // DL4006: pipes under a shell that does not fail on them. SHELL resets at FROM.
    let pipefail = false;
    let posixShell = true;
    const final = index === stages.length - 1;
    for (const ins of stage.instructions) {
      if (ins.keyword === 'SHELL' && ins.json) {
        const shell = (ins.json[0] ?? '').split(/[\\/]/).pop()?.toLowerCase() ?? '';
        posixShell = !/^(pwsh|powershell|cmd)(\.exe)?$/.test(shell);
        pipefail =
          shell !== 'sh' &&
          shell !== 'dash' &&
          ins.json.some(
            (a, i) => (a === 'pipefail' && ins.json?.[i - 1] === '-o') || (/^-[a-z]*o$/.test(ins.json?.[i - 1] ?? '') && a === 'pipefail'),
          );
      }
      if (ins.keyword !== 'RUN') continue;
      const commands = commandsOf(ins);
      if (posixShell && !pipefail && !ins.json && commands.some((c) => c.pipesToNext)) report('DL4006', ins);
      // DL3009 (only where the image is kept: the final stage or one later built on).
      const updates = commands.some((c) => ['apt-get', 'apt', 'aptitude'].includes(commandName(c.argv)) && c.argv.includes('update'));
      const cleaned = commands.some((c) => commandName(c.argv) === 'rm' && c.argv.some((a) => a.startsWith('/var/lib/apt/lists')));
      // A cache or tmpfs mount over the lists (or over both apt directories) keeps them out of the image.
      const mounted = new Set(
        (ins.flags.get('mount') ?? [])
          .filter((m) => /(^|,)type=(cache|tmpfs)(,|$)/.test(m))
          .map((m) => /(?:^|,)(?:target|dst|destination)=([^,]+)/.exec(m)?.[1]?.replace(/\/+$/, '')),
      );
      const cacheMount = mounted.has('/var/lib/apt/lists') || (mounted.has('/var/lib/apt') && mounted.has('/var/cache/apt'));
      const aptUsed = updates;
      if (aptUsed && !cleaned && !cacheMount && (final || usedAsParent.has(stage))) report('DL3009', ins);
    }
  }

  for (const ins of instructions) {
    if (ins.keyword === 'MAINTAINER') report('DL4000', ins);
    if ((ins.keyword === 'CMD' || ins.keyword === 'ENTRYPOINT') && !ins.json) report('DL3025', ins);
    if (ins.keyword === 'HEALTHCHECK' && /^CMD\s/i.test(ins.rest) && !/^CMD\s+\[/i.test(ins.rest)) report('DL3025', ins);
    if (ins.keyword === 'ADD') {
      const sources = (ins.json ?? ins.rest.split(/\s+/)).slice(0, -1).map((s) => s.replace(/^"|"$/g, ''));
      if (sources.some((s) => !/^(https?|git|ssh):\/\//.test(s) && !s.startsWith('git@') && !ARCHIVE.test(s))) report('DL3020', ins);
    }
    if ((ins.keyword === 'ARG' || ins.keyword === 'ENV') && namesSet(ins).some((n) => SENSITIVE_NAME.test(n))) report('DL3064', ins);
    if (ins.keyword !== 'RUN') continue;
    const commands = commandsOf(ins);
    const names = commands.map((c) => commandName(c.argv));
    if (names.includes('cd')) report('DL3003', ins);
    if (names.includes('sudo')) report('DL3004', ins);
    if (names.includes('apt')) report('DL3027', ins);
    const installs = commands.map((c) => aptGetInstall(c.argv)).filter((x) => x !== null);
    if (
      installs.some((x) =>
        x.packages.some((p) => !p.includes('=') && !p.endsWith('.deb') && !p.startsWith('/') && !p.startsWith('./') && !p.startsWith('$')),
      )
    )
      report('DL3008', ins);
    if (
      installs.some(
        (x) => !x.options.includes('--no-install-recommends') && !x.options.some((o) => /^APT::Install-Recommends=(false|0)$/i.test(o)),
      )
    )
      report('DL3015', ins);
    const shellOf = (argv: readonly string[]): string => commandName(argv[0] === 'sudo' ? argv.slice(1) : argv);
    const piped = commands.some(
      (c, k) =>
        c.pipesToNext && /^(curl|wget)$/.test(names[k] ?? '') && /^(sh|bash|zsh|dash|ash|ksh)$/.test(shellOf(commands[k + 1]?.argv ?? [])),
    );
    if (piped) report('GD001', ins);
  }
  return findings.sort((a, b) => a.line - b.line || (a.code < b.code ? -1 : 1));
}

export { parseDockerfile };
