/**
 * Offline validation of rendered manifests against the Kubernetes API's schemas, so that
 * `gantry k8s render` output and every apply are known good before a cluster sees them.
 *
 * The schemas: `kubernetes-models` 4.5.1, generated from the official OpenAPI document of
 * Kubernetes v1.33.0 (types, required fields, enums, formats), and `@kubernetes-models/gateway-api`
 * for HTTPRoute (the Gateway API's own CRD schema). No npm package carries the official schemas of
 * each minor version (docs/decisions/0038), so the versions 1.29–1.33 are covered by the newest's
 * schema plus a table of the fields that appeared inside the range (Kubernetes never removes a
 * field from a GA API version: a field valid in 1.33 and not newer than the target version is
 * valid there).
 *
 * Those validators ignore fields they do not know, which is how a misspelled `replica:` would
 * reach a cluster (kubectl and server-side apply with strict field validation refuse it). So each
 * object is validated through a proxy that records which properties the schema's validator reads:
 * a generated validator reads every property its schema defines, and enumerates the keys only of
 * maps; an own key it never read is a field the schema does not have.
 */
import { HTTPRoute } from '@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/HTTPRoute';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { InputError } from '../core/errors.ts';
import type { KubernetesObject } from './manifests.ts';

/** The Kubernetes minor versions Gantry renders for; the schema is that of the last. */
export const KUBERNETES_VERSIONS = ['1.29', '1.30', '1.31', '1.32', '1.33'] as const;
export type KubernetesVersion = (typeof KUBERNETES_VERSIONS)[number];
export const SCHEMA_VERSION = 'v1.33.0';

/** Each kind Gantry renders, by `apiVersion/kind`, with the model whose prototype validates it. */
const MODELS: Readonly<Record<string, { prototype: { validate(): void } }>> = {
  'apps/v1/Deployment': Deployment,
  'v1/Service': Service,
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'gateway.networking.k8s.io/v1/HTTPRoute': HTTPRoute,
};

/**
 * Fields of the rendered kinds added after 1.29, with the first minor version whose API has them
 * (Kubernetes changelogs). Gantry renders none of them today; the table keeps it that way.
 */
const FIELDS_SINCE: readonly { kind: string; path: string; since: KubernetesVersion }[] = [
  { kind: 'v1/Service', path: '/spec/trafficDistribution', since: '1.30' },
];

/** One reason an object would be refused, with the JSON pointer of the field. */
export interface ManifestProblem {
  /** `Deployment/shop-production-r3` */
  object: string;
  path: string;
  message: string;
}

interface Reads {
  keys: Set<string>;
  /** The validator enumerated the keys: a map, whose keys are data, not fields. */
  enumerated: boolean;
}

/** `value` behind proxies that record, per object, which keys were read (`reads`, keyed by the original). */
function recording(value: unknown, reads: WeakMap<object, Reads>): unknown {
  if (typeof value !== 'object' || value === null) return value;
  const target = value;
  const entry: Reads = reads.get(target) ?? { keys: new Set(), enumerated: false };
  reads.set(target, entry);
  return new Proxy(target, {
    get(obj, key, receiver) {
      if (typeof key === 'string') entry.keys.add(key);
      return recording(Reflect.get(obj, key, receiver), reads);
    },
    has(obj, key) {
      if (typeof key === 'string') entry.keys.add(key);
      return Reflect.has(obj, key);
    },
    ownKeys(obj) {
      entry.enumerated = true;
      return Reflect.ownKeys(obj);
    },
  });
}

/** JSON pointers of the own keys the validator never read, depth first. */
function unknownFields(value: unknown, reads: WeakMap<object, Reads>, path: string, out: string[]): void {
  if (typeof value !== 'object' || value === null) return;
  const entry = reads.get(value);
  if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) unknownFields(item, reads, `${path}/${i}`, out);
    return;
  }
  // Not reached by the validator (under a field already refused), or a free-form object: nothing to say.
  if (entry === undefined || entry.keys.size === 0) return;
  for (const [key, child] of Object.entries(value)) {
    const childPath = `${path}/${key.replaceAll('~', '~0').replaceAll('/', '~1')}`;
    if (!entry.enumerated && !entry.keys.has(key)) out.push(childPath);
    else unknownFields(child, reads, childPath, out);
  }
}

function pointerExists(value: unknown, pointer: string): boolean {
  let node = value;
  for (const key of pointer.split('/').slice(1)) {
    if (typeof node !== 'object' || node === null || !(key in node)) return false;
    node = (node as Record<string, unknown>)[key];
  }
  return true;
}

interface AjvError {
  instancePath: string;
  message?: string;
  params?: Record<string, unknown>;
}

function schemaMessage(error: AjvError): string {
  const allowed = error.params?.allowedValues;
  if (Array.isArray(allowed)) return `${error.message ?? 'invalid'}: ${allowed.join(', ')}`;
  return error.message ?? 'invalid';
}

/** Every problem of `objects` for Kubernetes `version`; empty when a cluster of that version would take them. */
export function validateManifests(objects: readonly KubernetesObject[], version: string): ManifestProblem[] {
  if (!(KUBERNETES_VERSIONS as readonly string[]).includes(version)) {
    throw new InputError(`unsupported Kubernetes version '${version}': use one of ${KUBERNETES_VERSIONS.join(', ')}`);
  }
  const target = version as KubernetesVersion;
  const problems: ManifestProblem[] = [];
  for (const object of objects) {
    const kind = `${object.apiVersion}/${object.kind}`;
    const name = `${object.kind}/${object.metadata?.name ?? '?'}`;
    const model = MODELS[kind];
    if (model === undefined) {
      problems.push({ object: name, path: '', message: `no schema for ${kind}: Gantry renders only ${Object.keys(MODELS).join(', ')}` });
      continue;
    }
    const reads = new WeakMap<object, Reads>();
    try {
      model.prototype.validate.call(recording(object, reads));
    } catch (error) {
      const errors = (error as { errors?: AjvError[] }).errors;
      if (errors === undefined) throw error;
      for (const e of errors) problems.push({ object: name, path: e.instancePath, message: schemaMessage(e) });
    }
    const unknown: string[] = [];
    unknownFields(object, reads, '', unknown);
    for (const path of unknown)
      problems.push({ object: name, path, message: `unknown field '${path.split('/').at(-1)}' (not in the ${kind} schema)` });
    for (const field of FIELDS_SINCE) {
      if (field.kind !== kind || KUBERNETES_VERSIONS.indexOf(field.since) <= KUBERNETES_VERSIONS.indexOf(target)) continue;
      if (pointerExists(object, field.path))
        problems.push({ object: name, path: field.path, message: `field added in Kubernetes ${field.since}, after ${target}` });
    }
  }
  return problems;
}
