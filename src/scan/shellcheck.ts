/**
 * ShellCheck on the shell a repository runs: Dockerfile `RUN` lines (as `sh`, or `bash` under a
 * bash `SHELL`) and gantry.yaml's `run:` scripts (as bash, the steps' default shell). Each script
 * is checked with its own lines, so a comment's line maps back to the file's: a `RUN` keeps its
 * continuation lines, a `run:` block scalar its indentation-stripped lines. `${{ … }}`
 * expressions are replaced by a variable of their own before checking. Runs only where
 * `shellcheck` is installed; the report says when it is not.
 */
import { spawn } from 'node:child_process';
import { LineCounter, isMap, isScalar, isSeq, parseDocument } from 'yaml';
import { type Finding, fingerprint, parseDockerfile } from '../security/index.ts';

export interface ShellScript {
  path: string;
  /** The file's line of the script's first line. */
  firstLine: number;
  script: string;
  shell: 'sh' | 'bash';
  /** Checks that do not apply (a step's default shell already exits on the first failure: SC2164). */
  exclude?: string[];
}

interface Comment {
  line: number;
  column: number;
  level: 'error' | 'warning' | 'info' | 'style';
  code: number;
  message: string;
}

const LEVEL: Record<Comment['level'], Finding['level']> = { error: 'medium', warning: 'low', info: 'info', style: 'info' };

/** Whether `shellcheck` can be run here. */
export function shellcheckAvailable(): Promise<boolean> {
  return new Promise((resolve) => {
    const child = spawn('shellcheck', ['--version'], { stdio: 'ignore' });
    child.on('error', () => resolve(false));
    child.on('close', (code) => resolve(code === 0));
  });
}

function runShellcheck(s: ShellScript): Promise<Comment[]> {
  const args = ['--format=json1', `--shell=${s.shell}`, ...(s.exclude?.length ? [`--exclude=${s.exclude.join(',')}`] : []), '-'];
  return new Promise((resolve, reject) => {
    const child = spawn('shellcheck', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      err += d;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      // 0: clean, 1: comments; anything else is ShellCheck failing.
      if (code !== 0 && code !== 1) return reject(new Error(`shellcheck exited ${code}: ${err.trim().split('\n')[0] ?? ''}`));
      try {
        resolve((JSON.parse(out) as { comments: Comment[] }).comments);
      } catch (error) {
        reject(error);
      }
    });
    child.stdin.end(s.script);
  });
}

/** `RUN` instructions in shell form, with their lines as written (keyword removed). */
export function dockerfileScripts(path: string, text: string): ShellScript[] {
  const lines = text.split('\n');
  let bash = false;
  const scripts: ShellScript[] = [];
  for (const ins of parseDockerfile(text)) {
    if (ins.keyword === 'FROM') bash = false;
    if (ins.keyword === 'SHELL' && ins.json) bash = /(^|\/)bash$/.test(ins.json[0] ?? '');
    if (ins.keyword !== 'RUN' || ins.json || ins.heredocs.length > 0) continue;
    const own = lines.slice(ins.line - 1, ins.endLine);
    own[0] = (own[0] ?? '').replace(/^\s*RUN\s+(?:--\S+\s+)*/i, '');
    scripts.push({ path, firstLine: ins.line, script: own.join('\n'), shell: bash ? 'bash' : 'sh' });
  }
  return scripts;
}

/** gantry.yaml's `run:` scripts, each with the line its text starts on. */
export function pipelineScripts(path: string, text: string): ShellScript[] {
  const counter = new LineCounter();
  const doc = parseDocument(text, { lineCounter: counter });
  const jobs = doc.getIn(['pipeline', 'jobs'], true);
  const scripts: ShellScript[] = [];
  if (!isMap(jobs)) return scripts;
  for (const pair of jobs.items) {
    const steps = isMap(pair.value) ? pair.value.get('steps', true) : undefined;
    if (!isSeq(steps)) continue;
    for (const step of steps.items) {
      const run = isMap(step) ? step.get('run', true) : undefined;
      // A step with its own shell is that shell's business; the default one is bash -eo pipefail.
      if (isMap(step) && step.has('shell')) continue;
      if (!isScalar(run) || typeof run.value !== 'string' || !run.range) continue;
      const block = run.type === 'BLOCK_LITERAL' || run.type === 'BLOCK_FOLDED';
      const firstLine = counter.linePos(run.range[0]).line + (block ? 1 : 0);
      const script = run.value.replace(/\$\{\{[^}]*\}\}/g, '${GANTRY_EXPRESSION}');
      scripts.push({ path, firstLine, script, shell: 'bash', exclude: ['SC2164'] });
    }
  }
  return scripts;
}

export async function shellcheckFindings(scripts: readonly ShellScript[]): Promise<Finding[]> {
  const findings: Finding[] = [];
  for (const s of scripts) {
    const lines = s.script.split('\n');
    for (const c of await runShellcheck(s)) {
      const line = s.firstLine + c.line - 1;
      findings.push({
        scanner: 'shellcheck',
        ruleId: `SC${c.code}`,
        ruleName: c.message,
        level: LEVEL[c.level],
        message: `${c.message} (${s.path}:${line})`,
        location: { path: s.path, startLine: line, startColumn: c.column },
        fingerprint: fingerprint('shellcheck', s.path, String(c.code), (lines[c.line - 1] ?? '').trim()),
      });
    }
  }
  return findings;
}
