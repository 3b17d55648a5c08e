/**
 * The gantry.yaml schema: the raw YAML as users write it (kebab-case keys, shorthands) in, the
 * normalised GantryConfig of src/core/types.ts out. Every field carries a description, which the
 * editor JSON Schema (json-schema.ts) publishes. `service` and `environments` have their own
 * module (config-delivery-schema.ts). Checks that need the whole file (needs graph, cron strings,
 * expressions, a service for the environments) live in load-config.ts.
 */
import { z } from 'zod';
import type {
  CacheConfig,
  GantryConfig,
  InputConfig,
  JobConfig,
  MatrixConfig,
  PipelineConfig,
  PullRequestAction,
  StepConfig,
  TriggersConfig,
  Value,
} from '../core/types.ts';
import { compact, duration, envMap, expected, idString, scalar, stringOrList } from './config-common.ts';
import { DELIVERY_KNOWN_KEYS, environmentsSchema, serviceSchema, type DeliveryMapKind } from './config-delivery-schema.ts';
import { withSloObjectives } from './config-delivery-slo.ts';
import { EXPERIMENT_KNOWN_KEYS, experimentsSchema, type ExperimentMapKind } from './config-experiments-schema.ts';
import { SECURITY_KNOWN_KEYS, securitySchema, type SecurityMapKind } from './config-security-schema.ts';
import { SLO_KNOWN_KEYS, slosSchema, type SloMapKind } from './config-slo-schema.ts';

export { ID_PATTERN, configErrorMap, describeValue } from './config-common.ts';

/** `if:` is a condition; YAML's bare `true`/`false` are accepted and kept as the same expression text. */
const condition = z
  .union([z.string(), z.boolean()], expected('a condition (an expression such as "github.ref == \'refs/heads/main\'")'))
  .transform((value) => String(value));

// ---------------------------------------------------------------- steps

const stepMap = z
  .strictObject({
    run: z.string().describe('The shell script to run. May use ${{ }} expressions.'),
    name: z.string().optional().describe('A display name (default: the first line of run).'),
    id: idString('step id')
      .optional()
      .describe('An id other steps and outputs can refer to (`steps.<id>.outputs`); unique within the job.'),
    env: envMap.optional(),
    if: condition.optional().describe('Run the step only when this expression is true (with or without ${{ }}). Default: success().'),
    'working-directory': z.string().optional().describe('Directory to run in, relative to the workspace.'),
    shell: z
      .string()
      .refine((value) => value === 'bash' || value === 'sh' || value.includes('{0}'), {
        error: (issue) =>
          `invalid shell '${String(issue.input)}': use 'bash', 'sh' or a command line containing {0} (the script file), e.g. 'python3 {0}'`,
      })
      .optional()
      .describe("'bash' (default, with -eo pipefail), 'sh', or a command line where {0} is the script file."),
    timeout: duration.optional().describe('Stop the step after this long: 500ms, 30s, 5m, 1h30m, or a number of seconds.'),
    'continue-on-error': z.boolean().default(false).describe('Let the job go on (and succeed) when this step fails.'),
  })
  .transform(
    (step): StepConfig =>
      compact({
        name: step.name,
        id: step.id,
        run: step.run,
        env: step.env ?? {},
        if: step.if,
        workingDirectory: step['working-directory'],
        shell: step.shell,
        timeoutMs: step.timeout,
        continueOnError: step['continue-on-error'],
      }),
  );

const step = z
  .union(
    [z.string().transform((run): StepConfig => ({ run, env: {}, continueOnError: false })), stepMap],
    expected('a step (a command string or a map with run)'),
  )
  .describe('A step: a shell command string (shorthand for `run:`) or a map with run and options.');

// ---------------------------------------------------------------- jobs

const matrixCell = z.record(z.string(), scalar, expected('a map of axis names to values')).describe('A combination of axis values.');

const MATRIX_OPTION_KEYS = ['include', 'exclude', 'fail-fast', 'max-parallel'] as const;

const matrix = z
  .object(
    {
      include: z
        .array(matrixCell, expected('a list of maps (one per extra combination)'))
        .optional()
        .describe('Extra combinations to run, or values added to the matching combinations.'),
      exclude: z
        .array(matrixCell, expected('a list of maps (one per combination to skip)'))
        .optional()
        .describe('Combinations to leave out; a map matches every combination holding its values.'),
      'fail-fast': z.boolean().default(true).describe('Cancel the other combinations when one fails.'),
      'max-parallel': z.int().min(1).optional().describe('Most combinations running at once (default: no limit).'),
    },
    expected('a map of axes (name → list of values)'),
  )
  .catchall(z.array(scalar, expected('a list of values (one job per value)')).min(1).describe('An axis: one job runs per value.'))
  .transform((raw): MatrixConfig => {
    const axes: Record<string, Value[]> = {};
    for (const [key, value] of Object.entries(raw)) {
      if (!(MATRIX_OPTION_KEYS as readonly string[]).includes(key)) axes[key] = value as Value[];
    }
    return compact({
      axes,
      include: raw.include ?? [],
      exclude: raw.exclude ?? [],
      failFast: raw['fail-fast'],
      maxParallel: raw['max-parallel'],
    });
  })
  .describe('Run the job once per combination of the axes (every other key is an axis: name → list of values).');

const cache = z
  .strictObject(
    {
      key: z.string().describe("The cache key, usually with a hash of the lockfile: npm-${{ hashFiles('package-lock.json') }}."),
      'restore-keys': stringOrList('key prefixes')
        .optional()
        .describe('Prefixes tried in order when the exact key misses; the newest matching entry is restored.'),
      paths: stringOrList('paths').describe('Paths (relative to the workspace, or ~/...) to save and restore.'),
    },
    expected('a map with key and paths'),
  )
  .transform((raw): CacheConfig => ({ key: raw.key, restoreKeys: raw['restore-keys'] ?? [], paths: raw.paths }))
  .describe('Keep files between runs, keyed by an expression.');

const reportsMap = z.strictObject(
  {
    junit: z.string().optional().describe('JUnit XML files (a glob) to read test results from.'),
    sarif: z
      .string()
      .optional()
      .describe(
        "SARIF 2.1.0 files (a glob) from security scanners the job runs (gitleaks, Trivy, osv-scanner, Semgrep…): Gantry's findings.",
      ),
  },
  expected('a map'),
);

const jobMap = z.strictObject(
  {
    name: z.string().optional().describe('A display name (default: the job id).'),
    needs: stringOrList('job ids').optional().describe('Jobs that must succeed before this one starts.'),
    if: condition.optional().describe('Run the job only when this expression is true (with or without ${{ }}). Default: success().'),
    env: envMap.optional(),
    timeout: duration.optional().describe('Cancel the job after this long: 500ms, 30s, 5m, 1h30m, or a number of seconds.'),
    retry: z.int().min(0).default(0).describe('How many times to run the job again when it fails (0 = run once).'),
    matrix: matrix.optional(),
    steps: z.array(step, expected('a list of steps')).min(1).describe('The steps to run, in order, in one workspace.'),
    outputs: z
      .record(idString('output name'), z.string(), expected('a map of output names to expressions'))
      .optional()
      .describe('Values later jobs read as needs.<job>.outputs.<name>; usually ${{ steps.<id>.outputs.<name> }}.'),
    cache: cache.optional(),
    artifacts: stringOrList('globs').optional().describe('Files to keep after the job (globs relative to the workspace).'),
    reports: reportsMap.optional().describe('Test and security reports to collect.'),
    network: z.boolean().default(true).describe('Allow network access from the sandbox.'),
    'runs-on': z
      .union(
        [idString('agent label'), z.array(idString('agent label'), expected('a list of agent labels'))],
        expected('a list of agent labels'),
      )
      .transform((value) => (typeof value === 'string' ? [value] : value))
      .optional()
      .describe(
        'Run the job on an agent (`gantry agent`) carrying all these labels, e.g. [linux, large]; without it the job runs on the server as always.',
      ),
  },
  expected('a map with steps'),
);

const job = jobMap
  .transform(
    (raw): JobConfig =>
      compact({
        name: raw.name,
        needs: raw.needs ?? [],
        if: raw.if,
        env: raw.env ?? {},
        timeoutMs: raw.timeout,
        retry: raw.retry,
        matrix: raw.matrix,
        steps: raw.steps,
        outputs: raw.outputs ?? {},
        cache: raw.cache,
        artifacts: raw.artifacts ?? [],
        reports: compact({ junit: raw.reports?.junit, sarif: raw.reports?.sarif }),
        network: raw.network,
        runsOn: raw['runs-on'],
      }),
  )
  .describe('A job: steps run in order in one workspace.');

// ---------------------------------------------------------------- triggers

const inputMap = z.strictObject(
  {
    type: z.enum(['string', 'number', 'boolean', 'choice']).default('string').describe('The kind of value (default: string).'),
    description: z.string().optional().describe('Shown when asking for the value.'),
    default: scalar.optional().describe('The value when none is given.'),
    required: z.boolean().default(false).describe('Refuse to start without a value.'),
    options: z
      .array(
        scalar.transform((value) => String(value)),
        expected('a list of options'),
      )
      .optional()
      .describe('The allowed values of a choice input.'),
  },
  expected('a map describing the input'),
);

const input = inputMap
  .transform((raw): InputConfig => compact(raw))
  .describe('An input given when the pipeline is started by hand (inputs.<name> in expressions).');

/** `push:`, `push: true` and `push: {}` all mean "any push". */
const nothingOrTrue = z.union([z.null(), z.literal(true)]);

const pushMap = z.strictObject(
  {
    branches: stringOrList('branch patterns')
      .optional()
      .describe("Branches whose pushes start a run (GitHub's filter patterns, e.g. 'release/*'; '!pattern' excludes)."),
    'branches-ignore': stringOrList('branch patterns').optional().describe('Branches whose pushes never start a run; instead of branches.'),
    tags: stringOrList('tag patterns')
      .optional()
      .describe("Tags whose pushes start a run (e.g. 'v*'). With only branches set, tag pushes start nothing, and the other way round."),
    'tags-ignore': stringOrList('tag patterns').optional().describe('Tags whose pushes never start a run; instead of tags.'),
    paths: stringOrList('path patterns')
      .optional()
      .describe("Only run when a changed file matches (GitHub's filter patterns; '!pattern' excludes). Not evaluated for tag pushes."),
    'paths-ignore': stringOrList('path patterns').optional().describe('Do not run when every changed file matches; instead of paths.'),
  },
  expected('a map'),
);

const push = z
  .union(
    [
      nothingOrTrue.transform(() => ({})),
      pushMap.transform((raw) =>
        compact({
          branches: raw.branches,
          branchesIgnore: raw['branches-ignore'],
          tags: raw.tags,
          tagsIgnore: raw['tags-ignore'],
          paths: raw.paths,
          pathsIgnore: raw['paths-ignore'],
        }),
      ),
    ],
    expected('nothing, true or a map with branches, tags and paths'),
  )
  .describe('Run on git pushes (any branch or tag unless branches or tags is set).');

const pullRequestAction = z.enum(['opened', 'synchronize', 'reopened', 'closed'] satisfies PullRequestAction[]);

const pullRequestMap = z.strictObject(
  {
    branches: stringOrList('branch patterns')
      .optional()
      .describe("Base branches (the branch the change would merge into) whose pull requests start a run; '!pattern' excludes."),
    'branches-ignore': stringOrList('branch patterns')
      .optional()
      .describe('Base branches whose pull requests never start a run; instead of branches.'),
    paths: stringOrList('path patterns').optional().describe('Only run when a file the pull request changes matches.'),
    'paths-ignore': stringOrList('path patterns')
      .optional()
      .describe('Do not run when every file the pull request changes matches; instead of paths.'),
    types: z
      .union(
        [pullRequestAction, z.array(pullRequestAction, expected('a list of pull request actions'))],
        expected('an action or a list of them'),
      )
      .transform((value) => (typeof value === 'string' ? [value] : value))
      .optional()
      .describe('Actions that start a run: opened, synchronize (new commits), reopened, closed. Default: opened, synchronize, reopened.'),
  },
  expected('a map'),
);

const pullRequest = z
  .union(
    [
      nothingOrTrue.transform(() => ({})),
      pullRequestMap.transform((raw) =>
        compact({
          branches: raw.branches,
          branchesIgnore: raw['branches-ignore'],
          paths: raw.paths,
          pathsIgnore: raw['paths-ignore'],
          types: raw.types,
        }),
      ),
    ],
    expected('nothing, true or a map with branches, paths and types'),
  )
  .describe("Run on pull requests (merge requests) a forge's webhook reports: their head commit, with the pull request's own gantry.yaml.");

const manualMap = z.strictObject(
  { inputs: z.record(idString('input name'), input, expected('a map of inputs')).optional().describe('Values asked for when started.') },
  expected('a map'),
);

const manual = z
  .union(
    [nothingOrTrue.transform(() => ({ inputs: {} })), manualMap.transform((raw) => ({ inputs: raw.inputs ?? {} }))],
    expected('nothing, true or a map with inputs'),
  )
  .describe('Allow starting the pipeline by hand (gantry run, the API, the dashboard).');

const webhook = z
  .union([nothingOrTrue, z.strictObject({}, expected('an empty map'))], expected('nothing, true or {}'))
  .transform((): true => true)
  .describe('Allow starting runs from webhook deliveries (GitHub, GitLab, Gitea).');

const triggerMap = z.strictObject(
  {
    push: push.optional(),
    pull_request: pullRequest.optional(),
    schedule: stringOrList('cron strings').optional().describe("Cron schedules ('0 3 * * *'; 6 fields to give seconds)."),
    manual: manual.optional(),
    webhook: webhook.optional(),
  },
  expected('a map of triggers'),
);

const triggers = triggerMap
  .nullable()
  .optional()
  .transform((raw): TriggersConfig => {
    if (raw === null || raw === undefined) return { push: {}, schedule: [] };
    return compact({
      push: raw.push,
      pullRequest: raw.pull_request,
      schedule: raw.schedule ?? [],
      manual: raw.manual,
      webhook: raw.webhook,
    });
  })
  .describe('What starts a run. Default: a push to any branch.');

// ---------------------------------------------------------------- pipeline and file

const concurrencyMap = z.strictObject(
  {
    group: z.string().describe('Runs with the same group (an expression) run one at a time.'),
    'cancel-in-progress': z.boolean().default(false).describe('Cancel the running run of the group when a new one starts.'),
  },
  expected('a map'),
);

const concurrency = z
  .union(
    [
      z.string().transform((group) => ({ group, cancelInProgress: false })),
      concurrencyMap.transform((raw) => ({ group: raw.group, cancelInProgress: raw['cancel-in-progress'] })),
    ],
    expected('a group name or a map with group'),
  )
  .describe('Serialise runs of the same group (a string is the group).');

const pipeline = z
  .strictObject(
    {
      on: triggers,
      env: envMap.optional(),
      concurrency: concurrency.optional(),
      jobs: z
        .record(idString('job id'), job, expected('a map of jobs (id → job)'))
        .refine((jobs) => Object.keys(jobs).length > 0, { error: 'a pipeline needs at least one job' })
        .describe('The jobs, by id. They run in parallel unless ordered by needs.'),
    },
    expected('a map with jobs'),
  )
  .transform((raw): PipelineConfig => compact({ on: raw.on, concurrency: raw.concurrency, env: raw.env ?? {}, jobs: raw.jobs }))
  .describe('The CI pipeline: triggers and jobs.');

/** raw gantry.yaml → GantryConfig. Parse with `{ error: configErrorMap }` for readable messages. */
export const gantryConfigSchema = z
  .strictObject(
    {
      name: z.string().optional().describe('The name of the service or project.'),
      pipeline,
      service: serviceSchema.optional(),
      environments: environmentsSchema.optional(),
      slos: slosSchema.optional(),
      experiments: experimentsSchema.optional(),
      security: securitySchema.optional(),
    },
    expected('a map at the top level (with pipeline, name, …)'),
  )
  .transform(
    (raw): GantryConfig =>
      compact({
        name: raw.name,
        pipeline: raw.pipeline,
        service: raw.service,
        environments: raw.environments === undefined ? undefined : withSloObjectives(raw.environments, raw.slos ?? []),
        slos: raw.slos,
        security: raw.security,
        experiments: raw.experiments,
      }),
  )
  .describe('gantry.yaml: everything about a service in one file.') satisfies z.ZodType<GantryConfig>;

/** gantry.yaml as written, before normalisation. */
export type GantryConfigInput = z.input<typeof gantryConfigSchema>;

/**
 * The keys each kind of map accepts, for "did you mean" suggestions on unknown keys.
 * Read from the schema shapes so they cannot drift.
 */
export const KNOWN_KEYS: Readonly<Record<ConfigMapKind, readonly string[]>> = {
  file: Object.keys(gantryConfigSchema.in.shape),
  pipeline: Object.keys(pipeline.in.shape),
  on: Object.keys(triggerMap.shape),
  push: Object.keys(pushMap.shape),
  pullRequest: Object.keys(pullRequestMap.shape),
  manual: Object.keys(manualMap.shape),
  input: Object.keys(inputMap.shape),
  concurrency: Object.keys(concurrencyMap.shape),
  job: Object.keys(jobMap.shape),
  step: Object.keys(stepMap.in.shape),
  matrix: [...MATRIX_OPTION_KEYS],
  cache: Object.keys(cache.in.shape),
  reports: Object.keys(reportsMap.shape),
  webhook: [],
  ...DELIVERY_KNOWN_KEYS,
  ...SLO_KNOWN_KEYS,
  ...EXPERIMENT_KNOWN_KEYS,
  ...SECURITY_KNOWN_KEYS,
};

/** The kinds of map in gantry.yaml that have a fixed set of keys. */
export type ConfigMapKind =
  | 'file'
  | 'pipeline'
  | 'on'
  | 'push'
  | 'pullRequest'
  | 'manual'
  | 'input'
  | 'concurrency'
  | 'job'
  | 'step'
  | 'matrix'
  | 'cache'
  | 'reports'
  | 'webhook'
  | DeliveryMapKind
  | SloMapKind
  | ExperimentMapKind
  | SecurityMapKind;
