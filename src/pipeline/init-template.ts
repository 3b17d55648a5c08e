/**
 * The gantry.yaml that `gantry init` writes: a pipeline guessed from what the repository holds
 * (package.json, Makefile, or nothing), commented so a newcomer can extend it without the docs.
 * Pure: the CLI gathers the facts about the repository and writes the file.
 */
import { SCHEMA_FILE } from './json-schema.ts';

/** What `gantry init` found in the repository. */
export interface RepoFacts {
  packageJson?: { scripts?: Record<string, string> };
  hasPackageLock: boolean;
  hasMakefile: boolean;
  /** The project name (usually the directory name). */
  name: string;
}

/** The starter gantry.yaml for a repository; it always passes parseConfig. */
export function starterConfig(repo: RepoFacts): string {
  if (repo.packageJson !== undefined) return [header(repo.name), npmJob(repo), footer('build')].join('\n');
  if (repo.hasMakefile) return [header(repo.name), makeJob(), footer('build')].join('\n');
  return [header(repo.name), echoJob(), footer('hello')].join('\n');
}

function header(name: string): string {
  const lines = [
    '# gantry.yaml: how this project is built, tested and delivered.',
    '# Try it locally with `gantry run`; check this file with `gantry validate`.',
    // Relative to this file: the schema `gantry init` and `gantry run` write beside it (cli/schema-file.ts).
    `# yaml-language-server: $schema=./${SCHEMA_FILE}`,
    '',
  ];
  if (name.trim() !== '') lines.push(`name: ${yamlString(name.trim())}`, '');
  lines.push(
    'pipeline:',
    "  # What starts a run: here a push of any branch or tag (limit it with `branches: [main]`, `tags: ['v*']`).",
    '  # Add `schedule: ["0 3 * * *"]` for a nightly run, or `manual:` to start runs by hand.',
    '  on:',
    '    push:',
    '',
    '  # Jobs run in parallel unless one lists another under `needs:`.',
    '  jobs:',
  );
  return lines.join('\n');
}

function npmJob(repo: RepoFacts): string {
  const scripts = repo.packageJson?.scripts ?? {};
  const lockfile = repo.hasPackageLock ? 'package-lock.json' : 'package.json';
  const lines = [
    '    build:',
    '      # node_modules is kept between runs; the key changes when the dependencies do.',
    '      cache:',
    `        key: npm-\${{ hashFiles('${lockfile}') }}`,
    '        paths: [node_modules]',
    '      steps:',
    '        - name: Install dependencies',
    repo.hasPackageLock
      ? '          run: npm ci'
      : '          # `npm ci` is faster and exact once a package-lock.json is committed.\n          run: npm install',
  ];
  if (scripts.build !== undefined) lines.push('        - name: Build', '          run: npm run build');
  if (hasRealTestScript(scripts.test)) {
    lines.push(
      '        - name: Test',
      '          run: npm test',
      '      # With a JUnit reporter, test results show up per test:',
      '      # reports: { junit: "reports/junit.xml" }',
    );
  } else {
    lines.push('        # Add a "test" script to package.json and a step `- run: npm test`.');
  }
  return lines.join('\n');
}

/** npm init writes a test script that always fails; it is no test suite. */
function hasRealTestScript(script: string | undefined): boolean {
  return script !== undefined && !script.includes('no test specified');
}

function makeJob(): string {
  return [
    '    build:',
    '      steps:',
    '        - name: Build',
    '          run: make',
    '        # Add your test target here, e.g. `- run: make test`.',
  ].join('\n');
}

function echoJob(): string {
  return [
    '    # A first job to see Gantry work; replace its step with your build.',
    '    hello:',
    '      steps:',
    '        # A step is a shell script; ${{ }} expressions are filled in before it runs.',
    '        - name: Say hello',
    '          run: echo "Hello from Gantry on ${{ gantry.ref }}"',
    '        # - name: Build',
    '        #   run: ./build.sh',
  ].join('\n');
}

function footer(firstJob: string): string {
  return [
    '',
    '    # More jobs go here, for example:',
    '    # deploy:',
    `    #   needs: [${firstJob}]`,
    "    #   if: gantry.ref == 'refs/heads/main'",
    '    #   steps:',
    '    #     - run: ./deploy.sh',
    '',
  ].join('\n');
}

/** A YAML scalar for the name: plain when safe, double-quoted (JSON is valid YAML) otherwise. */
function yamlString(value: string): string {
  return /^[A-Za-z0-9][A-Za-z0-9._/-]*$/.test(value) ? value : JSON.stringify(value);
}
