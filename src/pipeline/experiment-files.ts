/**
 * Experiments kept in their own files, `.gantry/experiments/*.yaml` (each holds an `experiments:`
 * map, as gantry.yaml does), merged with gantry.yaml's: every file validated with positions in
 * its own name, and a name declared twice is an error naming both places. Pure: the caller reads
 * the files (from a directory, or from a commit).
 */
import type { ExperimentConfig } from '../core/chaos-config.ts';
import { InvalidConfigError, type Diagnostic } from '../core/errors.ts';
import type { GantryConfig } from '../core/types.ts';
import { experimentPlaces, validateExperimentFile } from './load-config.ts';

/** Where experiment files live, relative to the repository's root. */
export const EXPERIMENTS_DIR = '.gantry/experiments';

/** Whether a path (relative to the root) is an experiment file. */
export function isExperimentFile(path: string): boolean {
  return path.startsWith(`${EXPERIMENTS_DIR}/`) && /^[^/]+\.ya?ml$/.test(path.slice(EXPERIMENTS_DIR.length + 1));
}

export interface ExperimentSource {
  /** As it should appear in messages: `.gantry/experiments/payments.yaml`. */
  file: string;
  text: string;
}

/**
 * gantry.yaml's experiments followed by each file's (files in name order), or every problem at
 * once: InvalidConfigError with the files' diagnostics and one per duplicate name.
 */
export function mergeExperiments(
  main: { file: string; text: string; config: GantryConfig },
  files: readonly ExperimentSource[],
): ExperimentConfig[] {
  const context = {
    environments: Object.keys(main.config.environments ?? {}),
    slos: (main.config.slos ?? []).map((s) => s.name),
    tmpSize: main.config.service?.tmpSizeBytes !== undefined,
  };
  const placeOf = new Map<string, string>();
  const mainPlaces = experimentPlaces(main.text);
  for (const e of main.config.experiments ?? []) placeOf.set(e.name, at(main.file, mainPlaces[e.name]));
  const merged = [...(main.config.experiments ?? [])];
  const diagnostics: Diagnostic[] = [];
  for (const source of [...files].sort((a, b) => a.file.localeCompare(b.file))) {
    const result = validateExperimentFile(source.text, source.file, context);
    diagnostics.push(...result.diagnostics);
    for (const e of result.experiments ?? []) {
      const here = result.places[e.name];
      const earlier = placeOf.get(e.name);
      if (earlier !== undefined) {
        diagnostics.push({
          file: source.file,
          line: here?.line ?? 1,
          col: here?.col ?? 1,
          message: `experiment '${e.name}' is declared twice: here and in ${earlier} (rename one)`,
        });
        continue;
      }
      placeOf.set(e.name, at(source.file, here));
      merged.push(e);
    }
  }
  if (diagnostics.length > 0) throw new InvalidConfigError(diagnostics);
  return merged;
}

function at(file: string, place: { line: number; col: number } | undefined): string {
  return place === undefined ? file : `${file}:${place.line}:${place.col}`;
}
