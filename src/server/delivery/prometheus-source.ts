/**
 * The I/O half of Prometheus canary checks: runs each check's PromQL as an instant query over
 * Prometheus's HTTP API and hands back plain numbers by check name for the pure analysis
 * (src/delivery/analysis.ts). A metrics backend that is down, slow or confused must never stop a
 * rollout's decision loop, so nothing here throws at evaluation time: a check that cannot be
 * answered is `null` (inconclusive) with a one-line problem saying why.
 */
import { z } from 'zod';
import type { PrometheusCheckConfig } from '../../core/delivery-config.ts';
import { InputError } from '../../core/errors.ts';

const DEFAULT_TIMEOUT_MS = 2_000;
/** Label sets quoted in a "too many series" problem; more would drown the message. */
const MAX_SERIES_SHOWN = 3;

export interface PrometheusSourceOptions {
  /** e.g. http://127.0.0.1:9090 or https://user:pass@metrics.example/prometheus */
  baseUrl: string;
  /** Per query, covering connect, Prometheus's evaluation and the body; default 2000. */
  timeoutMs?: number;
  fetch?: typeof fetch;
}

/** The variables a check's query may use as `$version` and `$environment`. */
export interface PromQLVars {
  version: string;
  environment: string;
}

export interface PrometheusEvaluation {
  /** Every check by name: its number, or null when Prometheus had no data or could not be asked. */
  values: Record<string, number | null>;
  /** One line per check that could not be answered, naming the check and the cause. */
  problems: string[];
}

const PLACEHOLDER = /\$(version|environment)\b/y;

/**
 * Turns a value into the contents of a PromQL string literal. Quotes and backticks become hex
 * escapes rather than `\"`, because PromQL rejects `\'` inside "…" and `\"` inside '…': `\x22`
 * is valid in both, so the query author may use either quote.
 */
export function escapePromQLString(value: string): string {
  return value.replace(/[\\"'`\x00-\x1f\x7f]/g, (c) => (c === '\\' ? '\\\\' : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`));
}

/**
 * Substitutes `$version` / `$environment` in one pass (a value that itself contains
 * `$environment` is not expanded again). Each placeholder must sit inside a "…" or '…' literal:
 * there escaping makes any value inert, while a bare or raw-string (`…`) placeholder would let
 * a version name rewrite the query. Placeholders in `#` comments are left alone.
 * Throws InputError naming the offending position otherwise.
 */
export function renderPromQL(query: string, vars: PromQLVars): string {
  let out = '';
  let quote: '"' | "'" | '`' | null = null;
  let i = 0;
  while (i < query.length) {
    const c = query[i] as string;
    if (c === '$') {
      PLACEHOLDER.lastIndex = i;
      const m = PLACEHOLDER.exec(query);
      if (m !== null) {
        if (quote !== '"' && quote !== "'") {
          throw new InputError(`$${m[1]} at offset ${i} must be inside a "…" or '…' string literal`);
        }
        out += escapePromQLString(m[1] === 'version' ? vars.version : vars.environment);
        i += m[0].length;
        continue;
      }
    }
    if (quote === null && c === '#') {
      const end = query.indexOf('\n', i);
      const stop = end === -1 ? query.length : end;
      out += query.slice(i, stop);
      i = stop;
      continue;
    }
    out += c;
    i++;
    if (quote === null) {
      if (c === '"' || c === "'" || c === '`') quote = c;
    } else if (c === '\\' && quote !== '`' && i < query.length) {
      out += query[i];
      i++;
    } else if (c === quote) {
      quote = null;
    }
  }
  return out;
}

const sampleValue = z.tuple([z.number(), z.string()]);

/** The parts of Prometheus's /api/v1/query answer this module reads. */
const queryResponse = z.discriminatedUnion('status', [
  z.object({
    status: z.literal('success'),
    data: z.discriminatedUnion('resultType', [
      z.object({ resultType: z.literal('scalar'), result: sampleValue }),
      z.object({
        resultType: z.literal('vector'),
        result: z.array(
          z.object({
            metric: z.record(z.string(), z.string()),
            value: sampleValue.optional(),
            histogram: z.unknown().optional(),
          }),
        ),
      }),
      z.object({ resultType: z.literal('matrix'), result: z.array(z.unknown()) }),
      z.object({ resultType: z.literal('string'), result: z.unknown() }),
    ]),
  }),
  z.object({ status: z.literal('error'), errorType: z.string().optional(), error: z.string().optional() }),
]);
type QueryResponse = z.infer<typeof queryResponse>;

/** Socket errors in words; their Node messages repeat the address the problem line already names. */
const SOCKET_ERRORS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ETIMEDOUT: 'connect timed out',
};

/** One query's answer: its number, or null (with a problem line unless there was simply no data). */
export type PrometheusAnswer = { value: number } | { value: null; problem?: string };
type Answer = PrometheusAnswer;

function formatLabels(metric: Record<string, string>): string {
  return `{${Object.entries(metric)
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join(', ')}}`;
}

function toNumber(raw: string): Answer {
  const value = Number(raw);
  if (!Number.isFinite(value)) return { value: null, problem: `returned ${raw}, not a finite number` };
  return { value };
}

/** What one successful answer means as a check value. */
function interpret(data: Extract<QueryResponse, { status: 'success' }>['data']): Answer {
  switch (data.resultType) {
    case 'scalar':
      return toNumber(data.result[1]);
    case 'vector': {
      const [first, ...rest] = data.result;
      if (first === undefined) return { value: null };
      if (rest.length > 0) {
        const shown = data.result
          .slice(0, MAX_SERIES_SHOWN)
          .map((s) => formatLabels(s.metric))
          .join(', ');
        const more = data.result.length > MAX_SERIES_SHOWN ? ', …' : '';
        return {
          value: null,
          problem: `returned ${data.result.length} series (${shown}${more}); it must return one, e.g. aggregate with sum()`,
        };
      }
      if (first.value === undefined) return { value: null, problem: 'returned a native histogram sample, not a number' };
      return toNumber(first.value[1]);
    }
    case 'matrix':
      return { value: null, problem: 'returned a range vector; it must return an instant vector or a scalar' };
    case 'string':
      return { value: null, problem: 'returned a string, not a number' };
  }
}

/**
 * Asks a Prometheus server for canary-check values. One instance per configured server; it holds
 * no state between calls, so concurrent `evaluate` calls are safe.
 */
export class PrometheusSource {
  readonly #queryUrl: URL;
  readonly #authorization: string | undefined;
  readonly #timeoutMs: number;
  readonly #fetch: typeof fetch;

  /** Throws InputError for a base URL that is not http(s) or a timeout that is not positive. */
  constructor(o: PrometheusSourceOptions) {
    let base: URL;
    try {
      base = new URL(o.baseUrl);
    } catch {
      throw new InputError(`Prometheus URL ${JSON.stringify(o.baseUrl)} is not a URL`);
    }
    if (base.protocol !== 'http:' && base.protocol !== 'https:') {
      throw new InputError(`Prometheus URL ${JSON.stringify(base.origin)} must be http or https`);
    }
    const timeoutMs = o.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (!(timeoutMs > 0)) throw new InputError(`Prometheus timeout must be positive, got ${timeoutMs}`);
    // fetch refuses URLs with credentials; they travel as a Basic header instead, and the URL
    // kept (and shown in problems) carries none.
    if (base.username !== '' || base.password !== '') {
      const user = decodeURIComponent(base.username);
      const pass = decodeURIComponent(base.password);
      this.#authorization = `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
      base.username = '';
      base.password = '';
    }
    // A path prefix (Prometheus behind a proxy at /prometheus) survives only with a trailing slash.
    if (!base.pathname.endsWith('/')) base.pathname += '/';
    base.search = '';
    base.hash = '';
    this.#queryUrl = new URL('api/v1/query', base);
    this.#timeoutMs = timeoutMs;
    this.#fetch = o.fetch ?? fetch;
  }

  /**
   * Runs each check's query as an instant query at `at` (default: Prometheus's now), all
   * concurrently, with `$version` / `$environment` substituted as escaped string contents.
   * A scalar or a one-sample vector gives its value; an empty vector gives null (no data is
   * inconclusive, not a failure). Several series, NaN/±Inf, a bad query, an HTTP or network
   * error or a timeout give null and a problem line. Never rejects.
   */
  async evaluate(checks: PrometheusCheckConfig[], vars: PromQLVars, at?: Date): Promise<PrometheusEvaluation> {
    const answers = await Promise.all(checks.map((check) => this.#ask(check.query, vars, at)));
    const values: Record<string, number | null> = {};
    const problems: string[] = [];
    checks.forEach((check, i) => {
      const answer = answers[i] ?? { value: null, problem: 'no answer' };
      values[check.name] = answer.value;
      if (answer.value === null && answer.problem !== undefined) {
        problems.push(`prometheus check ${JSON.stringify(check.name)}: ${answer.problem}`);
      }
    });
    return { values, problems };
  }

  /**
   * Runs one PromQL query as it is (no placeholders) as an instant query at `at` (default:
   * Prometheus's now): a number, null with no problem for no data, or null with a problem line
   * (several series, not a number, an error, no answer). Never rejects. The SLO evaluation's
   * Prometheus SLIs come through here.
   */
  query(promql: string, at?: Date): Promise<Answer> {
    return this.#instant(promql, at);
  }

  async #ask(template: string, vars: PromQLVars, at: Date | undefined): Promise<Answer> {
    let query: string;
    try {
      query = renderPromQL(template, vars);
    } catch (e) {
      return { value: null, problem: e instanceof Error ? e.message : String(e) };
    }
    return this.#instant(query, at);
  }

  async #instant(query: string, at: Date | undefined): Promise<Answer> {
    const url = new URL(this.#queryUrl);
    url.searchParams.set('query', query);
    if (at !== undefined) url.searchParams.set('time', String(at.getTime() / 1000));
    // Prometheus stops evaluating when we stop waiting, instead of finishing work nobody reads.
    url.searchParams.set('timeout', `${this.#timeoutMs}ms`);

    let status: number;
    let statusText: string;
    let body: string;
    try {
      const headers: Record<string, string> = { accept: 'application/json' };
      if (this.#authorization !== undefined) headers.authorization = this.#authorization;
      const response = await this.#fetch(url, { headers, signal: AbortSignal.timeout(this.#timeoutMs) });
      status = response.status;
      statusText = response.statusText;
      body = await response.text();
    } catch (e) {
      return { value: null, problem: this.#describeFailure(e) };
    }

    const httpProblem = `${this.#queryUrl.origin} answered HTTP ${status}${statusText === '' ? '' : ` ${statusText}`}`;
    let json: unknown;
    try {
      json = JSON.parse(body);
    } catch {
      return { value: null, problem: status >= 400 ? httpProblem : `${this.#queryUrl.origin} answered with something other than JSON` };
    }
    const parsed = queryResponse.safeParse(json);
    if (!parsed.success) {
      return {
        value: null,
        problem: status >= 400 ? httpProblem : `${this.#queryUrl.origin} answered JSON that is not a Prometheus query result`,
      };
    }
    if (parsed.data.status === 'error') {
      return { value: null, problem: `Prometheus error (${parsed.data.errorType ?? 'unknown'}): ${parsed.data.error ?? 'no message'}` };
    }
    if (status >= 400) return { value: null, problem: httpProblem };
    return interpret(parsed.data.data);
  }

  #describeFailure(e: unknown): string {
    const origin = this.#queryUrl.origin;
    if (e instanceof Error && (e.name === 'TimeoutError' || e.name === 'AbortError')) {
      return `no answer from ${origin} within ${this.#timeoutMs} ms`;
    }
    // undici reports network failures as TypeError('fetch failed') with the socket error as cause.
    const cause = e instanceof Error && e.cause instanceof Error ? e.cause : e;
    const code = typeof cause === 'object' && cause !== null && 'code' in cause ? String(cause.code) : '';
    const known = SOCKET_ERRORS[code];
    if (known !== undefined) return `cannot reach ${origin}: ${known} (${code})`;
    return `cannot reach ${origin}: ${cause instanceof Error ? cause.message : String(cause)}`;
  }
}
