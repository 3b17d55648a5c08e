/**
 * Names places in `service` and `environments` for diagnostics ("in canary step 2 of environment
 * 'production'") and says which kind of map sits at a path, so load-config.ts can suggest the
 * right keys. Paths are value paths as zod reports them: ['environments', 'production', 'strategy', …].
 */
import { latencyQuantile, type DeliveryMapKind } from './config-delivery-schema.ts';

type Path = readonly (string | number)[];

const STRATEGY_KINDS: readonly string[] = ['recreate', 'rolling', 'blue-green', 'canary'];

/** Lists whose items are named in messages ("canary step 2"), by the key holding the list. */
const ITEM_NAMES: Readonly<Record<string, { kind: DeliveryMapKind; name: string }>> = {
  steps: { kind: 'canary-step', name: 'canary step' },
  match: { kind: 'match', name: 'match rule' },
  prometheus: { kind: 'prometheus', name: 'prometheus check' },
};

/** True for paths inside the delivery sections, whose places this module names. */
export function isDeliveryPath(path: Path): boolean {
  return path[0] === 'service' || path[0] === 'environments';
}

interface Place {
  kind: DeliveryMapKind | undefined;
  /** "in the analysis of environment 'production'" */
  context: string;
}

/** The kind of map at a path inside an environment (`rest` is the path below the environment). */
function environmentPlace(environment: string, rest: Path): Place {
  const of = `of environment '${environment}'`;
  if (rest.length === 0) return { kind: 'environment', context: `in environment '${environment}'` };
  const [first, second, third, fourth, fifth] = rest;
  if (first === 'target') {
    if (rest.length === 1) return { kind: 'target', context: `in the target ${of}` };
    if (second === 'kubernetes' && rest.length === 2) return { kind: 'kubernetes', context: `in the kubernetes target ${of}` };
    if (second === 'kubernetes' && third === 'gateway' && rest.length === 3) return { kind: 'gateway', context: `in the gateway ${of}` };
  }
  if (first === 'placement' && rest.length === 1) return { kind: 'placement', context: `in the placement ${of}` };
  if (first === 'auto' && rest.length === 1) return { kind: 'auto', context: `in 'auto' ${of}` };
  if (first === 'strategy') {
    if (rest.length === 1) return { kind: 'strategy', context: `in the strategy ${of}` };
    if (typeof second === 'string' && STRATEGY_KINDS.includes(second)) {
      if (rest.length === 2) return { kind: second as DeliveryMapKind, context: `in the ${second} strategy ${of}` };
      const item = typeof third === 'string' ? ITEM_NAMES[third] : undefined;
      if (second === 'canary' && item !== undefined && item.kind !== 'prometheus' && typeof fourth === 'number' && rest.length === 4) {
        return { kind: item.kind, context: `in ${item.name} ${fourth + 1} ${of}` };
      }
      if (third === 'analysis') {
        if (rest.length === 3) return { kind: 'analysis', context: `in the analysis ${of}` };
        if (fourth === 'error-rate' && rest.length === 4) return { kind: 'error-rate', context: `in the error-rate check ${of}` };
        if (fourth === 'slo' && rest.length === 4) return { kind: 'slo-check', context: `in the slo check ${of}` };
        if (typeof fourth === 'string' && latencyQuantile(fourth) !== undefined && rest.length === 4) {
          return { kind: 'latency', context: `in the ${fourth} check ${of}` };
        }
        if (fourth === 'prometheus' && typeof fifth === 'number' && rest.length === 5) {
          return { kind: 'prometheus', context: `in prometheus check ${fifth + 1} ${of}` };
        }
      }
    }
  }
  return { kind: undefined, context: `in '${rest.join('.')}' ${of}` };
}

function place(path: Path): Place | undefined {
  if (path[0] === 'service') {
    const dotted = path.join('.');
    const kinds: Readonly<Record<string, DeliveryMapKind>> = {
      service: 'service',
      'service.health': 'health',
      'service.health.readiness': 'health-check',
      'service.health.liveness': 'health-check',
      'service.stop': 'stop',
    };
    return { kind: kinds[dotted], context: `in '${dotted}'` };
  }
  if (path[0] !== 'environments') return undefined;
  if (path.length === 1) return { kind: undefined, context: "in 'environments'" };
  return environmentPlace(String(path[1]), path.slice(2));
}

/** Which kind of map with fixed keys sits at a delivery path, if any. */
export function deliveryMapKind(path: Path): DeliveryMapKind | undefined {
  return place(path)?.kind;
}

/** Where a map sits, as a phrase ("in environment 'production'"); undefined outside the delivery sections. */
export function deliveryContextLabel(path: Path): string | undefined {
  return place(path)?.context;
}

/**
 * The name of an environment or of a numbered item ("environment 'staging'", "canary step 2 of
 * environment 'production'"); undefined for other paths, which are named by their key.
 */
export function deliveryItemName(path: Path): string | undefined {
  if (path[0] !== 'environments') return undefined;
  if (path.length === 2) return `environment '${String(path[1])}'`;
  const last = path.at(-1);
  const parent = path.slice(0, -1);
  const list = parent.at(-1);
  if (typeof last !== 'number' || typeof list !== 'string') return undefined;
  const label = place(path);
  if (label?.kind === undefined || ITEM_NAMES[list]?.kind !== label.kind) return undefined;
  return label.context.replace(/^in /, '');
}
