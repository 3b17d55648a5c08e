/**
 * Every error code Gantry throws or sends, in one table: the HTTP status it maps to and one
 * sentence saying what it means and what to do. `GantryError` takes its status from here, so a
 * code is declared once; `npm run docs:errors` renders this table into docs/errors.md, and
 * test/core/error-codes.test.ts fails when a code is used but missing here, or listed but unused.
 *
 * Codes that only the CLI raises (it never answers HTTP) carry the status closest in meaning;
 * the CLI turns any error into a message and an exit code.
 */
export interface ErrorCodeInfo {
  /** The HTTP status of an answer carrying this code. */
  readonly httpStatus: number;
  /** What the code means and what the user should do about it. */
  readonly sentence: string;
  /** Who raises it when not the server: the `gantry` CLI itself, or an environment's traffic proxy. */
  readonly from?: 'cli' | 'proxy';
}

export const ERROR_CODES = {
  // -- requests (any API route)
  NOT_FOUND: {
    httpStatus: 404,
    sentence:
      'The project, run, job, release, environment or route named does not exist; check the name or id (`gantry project list`, `gantry runs list`).',
  },
  CONFLICT: {
    httpStatus: 409,
    sentence:
      'The request clashes with the current state (a name already taken, a run already finished, a deploy already under way); read the message, then retry or choose another name.',
  },
  INVALID_INPUT: {
    httpStatus: 400,
    sentence: 'A path parameter, query parameter or body field is missing or malformed; the message names the field and what was expected.',
  },
  INVALID_JSON: {
    httpStatus: 400,
    sentence: 'The request body is not valid JSON; send a JSON document with `content-type: application/json`.',
  },
  BAD_REQUEST: {
    httpStatus: 400,
    sentence: 'The request could not be read (a malformed URL, header or body framing); fix the client that sent it.',
  },
  BODY_TOO_LARGE: {
    httpStatus: 413,
    sentence: 'The request body exceeds the server limit of 8 MiB; send less data per request.',
  },
  UNSUPPORTED_MEDIA_TYPE: {
    httpStatus: 415,
    sentence: 'The request body has a content type the API does not read; send `application/json`.',
  },
  UNAUTHORIZED: {
    httpStatus: 401,
    sentence:
      'No valid credentials: send `Authorization: Bearer <token>` with an API token (the admin token is in `<data>/admin.token`), or sign in to the dashboard again with `gantry open`.',
  },
  FORBIDDEN: {
    httpStatus: 403,
    sentence:
      "The caller is known but its roles (or its token's scopes) do not allow this here; the message says which role is needed. Ask an admin of the project for that role (docs/access.md).",
  },
  CSRF: {
    httpStatus: 403,
    sentence:
      "A dashboard request that changes something came without the session's `x-gantry-csrf` header or from another origin; reload the dashboard page and retry.",
  },
  OIDC_SIGN_IN_REFUSED: {
    httpStatus: 401,
    sentence:
      "A dashboard sign-in through the identity provider was refused (a replayed or foreign answer, an ID token for another application, expired or not signed by the provider's keys, or a disabled user); the page says which. Start the sign-in again; if it keeps failing, check the server's GANTRY_OIDC_* options against the provider (docs/access.md).",
  },
  BAD_SIGNATURE: {
    httpStatus: 401,
    sentence:
      "A webhook delivery is not signed with the project's webhook secret (or names no known project); copy the secret from `gantry project webhook` into the forge's webhook settings.",
  },
  SHUTTING_DOWN: {
    httpStatus: 503,
    sentence: 'The server is stopping and takes no new requests; retry once it (or its replacement) is up.',
  },
  INTERNAL: {
    httpStatus: 500,
    sentence: 'A bug in Gantry; the details are in the server log only. Please report it with that log entry.',
  },
  // -- configuration and pipelines
  INVALID_CONFIG: {
    httpStatus: 422,
    sentence:
      'The `gantry.yaml` does not validate; each problem is listed as `FILE:LINE:COL: message`. Fix them and push again (`gantry validate` checks locally).',
  },
  INVALID_ADVISORY: {
    httpStatus: 400,
    sentence:
      'An advisory file is not an OSV record (https://ossf.github.io/osv-schema/): the message names the file, the record id and the field; fix or remove that file and import again.',
  },
  INVALID_LOCKFILE: {
    httpStatus: 400,
    sentence:
      'A lockfile could not be read (not valid JSON, YAML or TOML, or not the format its name says): the message names the file and, where it can, the line; regenerate it with its package manager.',
  },
  INVALID_SARIF: {
    httpStatus: 400,
    sentence:
      "A scanner's output is not a SARIF 2.1.0 log: the message names the file and the field; check that the tool was asked for SARIF (e.g. `--format sarif`) and version 2.1.0.",
  },
  INVALID_SECRET_RULES: {
    httpStatus: 400,
    sentence:
      'A secret-scanning rules file (gitleaks TOML format) could not be used: the message names the file, the rule and the field or regular expression at fault; fix it and scan again.',
  },
  INVALID_EXPRESSION: {
    httpStatus: 422,
    sentence: 'A `${{ }}` expression does not parse or cannot be evaluated; the message points at the offending part.',
  },
  EXPRESSION_LIMIT: {
    httpStatus: 422,
    sentence:
      'A `${{ }}` expression went past a limit that keeps evaluation cheap: 21,000 characters, 50 levels of nesting, a result (string or JSON) of 10 MiB, or a work budget per evaluation. Simplify it, or move the computation into a step.',
  },
  ILLEGAL_TRANSITION: {
    httpStatus: 409,
    sentence:
      'A run, job or rollout was asked to move to a state its lifecycle does not allow from where it is (often a stale request); reload its state and retry.',
  },
  AMBIGUOUS_JOB: {
    httpStatus: 400,
    sentence: 'A job id names several matrix instances; name one instance by its key (the message lists them).',
  },
  // -- git and repositories
  GIT_FAILED: {
    httpStatus: 500,
    sentence: "A git command failed (unreachable remote, missing commit, corrupt repository); the message carries git's own output.",
  },
  GIT_TOO_OLD: {
    httpStatus: 422,
    sentence: 'The installed git has no reference-transaction hook; install git 2.28 or newer.',
  },
  // -- executor
  SPAWN_FAILED: {
    httpStatus: 500,
    sentence:
      'A step could not be started (empty command, NUL byte in an argument, missing perl or program); read the message, fix the step or install what it names.',
  },
  // -- secrets
  SECRET_KEY_INVALID: {
    httpStatus: 500,
    sentence:
      'The secret key file in the data directory does not hold a base64 32-byte key; restore it from a backup (secrets sealed with another key cannot be read).',
  },
  SECRET_KEY_INSECURE: {
    httpStatus: 500,
    sentence: 'The secret key file can be read by group or others, so the server refuses it; run the `chmod 600` the message gives.',
  },
  SECRET_DECRYPT_FAILED: {
    httpStatus: 500,
    sentence:
      'A stored secret cannot be decrypted with the current key (the key file changed or the value is corrupt); set the secret again.',
  },
  // -- store
  STORE_UNAVAILABLE: {
    httpStatus: 503,
    sentence:
      'The database cannot be opened, reached or migrated; the message says which and where. Check GANTRY_STORE and that the database is up.',
  },
  STORE_NOT_DURABLE: {
    httpStatus: 503,
    sentence:
      "The SQLite database's write-ahead log could not be synced to disk, so the last writes may not survive a power failure; the server refuses every store call from then on. Check the disk (space, I/O errors in the kernel log), then restart Gantry.",
  },
  // -- several servers
  NOT_ROLLOUT_DRIVER: {
    httpStatus: 503,
    sentence:
      'Several servers share this PostgreSQL and another one drives the rollouts (it holds the background-loops lease); send deploys, rollbacks and rollout actions to it: the message gives its URL.',
  },
  LEASE_FENCED: {
    httpStatus: 503,
    sentence:
      'This server held the background-loops lease, paused past its expiry while another server took it over, and may no longer write what the lease guards; it stops, and the new owner carries on.',
  },
  PROXY_FENCED: {
    httpStatus: 409,
    sentence:
      "An environment's proxy refused a command (route table, faults, acknowledgement, shutdown) carrying an older background-loops lease token than one it already obeyed: the server that sent it was taken over while paused; it stops, and the new owner's table stays.",
  },
  SUPERVISOR_FENCED: {
    httpStatus: 409,
    sentence:
      "This server's supervisor lock over the shared runtime dir was taken over by a server holding a newer background-loops lease; it starts, stops and records no instance any more, and stops itself.",
  },
  // -- runtime (service instances)
  INSTANCE_NOT_READY: {
    httpStatus: 503,
    sentence:
      "A service instance did not become ready (it failed, stopped, or timed out; the message says its state); check the service's log and the `health` check in gantry.yaml.",
  },
  INVALID_INSTANCE_TRANSITION: {
    httpStatus: 500,
    sentence: 'A bug in the supervisor: an instance was moved to a state its lifecycle forbids. Please report it with the server log.',
  },
  SUPERVISOR_LOCKED: {
    httpStatus: 409,
    sentence: 'Another live Gantry server owns this data directory; stop it, or use another `--data` directory.',
  },
  SUPERVISOR_DETACHED: {
    httpStatus: 409,
    sentence: 'A supervisor that was detached was asked to start or adopt instances (a bug of the caller); create a new supervisor.',
  },
  NO_FREE_PORT: {
    httpStatus: 503,
    sentence: 'No free TCP port was left for a service instance in the configured range; stop unused instances or widen the range.',
  },
  // -- service logs
  INVALID_LOG_QUERY: {
    httpStatus: 400,
    sentence:
      'A service-log search is malformed: `grep` is not a valid JavaScript regular expression, a `where` filter is not `field=value` or `field!=value`, or `since`/`until` is neither a duration back from now (15m, 2h, 7d) nor a date; the message says which.',
  },
  // -- SLOs
  ERROR_BUDGET_EXHAUSTED: {
    httpStatus: 409,
    sentence:
      'An SLO of the environment has spent its error budget and the environment\'s error-budget-policy is block: fix reliability first (`gantry slo status`), roll back, or deploy anyway with `--override --reason "…"` (recorded).',
  },
  DEPLOY_WINDOW_CLOSED: {
    httpStatus: 409,
    sentence:
      'The environment is protected by deploy windows and now is outside them (or inside a deny window): deploy when a window opens, or override with `gantry deploy … --override-window "reason"` (needs `deploy.override`; recorded with who and why).',
  },
  APPROVAL_REQUIRED: {
    httpStatus: 409,
    sentence:
      'The environment requires approvals the release does not have yet: the deploy now waits (`gantry approvals PROJECT`); someone allowed `deploy.approve`, from the required group and not an author of the change, runs `gantry approve PROJECT RELEASE --env ENV`, then deploy again.',
  },
  APPROVAL_REFUSED: {
    httpStatus: 403,
    sentence:
      'This approval cannot count: the approver made the release or asked to deploy it (four eyes), or is not in the group whose members approve that environment; ask another person.',
  },
  PLATFORM_UNKNOWN_PROJECT: {
    httpStatus: 409,
    sentence:
      'The platform folder declares a project the server does not know; projects need their repository, so register it first with `gantry project add PATH --name NAME`, then apply again (nothing was applied).',
  },
  PLATFORM_PLAN_STALE: {
    httpStatus: 409,
    sentence:
      "The saved plan given to `gantry platform apply --plan FILE` no longer matches: the platform folder or the server changed since it was made (another apply, a change by hand, a channel's secret set anew); nothing was applied. Make a new plan (`gantry platform plan DIR --out FILE`), review it, and apply that.",
  },
  PLATFORM_PLAN_INVALID: {
    httpStatus: 400,
    sentence:
      'The file given to `gantry platform apply --plan` is not a plan written by `gantry platform plan --out` (unreadable, or from another tool); make one with `gantry platform plan DIR --out FILE`.',
    from: 'cli',
  },
  PLATFORM_SECRET_MISSING: {
    httpStatus: 409,
    sentence:
      'A notification channel of the platform folder reads a secret the project has no value for (its URL or signing key); set it with `gantry secret set PROJECT NAME`, then apply again (nothing was applied).',
  },
  PLATFORM_CHANNEL_URL_INVALID: {
    httpStatus: 400,
    sentence:
      "The secret a channel's `url:` names does not hold an http or https URL (the channel would never deliver); set the secret to the incoming-webhook URL with `gantry secret set PROJECT NAME` and apply again (nothing was applied).",
  },
  PLATFORM_CHANNEL_NAME_TAKEN: {
    httpStatus: 409,
    sentence:
      'A channel of the platform folder has the name of a channel the server has for another project or for every project (channel names are one namespace); rename one of them, then apply again (nothing was applied).',
  },
  SECURITY_GATE_BLOCKED: {
    httpStatus: 409,
    sentence:
      'The release has new findings (relative to the default branch, not suppressed) at a level the security policy blocks for that environment: see them with `gantry findings PROJECT --release N --new`, fix or suppress them (`gantry findings suppress FINGERPRINT --reason "…" --expires 30d`), or deploy anyway with `gantry deploy … --override-security "reason"` (recorded with who and why).',
  },
  // -- DORA
  DORA_INVALID_WINDOW: {
    httpStatus: 400,
    sentence:
      'The DORA window (`--since`, `?since=`) is neither a duration back from now (7d, 30d, 90d, 12h, 2w) nor a past date (2026-11-01); give one of those, at most 10 years back.',
  },
  // -- search
  SEARCH_QUERY_INVALID: {
    httpStatus: 400,
    sentence:
      'The search query does not parse: an unknown filter, a filter without a value, an unclosed quote, a commit that is not hex, or a time that is neither a duration (7d) nor a date; the message gives the column. The language is in docs/search.md.',
  },
  // -- proxy
  PROXY_ALREADY_RUNNING: {
    httpStatus: 409,
    sentence:
      "Another proxy process already answers on this environment's control socket; the existing one is adopted, so start no second one.",
  },
  PROXY_CONTROL_UNAVAILABLE: {
    httpStatus: 503,
    sentence:
      "The environment's proxy did not answer on its control socket in time (it keeps routing by its last table); the server retries, check the proxy log if it persists.",
  },
  PROXY_START_FAILED: {
    httpStatus: 500,
    sentence: "The environment's proxy process exited before it was ready (often its port is taken); the message carries its reason.",
  },
  PROXY_NO_UPSTREAM: {
    httpStatus: 503,
    from: 'proxy',
    sentence:
      'The proxy has no ready instance to send the request to (nothing deployed yet, or every instance is down); deploy a release, or check the instances with `gantry env list <project>`.',
  },
  PROXY_UPSTREAM_FAILED: {
    httpStatus: 502,
    from: 'proxy',
    sentence: "Every instance the proxy tried failed before answering; check the service's logs.",
  },
  PROXY_BAD_REQUEST: {
    httpStatus: 400,
    from: 'proxy',
    sentence:
      'The proxy refused a request whose framing, target or Host another server could read differently (request smuggling); the message names the rule, and ARCHITECTURE.md lists them. Fix the client.',
  },
  PROXY_HEAD_TOO_LARGE: {
    httpStatus: 431,
    from: 'proxy',
    sentence:
      "The request head is over 16 KiB (Node's default limit), as sent or once the proxy's X-Forwarded-* headers are added; send fewer or smaller headers (often cookies).",
  },
  PROXY_TRANSFER_CODING_UNSUPPORTED: {
    httpStatus: 501,
    from: 'proxy',
    sentence: 'The request uses a transfer coding other than chunked, gzip, deflate or compress; send the body with a registered coding.',
  },
  PROXY_METHOD_NOT_ALLOWED: {
    httpStatus: 405,
    from: 'proxy',
    sentence: 'The proxy does not tunnel CONNECT requests; it forwards HTTP requests and Upgrade handshakes only.',
  },
  CHAOS_FAULT: {
    httpStatus: 503,
    from: 'proxy',
    sentence:
      'A chaos experiment running in this environment answered the request with an injected error (an abort with the configured status, or 504 after an injected timeout); see `gantry experiment show`, or `gantry experiment abort` to stop it.',
  },
  CHAOS_DISK_FULL_UNSAFE: {
    httpStatus: 409,
    sentence:
      "A disk-full fault was refused: it only fills an instance's /tmp held in memory at a size the service chose (`service.tmp-size`, in bubblewrap's sandbox), never a real disk; set tmp-size, run with the sandbox, deploy again.",
  },
  CHAOS_FAULT_NOT_ON_KUBERNETES: {
    httpStatus: 409,
    sentence:
      "An instance fault other than kill (pause, restart, cpu, memory, disk-full) was refused on a Kubernetes environment: it acts on a process of Gantry's host, and the instances there are pods; use kill (the pods deleted), or run the experiment on an environment of the embedded runtime.",
  },
  CHAOS_FAULT_NOT_ON_GATEWAY: {
    httpStatus: 409,
    sentence:
      'An experiment was refused on a Kubernetes environment whose traffic a Gateway API HTTPRoute splits (`traffic: gateway`): no Gantry proxy is in its path, so no fault can be injected into its requests and no hypothesis measured from them; run it on an environment with `traffic: proxy` (the default).',
  },
  CHAOS_FAULT_FAILED: {
    httpStatus: 500,
    sentence:
      'An instance fault could not be put in place (its pressure process failed to start); the experiment aborts with the reason and nothing of it is left. Check that perl is installed, and the server log.',
  },
  // -- CLI only
  NO_SERVER: {
    httpStatus: 503,
    from: 'cli',
    sentence: 'The CLI found no Gantry server to talk to; start one with `gantry up`, or set GANTRY_URL and GANTRY_TOKEN.',
  },
  SERVER_UNREACHABLE: {
    httpStatus: 503,
    from: 'cli',
    sentence: 'The CLI could not connect to the server it was pointed at; check that `gantry up` is running and GANTRY_URL is right.',
  },
  HTTP_ERROR: {
    httpStatus: 502,
    from: 'cli',
    sentence:
      'The server answered with an error the CLI does not know (an older or newer server, or something else on that address); the message carries the HTTP status.',
  },
  NO_EXAMPLE: {
    httpStatus: 404,
    from: 'cli',
    sentence: 'No example project is registered on this server; start it with `gantry up --example` (what `npm start` does).',
  },
  EXAMPLE_MISSING: {
    httpStatus: 500,
    from: 'cli',
    sentence: 'The example service is missing from the installation; use a complete Gantry checkout or package.',
  },
  EXAMPLE_FAILED: {
    httpStatus: 500,
    from: 'cli',
    sentence: "The example project's pipeline or deploy did not succeed; the message says which step and which command shows more.",
  },
  EXAMPLE_TIMEOUT: {
    httpStatus: 504,
    from: 'cli',
    sentence: 'The example project took too long to reach the next step; see `gantry runs list` and the server log.',
  },
  // -- traces (OTLP/HTTP)
  AGENT_TOKEN_REQUIRED: {
    httpStatus: 403,
    sentence:
      'Only an agent token may call the agent protocol (`/api/agents/poll`, `renew`, `log`, `blobs`, `finish`); register an agent with `gantry agents add NAME` and start `gantry agent` with its token.',
  },
  LEASE_LOST: {
    httpStatus: 409,
    sentence:
      'The agent no longer holds the job it reported about (its lease expired, the job was cancelled, or another agent now runs it under a newer fencing token); the agent stops the job and drops the report.',
  },
  HASH_MISMATCH: {
    httpStatus: 422,
    sentence:
      'A file moved between the server and an agent does not hash to the sha256 it was sent under (damaged in transit or on disk); it is refused and fetched or sent again.',
  },
  PROXY_UNPLACED: {
    httpStatus: 503,
    sentence:
      "The environment's proxy runs on no live agent right now (no agent carries its placement's labels, or the one running it was lost and it is moving to another); calls to it fail until a matching agent runs it (`gantry agents list`).",
  },
  OTLP_MALFORMED: {
    httpStatus: 400,
    sentence:
      'The OTLP trace request does not decode (protobuf or OTLP/JSON: ids as hex, at most 20,000 spans a request); the message names what was wrong. OTLP exporters do not retry it.',
  },
  OTLP_UNSUPPORTED: {
    httpStatus: 415,
    sentence:
      "Gantry takes OTLP/HTTP traces as `application/x-protobuf` or `application/json`, uncompressed (`OTEL_EXPORTER_OTLP_COMPRESSION=none`, which the runtime sets); set the exporter's protocol to `http/protobuf` or `http/json`.",
  },
  OTLP_TOKEN_INVALID: {
    httpStatus: 401,
    sentence:
      'The trace request carries no ingest token, or one this server did not issue; the runtime sets `OTEL_EXPORTER_OTLP_HEADERS` for instances, and `GET /api/projects/:project/environments/:env/otlp` answers it for services run elsewhere.',
  },
  // -- Kubernetes target
  KUBERNETES_CONFIG: {
    httpStatus: 400,
    sentence:
      "The environment's kubeconfig cannot be read, or names no such context or no cluster; check `target.kubernetes.kubeconfig` and `context` in gantry.yaml (`kubectl config get-contexts` lists them).",
  },
  KUBERNETES_API_ERROR: {
    httpStatus: 502,
    sentence:
      'The Kubernetes API refused a request or could not be reached; the message carries its answer (RBAC, a missing namespace, a webhook).',
  },
  KUBERNETES_NOT_READY: {
    httpStatus: 504,
    sentence:
      "A release's pods did not become ready in time; see `kubectl describe pods -l gantry.dev/release=N` (image pulls, probes, quotas).",
  },
  KUBERNETES_MANIFEST_INVALID: {
    httpStatus: 422,
    sentence:
      'The manifests Gantry rendered from gantry.yaml fail the Kubernetes schema of a supported version (1.29–1.33); the message names the object and field. A value of gantry.yaml the cluster would refuse, or a bug: report it.',
  },
} as const satisfies Record<string, ErrorCodeInfo>;

/** A code of the catalogue. */
export type ErrorCode = keyof typeof ERROR_CODES;

/** True when `code` is in the catalogue (for codes read from outside, e.g. a server's answer). */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERROR_CODES, code);
}

/** The HTTP status of a code. */
export function httpStatusOf(code: ErrorCode): number {
  return ERROR_CODES[code].httpStatus;
}

/** docs/errors.md: the catalogue as a Markdown table (written by `npm run docs:errors`, checked by a test). */
export function renderErrorDocs(): string {
  const rows = Object.entries(ERROR_CODES).map(
    ([code, info]: [string, ErrorCodeInfo]) =>
      `| \`${code}\` | ${info.httpStatus} | ${info.from ?? 'server'} | ${info.sentence.replaceAll('|', '\\|')} |`,
  );
  return [
    '# Error codes',
    '',
    '<!-- Generated from src/core/error-codes.ts by `npm run docs:errors`; do not edit by hand. -->',
    '',
    'Every error Gantry reports carries one of these stable codes. The API answers with the HTTP',
    'status below and a body `{ "error": { "code": "…", "message": "…" } }`; the CLI prints the',
    'message. Codes from `cli` are raised by the `gantry` command itself and never sent by the server',
    '(their status is the closest in meaning); codes from `proxy` are answered to traffic by an',
    'environment’s proxy, with the code also in the `x-gantry-proxy-error` header.',
    '',
    '| code | HTTP | from | what it means and what to do |',
    '|---|---|---|---|',
    ...rows,
    '',
  ].join('\n');
}
