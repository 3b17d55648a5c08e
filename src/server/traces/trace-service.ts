/**
 * The traces of every environment, in memory: one bounded sample (src/traces TraceSample) and
 * one latency-by-route table per environment that has sent any. Memory is bounded per
 * environment by the sample's options; traces are a debugging aid, so a restart starting empty
 * is accepted (the roll-ups, not the traces, are the record).
 */
import { RouteLatency, type Span, TraceSample, type TraceSampleOptions } from '../../traces/index.ts';
import type { IngestScope } from './ingest-tokens.ts';

interface EnvironmentTraces {
  sample: TraceSample;
  routes: RouteLatency;
  spans: number;
}

export class TraceService {
  readonly #environments = new Map<string, EnvironmentTraces>();
  readonly #options: Partial<TraceSampleOptions>;

  constructor(options: Partial<TraceSampleOptions> = {}) {
    this.#options = options;
  }

  ingest(scope: IngestScope, spans: readonly Span[]): void {
    const env = this.#of(scope, true) as EnvironmentTraces;
    env.spans += spans.length;
    env.routes.add(spans);
    env.sample.add(spans);
  }

  /** The environment's traces, or undefined when it never sent any. */
  environment(scope: IngestScope): { sample: TraceSample; routes: RouteLatency; spans: number } | undefined {
    return this.#of(scope, false);
  }

  #of(scope: IngestScope, create: boolean): EnvironmentTraces | undefined {
    const key = `${scope.projectId}\n${scope.environment}`;
    let env = this.#environments.get(key);
    if (!env && create)
      this.#environments.set(key, (env = { sample: new TraceSample(this.#options), routes: new RouteLatency(), spans: 0 }));
    return env;
  }
}
