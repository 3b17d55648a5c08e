/**
 * The agent protocol's messages (docs/decisions/0036), one schema each, read by the server's
 * routes and by `gantry agent` alike: an agent trusts nothing the server sends it unchecked,
 * and the reverse. Every report about a job carries its fencing token.
 *
 *   POST /api/agents/poll           long poll: up to `free` assignments, or none after `waitMs`
 *   POST /api/agents/renew          every held lease at once; the answer says which still hold
 *   POST /api/agents/log            appended bytes of a job's log, at an offset (idempotent)
 *   PUT  /api/agents/blobs/:sha256  a file's content, checked against its name
 *   GET  /api/agents/blobs/:sha256  the same, the agent checks it too
 *   POST /api/agents/finish         the result and the manifest of the job's files
 */
import { z } from 'zod';

export const SHA256_PATTERN = /^[0-9a-f]{64}$/;
const sha256 = z.string().regex(SHA256_PATTERN, 'a sha256 in lowercase hex');

/** One file of a tree moved between hosts: where it goes, what it must hash to, how it runs. */
export const manifestEntrySchema = z.strictObject({
  path: z.string().min(1),
  sha256,
  size: z.int().min(0),
  executable: z.boolean(),
});
export type ManifestEntry = z.infer<typeof manifestEntrySchema>;
export const manifestSchema = z.array(manifestEntrySchema);
export type Manifest = z.infer<typeof manifestSchema>;

export const jobRefSchema = z.strictObject({
  runId: z.string().min(1),
  jobKey: z.string().min(1),
  fence: z.int().min(1),
});
export type JobRef = z.infer<typeof jobRefSchema>;

export const pollRequestSchema = z.strictObject({
  /** How many more jobs the agent can take now. */
  free: z.int().min(1).max(1000),
  /** Labels the agent announces (its registered labels are added). */
  labels: z.array(z.string()).default([]),
  waitMs: z.int().min(0).max(60_000).default(25_000),
});
export type PollRequest = z.input<typeof pollRequestSchema>;

/** What the agent needs to run a job like the embedded executor would. */
export const assignmentSchema = z.strictObject({
  ...jobRefSchema.shape,
  leaseMs: z.int().min(1),
  /** The executor's PlannedJob and JobContext, as the server built them. */
  job: z.record(z.string(), z.unknown()),
  context: z.record(z.string(), z.unknown()),
  source: manifestSchema,
  /** One manifest per needed job's artifacts (restored into the workspace in this order). */
  artifactsIn: z.array(manifestSchema),
  logCapBytes: z.int().min(1),
  sandbox: z.enum(['auto', 'off']),
});
export type Assignment = z.infer<typeof assignmentSchema>;

export const pollResponseSchema = z.strictObject({ assignments: z.array(assignmentSchema) });

export const renewRequestSchema = z.strictObject({ leases: z.array(jobRefSchema).max(1000) });
/** Per lease asked about: `held` (renewed) or `lost` (fenced, expired or cancelled: stop it now). */
export const renewResponseSchema = z.strictObject({
  leases: z.array(z.strictObject({ ...jobRefSchema.shape, held: z.boolean() })),
});

export const logRequestSchema = z.strictObject({
  ...jobRefSchema.shape,
  /** The byte offset in the job's log file where `data` starts. */
  offset: z.int().min(0),
  /** base64 */
  data: z.string(),
});

export const finishRequestSchema = z.strictObject({
  ...jobRefSchema.shape,
  result: z.strictObject({
    status: z.enum(['success', 'failure', 'cancelled']),
    outputs: z.record(z.string(), z.string()),
    steps: z.array(z.record(z.string(), z.unknown())),
    tests: z.record(z.string(), z.unknown()).nullable(),
    logTruncated: z.boolean(),
    error: z.string().optional(),
  }),
  /** The job's files besides its log (artifacts/, tests.json, sarif.json), relative to its job folder. */
  files: manifestSchema,
  /** The log's last piece, when any is left: one request fewer per job than a last `log` call. */
  log: z.strictObject({ offset: z.int().min(0), data: z.string() }).optional(),
});
export type FinishRequest = z.infer<typeof finishRequestSchema>;
