/**
 * A CycloneDX 1.6 SBOM (JSON) of a release from its lockfiles: every package as a `library`
 * component with its purl (package-url spec, through `packageurl-js`), the hashes and licences the
 * lockfile records, development-only packages marked `scope: excluded`, and the dependency graph —
 * the release's own component depending on the packages it asks for, each package on its own.
 * Written as plain JSON rather than through @cyclonedx/cyclonedx-library's object model, which is
 * large for what is one document shape; the library's own validator checks the output in tests.
 */
import { PackageURL } from 'packageurl-js';
import type { LockedPackage, PackageGraph } from './lockfiles/index.ts';
import type { Ecosystem } from './versions/index.ts';

export const CYCLONEDX_SPEC_VERSION = '1.6';

export interface SbomSubject {
  name: string;
  version: string;
  /** A stable reference for the release's own component. */
  ref?: string;
}

export interface SbomOptions {
  subject: SbomSubject;
  tool: { name: string; version: string };
  /** RFC 4122 UUID; a new one per generated document (CycloneDX `serialNumber`). */
  serialNumber: string;
  timestamp: string;
}

const PURL_TYPES: Record<Ecosystem, string> = {
  npm: 'npm',
  PyPI: 'pypi',
  Go: 'golang',
  'crates.io': 'cargo',
  RubyGems: 'gem',
  Packagist: 'composer',
};

/** The package's purl: npm scopes, Composer vendors and Go module paths become the purl namespace. */
export function purlOf(pkg: Pick<LockedPackage, 'ecosystem' | 'name' | 'version'>): string {
  const type = PURL_TYPES[pkg.ecosystem];
  let namespace: string | undefined;
  let name = pkg.name;
  const slash = pkg.name.lastIndexOf('/');
  if ((pkg.ecosystem === 'npm' && pkg.name.startsWith('@')) || pkg.ecosystem === 'Packagist' || pkg.ecosystem === 'Go') {
    if (slash > 0) {
      namespace = pkg.name.slice(0, slash);
      name = pkg.name.slice(slash + 1);
    }
  }
  return new PackageURL(type, namespace, name, pkg.version, undefined, undefined).toString();
}

function licenseEntries(licenses: readonly string[] | undefined): object[] | undefined {
  if (!licenses || licenses.length === 0) return undefined;
  // One SPDX expression stays an expression; a list of ids (Composer's) is each a licence.
  if (licenses.length === 1 && /\s(AND|OR|WITH)\s|[()]/.test(licenses[0] as string)) return [{ expression: licenses[0] }];
  return licenses.map((l) => (/^[A-Za-z0-9.+-]+$/.test(l) ? { license: { id: l } } : { license: { name: l } }));
}

export function cycloneDxSbom(graphs: readonly PackageGraph[], options: SbomOptions): Record<string, unknown> {
  const rootRef = options.subject.ref ?? `${options.subject.name}@${options.subject.version}`;
  const components = new Map<string, Record<string, unknown>>();
  const dependsOn = new Map<string, Set<string>>();
  const direct = new Set<string>();
  for (const graph of graphs) {
    const refOf = new Map(graph.packages.map((p) => [p.key, purlOf(p)]));
    for (const pkg of graph.packages) {
      const ref = refOf.get(pkg.key) as string;
      if (pkg.direct) direct.add(ref);
      const edges = dependsOn.get(ref) ?? new Set<string>();
      for (const d of pkg.dependsOn) {
        const target = refOf.get(d);
        if (target !== undefined && target !== ref) edges.add(target);
      }
      dependsOn.set(ref, edges);
      const existing = components.get(ref);
      if (existing) {
        // The same package in two lockfiles: required if either needs it at run time.
        if (!pkg.dev) delete existing.scope;
        continue;
      }
      const hashes = pkg.hashes?.map((h) => ({ alg: h.alg, content: h.content }));
      components.set(ref, {
        type: 'library',
        'bom-ref': ref,
        name: pkg.name,
        version: pkg.version,
        purl: ref,
        ...(pkg.dev ? { scope: 'excluded' } : {}),
        ...(hashes && hashes.length > 0 ? { hashes } : {}),
        ...(licenseEntries(pkg.licenses) ? { licenses: licenseEntries(pkg.licenses) } : {}),
        properties: [{ name: 'gantry:lockfile', value: graph.file }],
      });
    }
  }
  const sorted = [...components.values()].sort((a, b) => String(a['bom-ref']).localeCompare(String(b['bom-ref'])));
  return {
    $schema: 'http://cyclonedx.org/schema/bom-1.6.schema.json',
    bomFormat: 'CycloneDX',
    specVersion: CYCLONEDX_SPEC_VERSION,
    serialNumber: `urn:uuid:${options.serialNumber}`,
    version: 1,
    metadata: {
      timestamp: options.timestamp,
      tools: { components: [{ type: 'application', name: options.tool.name, version: options.tool.version }] },
      component: { type: 'application', 'bom-ref': rootRef, name: options.subject.name, version: options.subject.version },
    },
    components: sorted,
    dependencies: [
      { ref: rootRef, dependsOn: [...direct].sort() },
      ...sorted.map((c) => ({ ref: c['bom-ref'], dependsOn: [...(dependsOn.get(String(c['bom-ref'])) ?? [])].sort() })),
    ],
  };
}
