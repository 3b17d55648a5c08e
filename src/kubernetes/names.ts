/**
 * The names and labels of the objects Gantry puts in a namespace. Kubernetes limits a Service's
 * name and a label value to an RFC 1123 label of 63 characters, so a long project-environment
 * name is cut and suffixed with a hash of the whole, which keeps two long names apart.
 */

const MAX_LABEL = 63;

/** FNV-1a, 32 bits: a short, stable suffix for names that had to be cut (not a security boundary). */
function fnv1a(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(8, '0');
}

/** `text` as an RFC 1123 label of at most `max` characters (lower case, -, cut with a hash when too long). */
export function dnsLabel(text: string, max = MAX_LABEL): string {
  const clean = text
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '');
  if (clean.length <= max) return clean || 'x';
  const hash = fnv1a(text).slice(0, 6);
  return `${clean.slice(0, max - hash.length - 1).replace(/-+$/, '')}-${hash}`;
}

/** Room left for the longest suffix Gantry appends to the app name (`-r` and a release number, or `-routes`). */
const SUFFIX_ROOM = 10;

/** The names of one environment's objects. */
export interface KubernetesNames {
  /** The stable Service and the HTTPRoute: what callers address. */
  app: string;
  /** Deployment and Service of one release. */
  version(releaseNumber: number): string;
  proxy: string;
  routes: string;
  secrets: string;
}

export function kubernetesNames(project: string, environment: string): KubernetesNames {
  const app = dnsLabel(`${project}-${environment}`, MAX_LABEL - SUFFIX_ROOM);
  return {
    app,
    version: (releaseNumber) => `${app}-r${releaseNumber}`,
    proxy: `${app}-proxy`,
    routes: `${app}-routes`,
    secrets: `${app}-secrets`,
  };
}

/** Label keys: the recommended app.kubernetes.io ones, and Gantry's own for what they cannot say. */
export const LABELS = {
  name: 'app.kubernetes.io/name',
  component: 'app.kubernetes.io/component',
  partOf: 'app.kubernetes.io/part-of',
  managedBy: 'app.kubernetes.io/managed-by',
  environment: 'gantry.dev/environment',
  release: 'gantry.dev/release',
} as const;

/** The field manager of every server-side apply, and the managed-by label's value. */
export const FIELD_MANAGER = 'gantry';
