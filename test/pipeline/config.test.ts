import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InputError, InvalidConfigError } from '../../src/core/errors.ts';
import type { GantryConfig } from '../../src/core/types.ts';
import { loadConfigFile, parseConfig, validateConfig } from '../../src/pipeline/load-config.ts';

/** `line:col: message` for each diagnostic, in the order reported. */
function problems(...lines: string[]): string[] {
  return validateConfig(lines.join('\n'), 'gantry.yaml').diagnostics.map((d) => `${d.line}:${d.col}: ${d.message}`);
}

/** A valid file around one job body (given as lines indented for the job's map). */
function withJob(...jobLines: string[]): string[] {
  return ['pipeline:', '  jobs:', '    build:', ...jobLines.map((line) => `      ${line}`)];
}

const FULL_EXAMPLE = `
name: shop-api
pipeline:
  on:
    push:
      branches: [main, 'release/*']
      paths: [src/**, '!docs/**']
    schedule: "0 3 * * *"
    manual:
      inputs:
        target:
          type: choice
          options: [staging, production]
          default: staging
          description: Where to deploy
        dry-run:
          type: boolean
          default: true
        note: {}
    webhook:
  env:
    CI: true
    RETRIES: 3
    GREETING: hello
  concurrency:
    group: deploy-\${{ gantry.ref }}
    cancel-in-progress: true
  jobs:
    build:
      name: Build it
      timeout: 1h30m
      retry: 2
      env: { NODE_ENV: production }
      cache:
        key: npm-\${{ hashFiles('package-lock.json') }}
        restore-keys: npm-
        paths: [node_modules]
      artifacts: dist/**
      outputs:
        version: \${{ steps.version.outputs.value }}
      steps:
        - npm ci
        - id: version
          name: Read the version
          run: |
            echo "value=1.0" >> "$GANTRY_OUTPUT"
          shell: sh
          working-directory: app
          timeout: 30
          continue-on-error: true
          env: { DEBUG: 1 }
          if: success()
    test:
      needs: build
      if: \${{ inputs.target != 'production' }}
      network: false
      matrix:
        node: [22, 24]
        os: [linux]
        include: [{ node: 24, experimental: true }]
        exclude: [{ node: 22, os: linux }]
        fail-fast: false
        max-parallel: 2
      reports: { junit: "reports/*.xml" }
      steps:
        - run: npm test -- --shard=\${{ matrix.node }}
          timeout: 500ms
service:
  run: node dist/server.js
slos:
  availability: { objective: 99.9% }
`;

const FULL_EXPECTED: GantryConfig = {
  name: 'shop-api',
  pipeline: {
    on: {
      push: { branches: ['main', 'release/*'], paths: ['src/**', '!docs/**'] },
      schedule: ['0 3 * * *'],
      manual: {
        inputs: {
          target: {
            type: 'choice',
            options: ['staging', 'production'],
            default: 'staging',
            description: 'Where to deploy',
            required: false,
          },
          'dry-run': { type: 'boolean', default: true, required: false },
          note: { type: 'string', required: false },
        },
      },
      webhook: true,
    },
    env: { CI: 'true', RETRIES: '3', GREETING: 'hello' },
    concurrency: { group: 'deploy-${{ gantry.ref }}', cancelInProgress: true },
    jobs: {
      build: {
        name: 'Build it',
        needs: [],
        env: { NODE_ENV: 'production' },
        timeoutMs: 5_400_000,
        retry: 2,
        steps: [
          { run: 'npm ci', env: {}, continueOnError: false },
          {
            id: 'version',
            name: 'Read the version',
            run: 'echo "value=1.0" >> "$GANTRY_OUTPUT"\n',
            shell: 'sh',
            workingDirectory: 'app',
            timeoutMs: 30_000,
            continueOnError: true,
            env: { DEBUG: '1' },
            if: 'success()',
          },
        ],
        outputs: { version: '${{ steps.version.outputs.value }}' },
        cache: { key: "npm-${{ hashFiles('package-lock.json') }}", restoreKeys: ['npm-'], paths: ['node_modules'] },
        artifacts: ['dist/**'],
        reports: {},
        network: true,
      },
      test: {
        needs: ['build'],
        if: "${{ inputs.target != 'production' }}",
        env: {},
        retry: 0,
        matrix: {
          axes: { node: [22, 24], os: ['linux'] },
          include: [{ node: 24, experimental: true }],
          exclude: [{ node: 22, os: 'linux' }],
          failFast: false,
          maxParallel: 2,
        },
        steps: [{ run: 'npm test -- --shard=${{ matrix.node }}', env: {}, timeoutMs: 500, continueOnError: false }],
        outputs: {},
        artifacts: [],
        reports: { junit: 'reports/*.xml' },
        network: false,
      },
    },
  },
  service: {
    run: 'node dist/server.js',
    env: {},
    instances: 1,
    health: { readiness: { intervalMs: 1000, timeoutMs: 1000, successThreshold: 1, failureThreshold: 3, initialDelayMs: 0 } },
    stop: { signal: 'SIGTERM', drainTimeoutMs: 30_000 },
  },
  slos: [
    {
      name: 'availability',
      objective: 0.999,
      periodMs: 30 * 86_400_000,
      sli: { kind: 'availability' },
      alerts: [
        { severity: 'page', burnRate: 14.4, longWindowMs: 3_600_000, shortWindowMs: 300_000 },
        { severity: 'page', burnRate: 6, longWindowMs: 21_600_000, shortWindowMs: 1_800_000 },
        { severity: 'ticket', burnRate: 1, longWindowMs: 259_200_000, shortWindowMs: 21_600_000 },
      ],
    },
  ],
};

describe('a valid gantry.yaml', () => {
  it('normalises every field: camelCase, durations in ms, lists, defaults', () => {
    expect(parseConfig(FULL_EXAMPLE, 'gantry.yaml')).toStrictEqual(FULL_EXPECTED);
  });

  it('defaults to a push on any branch and fills every job default', () => {
    const config = parseConfig(['pipeline:', '  jobs:', '    only:', '      steps: [make]'].join('\n'), 'gantry.yaml');
    expect(config).toStrictEqual({
      pipeline: {
        on: { push: {}, schedule: [] },
        env: {},
        jobs: {
          only: {
            needs: [],
            env: {},
            retry: 0,
            steps: [{ run: 'make', env: {}, continueOnError: false }],
            outputs: {},
            artifacts: [],
            reports: {},
            network: true,
          },
        },
      },
    });
  });

  it('reads the trigger and concurrency shorthands', () => {
    const config = parseConfig(
      [
        'pipeline:',
        '  on: { push: true, manual: , webhook: {}, schedule: ["*/5 * * * *", "0 0 * * * *"] }',
        '  concurrency: main',
        '  jobs: { a: { steps: [x], needs: [] } }',
      ].join('\n'),
      'gantry.yaml',
    );
    expect(config.pipeline.on).toStrictEqual({ push: {}, schedule: ['*/5 * * * *', '0 0 * * * *'], manual: { inputs: {} }, webhook: true });
    expect(config.pipeline.concurrency).toStrictEqual({ group: 'main', cancelInProgress: false });
  });

  it('accepts anchors and merge keys', () => {
    const config = parseConfig(
      ['pipeline:', '  jobs:', '    a: &base', '      timeout: 5m', '      steps: [x]', '    b:', '      <<: *base', '      needs: a'].join(
        '\n',
      ),
      'gantry.yaml',
    );
    expect(config.pipeline.jobs.b).toMatchObject({ timeoutMs: 300_000, needs: ['a'], steps: [{ run: 'x' }] });
  });

  it('has no trigger the file does not name once `on` is given', () => {
    const config = parseConfig('pipeline:\n  on: { schedule: "0 3 * * *" }\n  jobs: { a: { steps: [x] } }', 'gantry.yaml');
    expect(config.pipeline.on).toStrictEqual({ schedule: ['0 3 * * *'] });
  });
});

describe('YAML syntax errors', () => {
  it('reports a duplicate key and bad indentation at their positions', () => {
    expect(problems('pipeline:', '  jobs: {}', '  jobs: {}')).toEqual(['3:3: invalid YAML: this key appears twice in the same map']);
    expect(problems('pipeline:', '\tjobs: {}')).toEqual(['2:1: invalid YAML: tabs are not allowed as indentation']);
  });

  it('refuses a second document', () => {
    expect(problems('pipeline: {}', '---', 'name: x')).toEqual([
      "2:1: invalid YAML: the file must hold one YAML document (remove the second '---')",
    ]);
  });

  it('explains an empty file and a file that is not a map', () => {
    expect(problems('# nothing yet')).toEqual([
      "1:1: the file is empty: it needs a pipeline with at least one job (run 'gantry init' for a starter)",
    ]);
    expect(problems('- build')).toEqual(['1:1: expected a map at the top level (with pipeline, name, …), got a list']);
  });
});

describe('unknown keys', () => {
  it('points at the key and suggests the closest known one', () => {
    expect(problems(...withJob('nedds: [x]', 'steps: [make]'))).toEqual([
      "4:7: unknown key 'nedds' in job 'build' (did you mean 'needs'?)",
    ]);
    expect(problems('pipelin: {}', ...withJob('steps: [make]'))).toEqual([
      "1:1: unknown key 'pipelin' at the top level (did you mean 'pipeline'?)",
    ]);
  });

  it('suggests a key the typo is a prefix of, and nothing when no key is close', () => {
    expect(problems('pipeline:', '  concurrency: { group: x, cancel: true }', '  jobs: { a: { steps: [x] } }')).toEqual([
      "2:28: unknown key 'cancel' in 'pipeline.concurrency' (did you mean 'cancel-in-progress'?)",
    ]);
    expect(problems(...withJob('steps: [make]', 'colour: blue'))).toEqual(["5:7: unknown key 'colour' in job 'build'"]);
  });

  it('names the step and does not also report the missing key it suggests', () => {
    expect(problems(...withJob('steps:', '  - rnu: make'))).toEqual([
      "5:11: unknown key 'rnu' in step 1 of job 'build' (did you mean 'run'?)",
    ]);
  });

  it('checks triggers, inputs, cache and reports', () => {
    expect(
      problems(
        'pipeline:',
        '  on:',
        '    push: { branch: main }',
        '    manual: { inputs: { who: { typ: string } } }',
        '  jobs:',
        '    a:',
        '      steps: [x]',
        '      cache: { key: k, path: [x] }',
        '      reports: { junti: a.xml }',
      ),
    ).toEqual([
      "3:13: unknown key 'branch' in 'pipeline.on.push' (did you mean 'branches'?)",
      "4:32: unknown key 'typ' in input 'who' (did you mean 'type'?)",
      "8:24: unknown key 'path' in the cache of job 'a' (did you mean 'paths'?)",
      "9:18: unknown key 'junti' in the reports of job 'a' (did you mean 'junit'?)",
    ]);
  });
});

describe('wrong types and values', () => {
  it('says what was expected and what was found, at the value', () => {
    expect(problems(...withJob('needs: 3', 'steps: [make]'))).toEqual([
      "4:14: 'needs' in job 'build': expected a list of job ids or a string, got a number",
    ]);
    expect(problems(...withJob('steps: [make, 42]'))).toEqual([
      "4:21: step 2 of job 'build': expected a step (a command string or a map with run), got a number",
    ]);
    expect(problems(...withJob('env: { A: [1] }', 'steps: [make]'))).toEqual([
      "4:17: 'A' in 'pipeline.jobs.build.env': expected a string, number or boolean, got a list",
    ]);
    expect(problems(...withJob('retry: -1', 'network: "no"', 'steps: [make]'))).toEqual([
      "4:14: 'retry' in job 'build': expected a number ≥ 0, got -1",
      "5:16: 'network' in job 'build': expected true or false, got a string",
    ]);
  });

  it('explains durations, shells, enums and ids', () => {
    expect(
      problems(
        'pipeline:',
        '  on: { manual: { inputs: { x: { type: text } } } }',
        '  jobs:',
        '    build:',
        '      timeout: 5 minutes',
        '      steps:',
        '        - { run: x, shell: python, id: 9lives }',
        '    2fast: { steps: [x] }',
      ),
    ).toEqual([
      "2:40: 'type' in input 'x': expected 'string', 'number', 'boolean' or 'choice', got 'text'",
      "5:16: 'timeout' in job 'build': invalid duration '5 minutes': use a number of seconds or a value like 500ms, 30s, 5m, 1h or 1h30m",
      "7:28: 'shell' in step 1 of job 'build': invalid shell 'python': use 'bash', 'sh' or a command line containing {0} (the script file), e.g. 'python3 {0}'",
      "7:40: 'id' in step 1 of job 'build': invalid step id '9lives': use letters, digits, - and _, starting with a letter or _",
      "8:5: invalid job id '2fast': use letters, digits, - and _, starting with a letter or _",
    ]);
  });

  it('reports missing required keys at the key of the map that lacks them', () => {
    expect(problems('pipeline:', '  jobs:', '    build:', '      name: x')).toEqual(["3:5: missing required key 'steps' in job 'build'"]);
    expect(problems('name: x')).toEqual(["1:1: missing required key 'pipeline' at the top level"]);
    expect(problems(...withJob('steps:'))).toEqual(["4:7: 'steps' in job 'build': expected a list of steps, got nothing"]);
    expect(problems(...withJob('steps: [x]', 'cache: { key: k }'))).toEqual([
      "5:7: missing required key 'paths' in the cache of job 'build'",
    ]);
    expect(problems('pipeline:', '  jobs: {}')).toEqual(["2:9: 'jobs' in 'pipeline': a pipeline needs at least one job"]);
  });

  it('reports matrix include/exclude that are not lists of maps, and an empty matrix', () => {
    expect(problems(...withJob('matrix: { os: [linux], include: linux, exclude: [linux] }', 'steps: [x]'))).toEqual([
      "4:39: 'include' in the matrix of job 'build': expected a list of maps (one per extra combination), got a string",
      "4:56: item 1 of 'exclude' in the matrix of job 'build': expected a map of axis names to values, got a string",
    ]);
    expect(problems(...withJob('matrix: { fail-fast: false }', 'steps: [x]'))).toEqual([
      "4:7: the matrix of job 'build' has no axes and no include: add an axis (name: [values]) or include combinations",
    ]);
  });
});

describe('checks across the file', () => {
  it('reports needs naming an unknown job, with a suggestion, and a job needing itself', () => {
    expect(
      problems('pipeline:', '  jobs:', '    build: { steps: [x] }', '    deploy:', '      needs: [buidl, deploy]', '      steps: [x]'),
    ).toEqual(["5:15: job 'deploy' needs 'buidl', which does not exist (did you mean 'build'?)", "5:22: job 'deploy' needs itself"]);
  });

  it('names a needs cycle in order, from the job that comes first in the file', () => {
    expect(
      problems(
        'pipeline:',
        '  jobs:',
        '    lint: { steps: [x] }',
        '    c: { needs: [lint, a], steps: [x] }',
        '    a: { needs: b, steps: [x] }',
        '    b: { needs: c, steps: [x] }',
      ),
    ).toEqual(['4:24: needs cycle: c → a → b → c']);
  });

  it('reports duplicate step ids at the second one', () => {
    expect(problems(...withJob('steps:', '  - { run: a, id: one }', '  - { run: b, id: one }'))).toEqual([
      "6:25: duplicate step id 'one' in job 'build' (step 1 already uses it)",
    ]);
  });

  it('checks choice inputs and input defaults', () => {
    expect(
      problems(
        'pipeline:',
        '  on:',
        '    manual:',
        '      inputs:',
        '        env: { type: choice }',
        '        size: { type: choice, options: [s, m], default: xl }',
        '        count: { type: number, default: many }',
        '  jobs: { a: { steps: [x] } }',
      ),
    ).toEqual([
      "5:9: input 'env' is a choice but has no options: list them under options",
      "6:57: default 'xl' of input 'size' is not one of its options ('s', 'm')",
      '7:41: default of input \'count\' must be a number, got "many"',
    ]);
  });

  it('checks cron strings: croner errors, field count, schedules that never fire', () => {
    expect(problems('pipeline:', '  on:', '    schedule: ["0 25 * * *", "@daily", "0 0 31 2 *"]', '  jobs: { a: { steps: [x] } }')).toEqual(
      [
        "3:16: invalid cron schedule '0 25 * * *': Invalid value for hour: 25",
        "3:30: invalid cron schedule '@daily': expected 5 fields (minute hour day-of-month month day-of-week) or 6 with seconds first, got 1",
        "3:40: invalid cron schedule '0 0 31 2 *': it never fires",
      ],
    );
  });
});

describe('expressions', () => {
  it('points inside plain, quoted and block scalars', () => {
    expect(
      problems(
        'pipeline:',
        '  jobs:',
        '    build:',
        '      steps:',
        '        - echo ${{ matrix.os + }}',
        "        - run: 'it''s ${{ foo( }}'",
        '        - run: "tab\\there ${{ 1 == }}"',
        '        - run: |',
        '            echo start',
        '              indented ${{ nope.x }}',
        '        - run: >',
        '            folded',
        '            line ${{ (1 }}',
      ),
    ).toEqual([
      "5:30: invalid expression in step 1 of job 'build': unexpected '+'",
      "6:27: invalid expression in 'run' in step 2 of job 'build': unknown function 'foo'",
      "7:33: invalid expression in 'run' in step 3 of job 'build': unexpected end of expression after '=='",
      "10:28: invalid expression in 'run' in step 4 of job 'build': unknown context 'nope' (known contexts: env, matrix, steps, needs, inputs, secrets, gantry, job)",
      "13:23: invalid expression in 'run' in step 5 of job 'build': unexpected end of expression after '1', expected ')'",
    ]);
  });

  it('follows folded lines, escapes and expressions spanning lines', () => {
    expect(
      problems(
        'pipeline:',
        '  jobs:',
        '    build:',
        '      steps:',
        '        - run: echo one',
        '            two ${{ 1 + }}',
        '        - run: "first',
        '            second ${{ x( }}"',
        '        - run: "a\\x41\\u00e9 ${{ ! }}"',
        '        - run: |-',
        '            ${{',
        '              1 +',
        '            }}',
      ),
    ).toEqual([
      "6:23: invalid expression in 'run' in step 1 of job 'build': unexpected '+'",
      "8:24: invalid expression in 'run' in step 2 of job 'build': unknown function 'x'",
      "9:33: invalid expression in 'run' in step 3 of job 'build': unexpected end of expression after '!'",
      "12:17: invalid expression in 'run' in step 4 of job 'build': unexpected '+'",
    ]);
  });

  it('reads bare and wrapped if conditions, and refuses text mixed with ${{ }}', () => {
    expect(
      problems(
        'pipeline:',
        '  jobs:',
        '    build:',
        '      if: success() &&',
        '      steps:',
        '        - run: x',
        '          if: ${{ always( }}',
        '        - run: y',
        '          if: "branch ${{ gantry.ref }}"',
      ),
    ).toEqual([
      "4:21: invalid expression in 'if' in job 'build': unexpected end of expression after '&&'",
      "7:25: invalid expression in 'if' in step 1 of job 'build': unexpected end of expression after '('",
      "9:16: invalid expression in 'if' in step 2 of job 'build': an if: condition must be one expression: write it without '${{ }}', or wrap the whole condition in one '${{ }}'",
    ]);
  });

  it('checks env, outputs, cache keys, matrix values and the concurrency group; reports an unclosed ${{', () => {
    expect(
      problems(
        'pipeline:',
        '  env: { A: "${{ env.B" }',
        '  concurrency: { group: "${{ gantry.ref. }}" }',
        '  jobs:',
        '    build:',
        '      outputs: { v: "${{ steps..x }}" }',
        '      cache: { key: "k-${{ hashFiles() }}", restore-keys: ["k-${{ )) }}"], paths: [x] }',
        '      matrix: { v: ["${{ 1 + }}"], include: [{ v: "${{ [ }}" }] }',
        '      steps: [x]',
      ),
    ).toEqual([
      "2:14: invalid expression in 'A' in 'pipeline.env': unclosed '${{' (missing '}}')",
      "3:40: invalid expression in 'group' in 'pipeline.concurrency': unexpected end of expression after '.', expected a property name after '.'",
      "6:32: invalid expression in 'v' in 'pipeline.jobs.build.outputs': unexpected '.x'",
      "7:28: invalid expression in 'key' in the cache of job 'build': hashFiles() takes at least 1 argument, got 0",
      "7:67: invalid expression in item 1 of 'restore-keys' in the cache of job 'build': unexpected ')'",
      "8:28: invalid expression in item 1 of 'v' in the matrix of job 'build': unexpected '+'",
      "8:56: invalid expression in 'v' in 'pipeline.jobs.build.matrix.include.0': unexpected '['",
    ]);
  });
});

describe('many problems at once', () => {
  it('reports every kind together, sorted by position', () => {
    expect(
      problems(
        'pipeline:',
        '  on: { schedule: "61 * * * *" }',
        '  jobs:',
        '    deploy:',
        '      needs: buidl',
        '      nedds: [x]',
        '      timeout: soon',
        '      steps:',
        '        - run: echo ${{ nope }}',
        '        - 7',
        '    build: { steps: [x], retry: 1.5 }',
      ),
    ).toEqual([
      "2:19: invalid cron schedule '61 * * * *': Invalid value for minute: 61",
      "5:14: job 'deploy' needs 'buidl', which does not exist (did you mean 'build'?)",
      "6:7: unknown key 'nedds' in job 'deploy' (did you mean 'needs'?)",
      "7:16: 'timeout' in job 'deploy': invalid duration 'soon': use a number of seconds or a value like 500ms, 30s, 5m, 1h or 1h30m",
      "9:25: invalid expression in 'run' in step 1 of job 'deploy': unknown context 'nope' (known contexts: env, matrix, steps, needs, inputs, secrets, gantry, job)",
      "10:11: step 2 of job 'deploy': expected a step (a command string or a map with run), got a number",
      "11:33: 'retry' in job 'build': expected an integer, got a number",
    ]);
  });

  it('parseConfig throws InvalidConfigError carrying every diagnostic', () => {
    let thrown: unknown;
    try {
      parseConfig('pipeline:\n  jobs:\n    a: { steps: [x], needs: [b, c] }\n', 'ci/gantry.yaml');
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(InvalidConfigError);
    const error = thrown as InvalidConfigError;
    expect(error.code).toBe('INVALID_CONFIG');
    expect(error.diagnostics).toEqual([
      { file: 'ci/gantry.yaml', line: 3, col: 30, message: "job 'a' needs 'b', which does not exist" },
      { file: 'ci/gantry.yaml', line: 3, col: 33, message: "job 'a' needs 'c', which does not exist" },
    ]);
    expect(error.message).toBe(
      "ci/gantry.yaml:3:30: job 'a' needs 'b', which does not exist\nci/gantry.yaml:3:33: job 'a' needs 'c', which does not exist",
    );
  });
});

describe('loadConfigFile', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gantry-config-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('finds gantry.yml in a directory and reads an explicit file', async () => {
    const repo = join(dir, 'repo');
    await mkdir(repo);
    const text = 'pipeline:\n  jobs: { a: { steps: [make] } }\n';
    await writeFile(join(repo, 'gantry.yml'), text);
    const loaded = await loadConfigFile(repo);
    expect(loaded.file).toBe(join(repo, 'gantry.yml'));
    expect(loaded.text).toBe(text);
    expect(Object.keys(loaded.config.pipeline.jobs)).toEqual(['a']);

    await writeFile(join(repo, 'gantry.yaml'), 'pipeline:\n  jobs: { b: { steps: [make] } }\n');
    expect(Object.keys((await loadConfigFile(repo)).config.pipeline.jobs)).toEqual(['b']);
    expect(Object.keys((await loadConfigFile(join(repo, 'gantry.yml'))).config.pipeline.jobs)).toEqual(['a']);
  });

  it('says to run gantry init when there is no file', async () => {
    const empty = join(dir, 'empty');
    await mkdir(empty);
    await expect(loadConfigFile(empty)).rejects.toThrow(InputError);
    await expect(loadConfigFile(empty)).rejects.toThrow(`no gantry.yaml in ${empty}: run 'gantry init' to create one`);
    await expect(loadConfigFile(join(dir, 'missing.yaml'))).rejects.toThrow(/does not exist: run 'gantry init'/);
  });

  it('throws InvalidConfigError with the file name in each diagnostic', async () => {
    const file = join(dir, 'bad.yaml');
    await writeFile(file, 'pipeline:\n  jobs: { a: { stpes: [x] } }\n');
    const failure = await loadConfigFile(file).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(InvalidConfigError);
    expect((failure as InvalidConfigError).diagnostics).toEqual([
      { file, line: 2, col: 16, message: "unknown key 'stpes' in job 'a' (did you mean 'steps'?)" },
    ]);
  });
});
