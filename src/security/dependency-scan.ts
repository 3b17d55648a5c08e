/**
 * Vulnerable dependencies: every package of every lockfile against the advisory index, each
 * finding with the chain that pulls the package in and the version that fixes it.
 */
import { type PackageGraph, dependencyPaths } from './lockfiles/index.ts';
import { type AdvisoryIndex, type AdvisoryLevel, matchPackage } from './osv/index.ts';

export interface DependencyFinding {
  /** The lockfile it was found in. */
  file: string;
  ecosystem: PackageGraph['ecosystem'];
  name: string;
  version: string;
  direct: boolean;
  dev: boolean;
  /** From a package the project asks for down to this one. */
  path: string[];
  id: string;
  ids: string[];
  level: AdvisoryLevel;
  score: number | null;
  summary: string;
  fixedIn: string | null;
}

export function scanDependencies(graphs: readonly PackageGraph[], index: AdvisoryIndex): DependencyFinding[] {
  const findings: DependencyFinding[] = [];
  for (const graph of graphs) {
    const pathTo = dependencyPaths(graph);
    for (const pkg of graph.packages) {
      for (const match of matchPackage({ ecosystem: pkg.ecosystem, name: pkg.name, version: pkg.version }, index)) {
        findings.push({
          file: graph.file,
          ecosystem: pkg.ecosystem,
          name: pkg.name,
          version: pkg.version,
          direct: pkg.direct,
          dev: pkg.dev,
          path: pathTo(pkg.key),
          id: match.id,
          ids: match.ids,
          level: match.level,
          score: match.score,
          summary: match.summary,
          fixedIn: match.fixedIn,
        });
      }
    }
  }
  return findings;
}
