/** Manifests as one multi-document YAML stream, what `kubectl apply -f -` reads. */
import { stringify } from 'yaml';
import type { KubernetesObject } from './manifests.ts';

export function manifestsToYaml(objects: readonly KubernetesObject[]): string {
  // No line folding: a long command or route table stays one line, as written.
  return objects.map((object) => `---\n${stringify(object, { lineWidth: 0 })}`).join('');
}
