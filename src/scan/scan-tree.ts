/**
 * Runs the security scanners over a working tree, or over the change staged for a commit: secrets
 * (gitleaks rules; `.gitleaks.toml` and `.gitleaksignore` at the root are honoured as gitleaks
 * does), vulnerable dependencies in every lockfile, Dockerfile rules, Kubernetes manifests,
 * Terraform files and gantry.yaml. What could not be checked
 * is reported beside the findings, never dropped silently.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { DEFAULT_SECURITY_CONFIG, type SecurityConfig } from '../core/security-config.ts';
import { tryGit } from '../platform/git.ts';
import { pathFilter } from './path-filter.ts';
import type { AdvisoryIndex, ConfigFinding, PackageGraph } from '../security/index.ts';
import {
  type Finding,
  addedLines,
  defaultSecretRules,
  detectSecrets,
  isLockfileName,
  parseIgnoreFile,
  redactFinding,
  secretRulesFrom,
  secretToFinding,
} from '../security/precommit.ts';

/**
 * The rest of the security core and ShellCheck, loaded only when the scan has a file that needs
 * them (a lockfile, a Dockerfile, a YAML or Terraform file): a pre-commit hook whose change holds
 * none spares loading the YAML parser, the OSV schemas and the version orders.
 */
const analysers = () => Promise.all([import('../security/index.ts'), import('./shellcheck.ts')]);

export interface ScanOptions {
  root: string;
  /** Only the change staged in git's index (a pre-commit hook). */
  staged?: boolean;
  /** Null: dependencies are listed but not checked, and the report says so. */
  advisories: AdvisoryIndex | null;
  /**
   * A unified diff with no context lines (`git diff --unified=0 before after`): secrets are looked
   * for in its added lines rather than in the whole tree, so a secret added by one commit of a
   * push and removed by the next is still found. The other scanners read the tree.
   */
  diff?: string;
  /** gantry.yaml's `security` section (default: every scanner on). */
  settings?: SecurityConfig;
}

export interface ScanReport {
  findings: Finding[];
  /** The package graphs of every lockfile read (for an SBOM). */
  graphs: PackageGraph[];
  filesScanned: number;
  lockfiles: { file: string; packages: number; skipped: PackageGraph['skipped'] }[];
  dependenciesChecked: boolean;
  /** Files left out and why (too large, binary, unreadable lockfile…). */
  notes: string[];
}

const MAX_FILE_BYTES = 2 * 1024 * 1024;
const DOCKERFILE = /^(?:Dockerfile|Containerfile)(?:\..+)?$|\.dockerfile$/i;
const CONFIG_FILE = /\.(?:ya?ml|tf)$/i;

/** Kubernetes manifests, Terraform and gantry.yaml, each with its own rules. */
async function lintConfigFile(
  security: Awaited<ReturnType<typeof analysers>>[0],
  path: string,
  text: string,
  report: ScanReport,
): Promise<void> {
  const { configToFinding, lintGantryConfig, lintKubernetes, lintTerraform, looksLikeKubernetes } = security;
  const lines = text.split('\n');
  const add = (findings: ConfigFinding[]) => {
    for (const f of findings) report.findings.push(configToFinding(path, f, lines[f.line - 1] ?? ''));
  };
  if (path.endsWith('.tf')) add(lintTerraform(text));
  else if (basename(path) === 'gantry.yaml') {
    try {
      // Loaded only when there is a gantry.yaml: its schemas cost the pre-commit hook otherwise.
      const { parseConfig } = await import('../pipeline/load-config.ts');
      const config = parseConfig(text, path);
      add(lintGantryConfig(config, (job) => lines.findIndex((l) => l.trim() === `${job}:`) + 1));
    } catch (error) {
      report.notes.push(`${path}: not checked (${error instanceof Error ? error.message.split('\n')[0] : String(error)})`);
    }
  } else if (looksLikeKubernetes(text)) {
    try {
      add(lintKubernetes(text));
    } catch (error) {
      report.notes.push(`${path}: not checked as a Kubernetes manifest (${error instanceof Error ? error.message : String(error)})`);
    }
  }
}

async function listFiles(root: string): Promise<string[]> {
  const git = await tryGit(['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: root });
  if (git.ok) return git.stdout.split('\0').filter((f) => f !== '');
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      if (name === '.git' || name === 'node_modules') continue;
      const path = join(dir, name);
      const stat = statSync(path);
      if (stat.isDirectory()) walk(path);
      else if (stat.isFile()) out.push(relative(root, path));
    }
  };
  walk(root);
  return out;
}

function isBinary(bytes: Buffer): boolean {
  return bytes.subarray(0, 8192).includes(0);
}

/** ShellCheck over Dockerfile RUN lines and gantry.yaml's scripts, when it is installed. */
async function checkShellScripts(
  shellcheck: Awaited<ReturnType<typeof analysers>>[1],
  contents: ReadonlyMap<string, string>,
  report: ScanReport,
): Promise<void> {
  const { dockerfileScripts, pipelineScripts, shellcheckAvailable, shellcheckFindings } = shellcheck;
  const scripts: ReturnType<typeof dockerfileScripts> = [];
  for (const [path, text] of contents) {
    if (DOCKERFILE.test(basename(path))) scripts.push(...dockerfileScripts(path, text));
    else if (basename(path) === 'gantry.yaml') {
      try {
        scripts.push(...pipelineScripts(path, text));
      } catch {
        // A gantry.yaml that does not parse is reported by lintConfigFile already.
      }
    }
  }
  if (scripts.length === 0) return;
  if (await shellcheckAvailable()) report.findings.push(...(await shellcheckFindings(scripts)));
  else report.notes.push(`${scripts.length} shell script(s) not checked: shellcheck is not installed (apt-get install shellcheck)`);
}

export async function scanTree(options: ScanOptions): Promise<ScanReport> {
  const { root } = options;
  const settings = options.settings ?? DEFAULT_SECURITY_CONFIG;
  const report: ScanReport = {
    findings: [],
    graphs: [],
    filesScanned: 0,
    lockfiles: [],
    dependenciesChecked: options.advisories !== null && settings.dependencies !== false,
    notes: [],
  };
  const readWorking = (path: string): string | undefined => {
    try {
      return readFileSync(join(root, path), 'utf8');
    } catch {
      return undefined;
    }
  };
  const readStaged = async (path: string): Promise<string | undefined> => {
    const shown = await tryGit(['show', `:${path}`], { cwd: root });
    return shown.ok ? shown.stdout : undefined;
  };
  const wanted = pathFilter(settings.paths, settings.exclude);
  const secrets = settings.secrets === false ? null : secretScanner(settings.secrets, readWorking, report);
  const scanAdded = (diffText: string): string[] => {
    const changes = addedLines(diffText).filter((change) => wanted(change.path));
    for (const change of changes) {
      const fragment = {
        raw: change.lines.map((l) => l.text).join('\n'),
        path: change.path,
        lineNumbers: change.lines.map((l) => l.number),
      };
      secrets?.(fragment);
    }
    return changes.map((c) => c.path);
  };

  let candidates: string[];
  const contents = new Map<string, string>();
  if (options.staged) {
    const diff = await tryGit(['diff', '--cached', '--unified=0', '--no-color', '--no-ext-diff', '--diff-filter=ACMR'], { cwd: root });
    if (!diff.ok) throw new Error(`cannot read the staged change in ${root}: ${diff.stderr.trim() || diff.error}`);
    const changed = scanAdded(diff.stdout);
    report.filesScanned = changed.length;
    candidates = changed.filter((p) => isLockfileName(p) || DOCKERFILE.test(basename(p)) || CONFIG_FILE.test(p));
    for (const path of candidates) {
      const text = await readStaged(path);
      if (text !== undefined) contents.set(path, text);
    }
  } else {
    if (options.diff !== undefined) scanAdded(options.diff);
    candidates = (await listFiles(root)).filter(wanted);
    for (const path of candidates) {
      let bytes: Buffer;
      try {
        const stat = statSync(join(root, path));
        if (!stat.isFile()) continue;
        if (stat.size > MAX_FILE_BYTES) {
          report.notes.push(
            `${path}: not scanned for secrets (${Math.round(stat.size / 1024 / 1024)} MiB, over the ${MAX_FILE_BYTES / 1024 / 1024} MiB limit)`,
          );
          continue;
        }
        bytes = readFileSync(join(root, path));
      } catch {
        continue;
      }
      if (isBinary(bytes)) continue;
      const text = bytes.toString('utf8');
      contents.set(path, text);
      report.filesScanned++;
      if (options.diff === undefined) secrets?.({ raw: text, path });
    }
  }

  if (contents.size === 0) return report;
  const [security, shellcheck] = await analysers();
  const graphs = report.graphs;
  for (const [path, text] of contents) {
    if (isLockfileName(path)) {
      try {
        const graph = security.readLockfile(path, text, (sibling) => contents.get(sibling) ?? readWorking(sibling));
        graphs.push(graph);
        report.lockfiles.push({ file: path, packages: graph.packages.length, skipped: graph.skipped });
      } catch (error) {
        report.notes.push(error instanceof Error ? error.message : String(error));
      }
    }
    if (settings.config && CONFIG_FILE.test(path)) await lintConfigFile(security, path, text, report);
    if (settings.dockerfile && DOCKERFILE.test(basename(path))) {
      const lines = text.split('\n');
      for (const f of security.lintDockerfile(text)) report.findings.push(security.dockerfileToFinding(path, f, lines[f.line - 1] ?? ''));
    }
  }
  if (settings.shellcheck) await checkShellScripts(shellcheck, contents, report);
  if (settings.dependencies === false) return report;
  if (options.advisories !== null)
    for (const f of security.scanDependencies(graphs, options.advisories)) report.findings.push(security.dependencyToFinding(f));
  else if (graphs.length > 0) report.notes.push(`${graphs.length} lockfile(s) read but not checked: ${NO_ADVISORIES}`);
  return report;
}

/** The note's words when dependencies cannot be checked (the server's jobs say it too). */
export const NO_ADVISORIES = "no advisory database (--advisories PATH, or the server's advisories option)";

/**
 * The secrets scanner with the repository's rules and ignore list (gitleaks' files at the root
 * unless the settings name others), adding what it finds to the report, masked.
 */
function secretScanner(
  settings: { rules?: string; ignore?: string },
  read: (path: string) => string | undefined,
  report: ScanReport,
): (fragment: { raw: string; path: string; lineNumbers?: number[] }) => void {
  const rulesFile = settings.rules ?? '.gitleaks.toml';
  const configText = read(rulesFile);
  if (configText === undefined && settings.rules !== undefined)
    report.notes.push(`${rulesFile}: not found (security.secrets.rules); gitleaks' default rules used`);
  const rules = configText === undefined ? defaultSecretRules() : secretRulesFrom(rulesFile, configText);
  const ignoreFile = settings.ignore ?? '.gitleaksignore';
  const ignoreText = read(ignoreFile);
  if (ignoreText === undefined && settings.ignore !== undefined)
    report.notes.push(`${ignoreFile}: not found (security.secrets.ignore); nothing ignored`);
  const ignore = ignoreText === undefined ? undefined : parseIgnoreFile(ignoreText);
  return (fragment) => {
    for (const f of detectSecrets(rules, fragment, { ignore })) report.findings.push(secretToFinding(redactFinding(f)));
  };
}

/**
 * The package graphs of every lockfile in a tree (a release's), for its SBOM; lockfiles that
 * cannot be read are named in `notes`.
 */
export async function lockfileGraphs(root: string): Promise<{ graphs: PackageGraph[]; notes: string[] }> {
  const graphs: PackageGraph[] = [];
  const notes: string[] = [];
  const read = (path: string): string | undefined => {
    try {
      return readFileSync(join(root, path), 'utf8');
    } catch {
      return undefined;
    }
  };
  const lockfiles = (await listFiles(root)).filter(isLockfileName);
  if (lockfiles.length === 0) return { graphs, notes };
  const { readLockfile } = await import('../security/index.ts');
  for (const path of lockfiles) {
    const text = read(path);
    if (text === undefined) continue;
    try {
      graphs.push(readLockfile(path, text, read));
    } catch (error) {
      notes.push(error instanceof Error ? error.message : String(error));
    }
  }
  return { graphs, notes };
}
