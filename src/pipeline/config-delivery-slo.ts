/**
 * The analysis `slo` check across sections: it names an SLO of the `slos` section, which is
 * parsed apart from `environments`. `checkSloChecks` reports a name that is not there (with a
 * did-you-mean), an SLO whose SLI the proxy cannot split by pool, and an SLO that does not apply
 * to the environment; `withSloObjectives` copies the SLO's objective and SLI into the analysis
 * once the whole file is valid, so the rollout never looks an SLO up.
 */
import { didYouMean } from '../core/did-you-mean.ts';
import type { EnvironmentConfig, StrategyConfig } from '../core/delivery-config.ts';
import type { SloConfig } from '../core/slo-config.ts';

type Path = readonly (string | number)[];

/** What the check needs from load-config's diagnostics collector (as config-delivery-checks.ts). */
export interface SloCheckSink {
  rawAt(path: Path): unknown;
  valueOffset(path: Path): number;
  report(offset: number, message: string): void;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Strategies whose analysis may hold an `slo` check. */
const ANALYSED_STRATEGIES = ['canary', 'blue-green'] as const;

/** Reports every analysis `slo` check that does not name a usable SLO of this file. */
export function checkSloChecks(sink: SloCheckSink): void {
  const environments = sink.rawAt(['environments']);
  if (!isObject(environments)) return;
  const slos = sink.rawAt(['slos']);
  const declared = isObject(slos) ? Object.keys(slos).filter((name) => name !== 'environments') : [];
  for (const environment of Object.keys(environments)) {
    for (const strategy of ANALYSED_STRATEGIES) {
      const path = ['environments', environment, 'strategy', strategy, 'analysis', 'slo', 'name'];
      const name = sink.rawAt(path);
      if (typeof name !== 'string') continue;
      const at = sink.valueOffset(path);
      const slo = isObject(slos) ? slos[name] : undefined;
      if (!declared.includes(name) || !isObject(slo)) {
        const known = declared.length === 0 ? "there is no 'slos' section" : `declared: ${declared.join(', ')}`;
        const hint = didYouMean(name, declared);
        sink.report(at, `SLO '${name}' is not declared in 'slos'${hint === '' ? ` (${known})` : hint}`);
        continue;
      }
      if (slo.prometheus !== undefined) {
        sink.report(
          at,
          `SLO '${name}' counts its events with PromQL, which cannot tell the canary from the stable pool: use an availability or latency SLO`,
        );
        continue;
      }
      const applies = Array.isArray(slo.environments) ? slo.environments : isObject(slos) ? slos.environments : undefined;
      if (Array.isArray(applies) && !applies.includes(environment)) {
        sink.report(at, `SLO '${name}' does not apply to environment '${environment}' (its environments: ${applies.join(', ')})`);
      }
    }
  }
}

/** The environments with each analysis `slo` check given its SLO's objective and SLI (checks naming no usable SLO are left as they are). */
export function withSloObjectives(
  environments: Record<string, EnvironmentConfig>,
  slos: readonly SloConfig[],
): Record<string, EnvironmentConfig> {
  const byName = new Map(slos.map((slo) => [slo.name, slo]));
  const resolve = (strategy: StrategyConfig): StrategyConfig => {
    if (strategy.kind !== 'canary' && strategy.kind !== 'blue-green') return strategy;
    const check = strategy.analysis?.slo;
    const slo = check === undefined ? undefined : byName.get(check.name);
    if (strategy.analysis === undefined || check === undefined || slo === undefined || slo.sli.kind === 'prometheus') return strategy;
    return { ...strategy, analysis: { ...strategy.analysis, slo: { ...check, objective: slo.objective, sli: slo.sli } } };
  };
  return Object.fromEntries(
    Object.entries(environments).map(([name, environment]) => [name, { ...environment, strategy: resolve(environment.strategy) }]),
  );
}
