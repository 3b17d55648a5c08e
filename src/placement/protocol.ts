/**
 * The placement protocol's messages (docs/decisions/0043), one schema each, read by the server's
 * routes and by `gantry agent` alike. The agent long-polls for its desired state — the instances
 * it should run (each with the manifest of its release's files) and the proxies (each with its
 * last route table) — reconciles, and reports what runs; the server's questions to a proxy
 * (`window`, `drained`, roll-ups, faults …) ride the same poll as calls, answered by `report`.
 *
 *   POST /api/agents/placement/sync            long poll: the agent's report in, its desired state and calls out
 *   POST /api/agents/placement/report          instance changes and call answers, as they happen
 *   GET  /api/agents/placement/blobs/:sha256   a file of a release, by content hash
 */
import { z } from 'zod';
import { manifestSchema } from '../agents/protocol.ts';

/** The proxy methods a call may name: the delivery context's `EnvironmentProxy`, less its lifecycle. */
export const PROXY_CALL_METHODS = [
  'setRoutes',
  'drained',
  'window',
  'readRollups',
  'ackRollups',
  'prometheus',
  'setFaults',
  'clearFaults',
  'faultReport',
] as const;
export type ProxyCallMethod = (typeof PROXY_CALL_METHODS)[number];

/** An instance as the agent's supervisor reports it (src/runtime's InstanceStatus, with its labels). */
export const reportedInstanceSchema = z.strictObject({
  id: z.string().min(1),
  environment: z.string().min(1),
  releaseId: z.string().min(1),
  pool: z.string(),
  pid: z.int().nullable(),
  port: z.int().min(0).max(65535),
  state: z.enum(['starting', 'ready', 'unready', 'restarting', 'stopping', 'stopped', 'failed']),
  restarts: z.int().min(0),
  startedAt: z.string().nullable(),
  lastExit: z.strictObject({ code: z.int().nullable(), signal: z.string().nullable() }).nullable(),
  cpuPercent: z.number().nullable(),
  rssBytes: z.number().nullable(),
  logFile: z.string(),
  sandboxed: z.boolean(),
  /** The spec the server gave (in a sync only): a restarted server adopts the instance with it. */
  spec: z.record(z.string(), z.unknown()).optional(),
});
export type ReportedInstance = z.infer<typeof reportedInstanceSchema>;

export const callAnswerSchema = z.strictObject({
  id: z.string().min(1),
  ok: z.boolean(),
  result: z.unknown().optional(),
  error: z.string().optional(),
});
export type CallAnswer = z.infer<typeof callAnswerSchema>;

export const reportRequestSchema = z.strictObject({
  /** Where this agent's instances and proxies are reached (the proxies' upstream host, the environment's address). */
  address: z.string().min(1),
  /** Every instance the agent's supervisor knows (stopped ones too, until it forgets them). */
  instances: z.array(reportedInstanceSchema).max(10_000),
  /** The environment keys of the proxies running here, and those that could not be started (with why). */
  proxies: z
    .array(
      z.strictObject({
        environmentKey: z.string().min(1),
        /** Its metrics label and port, once it runs: a restarted server adopts it by them. */
        label: z.string().optional(),
        port: z.int().min(1).max(65535).optional(),
        error: z.string().optional(),
      }),
    )
    .max(1000),
  answers: z.array(callAnswerSchema).max(10_000).default([]),
});
export type ReportRequest = z.input<typeof reportRequestSchema>;

export const syncRequestSchema = z.strictObject({
  ...reportRequestSchema.shape,
  /** Labels the agent announces besides its registered ones. */
  labels: z.array(z.string()).max(100).default([]),
  /** The desired-state version the agent holds (0 at first): the poll answers at once when it is older. */
  version: z.int().min(0),
  waitMs: z.int().min(0).max(60_000).default(20_000),
});
export type SyncRequest = z.input<typeof syncRequestSchema>;

export const desiredInstanceSchema = z.strictObject({
  /** src/runtime's InstanceSpec as the server resolved it; `workDir` is the agent's copy of `release`. */
  spec: z.record(z.string(), z.unknown()),
  /** The release's files (its working directory), fetched by hash. */
  release: manifestSchema,
});
export type DesiredInstance = z.infer<typeof desiredInstanceSchema>;

export const desiredProxySchema = z.strictObject({
  environmentKey: z.string().min(1),
  label: z.string(),
  port: z.int().min(1).max(65535),
  /** The last route table, applied when the proxy starts here (it may have moved from a lost agent). */
  routes: z.record(z.string(), z.unknown()).nullable(),
});
export type DesiredProxy = z.infer<typeof desiredProxySchema>;

export const proxyCallSchema = z.strictObject({
  id: z.string().min(1),
  environmentKey: z.string().min(1),
  method: z.enum(PROXY_CALL_METHODS),
  args: z.array(z.unknown()),
});
export type ProxyCall = z.infer<typeof proxyCallSchema>;

export const syncResponseSchema = z.strictObject({
  version: z.int().min(0),
  instances: z.array(desiredInstanceSchema),
  proxies: z.array(desiredProxySchema),
  calls: z.array(proxyCallSchema),
  /** Report at least this often, or the server counts the agent lost and moves its work. */
  heartbeatMs: z.int().min(1),
});
export type SyncResponse = z.infer<typeof syncResponseSchema>;
