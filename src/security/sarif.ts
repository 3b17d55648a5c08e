/**
 * Findings as SARIF 2.1.0 (OASIS), one run per scanner, and SARIF from other tools (gitleaks,
 * Trivy, osv-scanner, Semgrep…) read back into findings. Levels follow SARIF §3.27.10 (error,
 * warning, note) with the finer level kept in `properties.severity`, and the CVSS-like
 * `security-severity` that GitHub code scanning reads on rules; fingerprints go in
 * `partialFingerprints` (§3.27.17) under `gantry/v1`.
 */
import type * as Sarif from 'sarif';
import { z } from 'zod';
import { GantryError } from '../core/errors.ts';
import { type Finding, type FindingLevel, fingerprint } from './finding.ts';

export const SARIF_SCHEMA = 'https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json';
export const FINGERPRINT_KEY = 'gantry/v1';

const SARIF_LEVEL: Record<FindingLevel, Sarif.Result.level> = {
  critical: 'error',
  high: 'error',
  medium: 'warning',
  low: 'note',
  info: 'note',
};
const SECURITY_SEVERITY: Record<FindingLevel, string> = { critical: '9.5', high: '8.0', medium: '5.5', low: '2.0', info: '0.0' };

export interface SarifTool {
  name: string;
  version: string;
  informationUri?: string;
}

export function toSarif(findings: readonly Finding[], tool: SarifTool): Sarif.Log {
  const byScanner = new Map<string, Finding[]>();
  for (const f of findings) byScanner.set(f.scanner, [...(byScanner.get(f.scanner) ?? []), f]);
  const runs: Sarif.Run[] = [...byScanner.entries()].map(([scanner, list]) => {
    const ruleIndex = new Map<string, number>();
    const rules: Sarif.ReportingDescriptor[] = [];
    for (const f of list) {
      if (ruleIndex.has(f.ruleId)) continue;
      ruleIndex.set(f.ruleId, rules.length);
      rules.push({
        id: f.ruleId,
        shortDescription: { text: f.ruleName || f.ruleId },
        defaultConfiguration: { level: SARIF_LEVEL[f.level] },
        properties: { 'security-severity': SECURITY_SEVERITY[f.level], tags: ['security', scanner] },
      });
    }
    return {
      tool: {
        driver: {
          name: `${tool.name} ${scanner}`,
          version: tool.version,
          ...(tool.informationUri ? { informationUri: tool.informationUri } : {}),
          rules,
        },
      },
      results: list.map((f) => ({
        ruleId: f.ruleId,
        ruleIndex: ruleIndex.get(f.ruleId),
        level: SARIF_LEVEL[f.level],
        message: { text: f.message },
        locations: f.location ? [location(f)] : [],
        partialFingerprints: { [FINGERPRINT_KEY]: f.fingerprint },
        properties: { severity: f.level, ...f.properties },
      })),
      columnKind: 'unicodeCodePoints',
    };
  });
  return { $schema: SARIF_SCHEMA, version: '2.1.0', runs };
}

function location(f: Finding): Sarif.Location {
  const loc = f.location as NonNullable<Finding['location']>;
  const region: Sarif.Region = {};
  if (loc.startLine !== undefined && loc.startLine > 0) region.startLine = loc.startLine;
  if (loc.startColumn !== undefined && loc.startColumn > 0) region.startColumn = loc.startColumn;
  if (loc.endLine !== undefined && loc.endLine > 0) region.endLine = loc.endLine;
  if (loc.endColumn !== undefined && loc.endColumn > 0) region.endColumn = loc.endColumn + 1;
  return {
    physicalLocation: { artifactLocation: { uri: encodeURI(loc.path) }, ...(Object.keys(region).length > 0 ? { region } : {}) },
  };
}

// -- reading other tools' SARIF: only the fields findings need, strictly typed where used.

const sarifRegion = z
  .object({
    startLine: z.number().int().optional(),
    startColumn: z.number().int().optional(),
    endLine: z.number().int().optional(),
    endColumn: z.number().int().optional(),
  })
  .loose();
const sarifResult = z
  .object({
    ruleId: z.string().optional(),
    rule: z.object({ id: z.string().optional() }).loose().optional(),
    ruleIndex: z.number().int().optional(),
    level: z.enum(['none', 'note', 'warning', 'error']).optional(),
    message: z.object({ text: z.string().optional(), id: z.string().optional() }).loose(),
    locations: z
      .array(
        z
          .object({
            physicalLocation: z
              .object({ artifactLocation: z.object({ uri: z.string().optional() }).loose().optional(), region: sarifRegion.optional() })
              .loose()
              .optional(),
          })
          .loose(),
      )
      .optional(),
    partialFingerprints: z.record(z.string(), z.string()).optional(),
    fingerprints: z.record(z.string(), z.string()).optional(),
    properties: z.record(z.string(), z.unknown()).optional(),
  })
  .loose();
const sarifRule = z
  .object({
    id: z.string(),
    name: z.string().optional(),
    shortDescription: z.object({ text: z.string() }).loose().optional(),
    defaultConfiguration: z
      .object({ level: z.enum(['none', 'note', 'warning', 'error']).optional() })
      .loose()
      .optional(),
    properties: z.record(z.string(), z.unknown()).optional(),
  })
  .loose();
const sarifLog = z
  .object({
    version: z.literal('2.1.0'),
    runs: z.array(
      z
        .object({
          tool: z.object({ driver: z.object({ name: z.string(), rules: z.array(sarifRule).optional() }).loose() }).loose(),
          results: z.array(sarifResult).optional(),
        })
        .loose(),
    ),
  })
  .loose();

/** The finer level of a SARIF result: its `security-severity` when the rule has one (GitHub's scale), else from its level. */
function levelOf(level: string | undefined, securitySeverity: unknown): FindingLevel {
  const score = typeof securitySeverity === 'string' || typeof securitySeverity === 'number' ? Number(securitySeverity) : Number.NaN;
  if (Number.isFinite(score)) return score >= 9 ? 'critical' : score >= 7 ? 'high' : score >= 4 ? 'medium' : score > 0 ? 'low' : 'info';
  return level === 'error' ? 'high' : level === 'warning' ? 'medium' : level === 'note' ? 'low' : 'info';
}

/** Reads a SARIF 2.1.0 log from another tool into findings; `source` names the file in errors. */
export function fromSarif(json: unknown, source: string): Finding[] {
  const parsed = sarifLog.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new GantryError(
      'INVALID_SARIF',
      `${source}: not a SARIF 2.1.0 log at ${issue?.path.join('.') || 'the top'}: ${issue?.message ?? 'invalid'}`,
    );
  }
  return parsed.data.runs.flatMap((run) => {
    const tool = run.tool.driver.name;
    const rules = run.tool.driver.rules ?? [];
    return (run.results ?? []).map((result) => {
      const rule =
        result.ruleIndex !== undefined ? rules[result.ruleIndex] : rules.find((r) => r.id === (result.ruleId ?? result.rule?.id));
      const ruleId = result.ruleId ?? result.rule?.id ?? rule?.id ?? 'unknown';
      const physical = result.locations?.[0]?.physicalLocation;
      const uri = physical?.artifactLocation?.uri;
      const region = physical?.region;
      const path = uri === undefined ? null : decodeURI(uri.replace(/^file:\/\//, ''));
      const level = levelOf(result.level ?? rule?.defaultConfiguration?.level ?? 'warning', rule?.properties?.['security-severity']);
      // Gantry's own key is the finding's identity; other tools' partial fingerprints (gitleaks
      // puts the commit there) only narrow it down beside the rule and the location.
      const own = result.partialFingerprints?.[FINGERPRINT_KEY];
      const theirs = JSON.stringify(Object.entries({ ...result.fingerprints, ...result.partialFingerprints }).sort());
      return {
        scanner: tool,
        ruleId,
        ruleName: rule?.shortDescription?.text ?? rule?.name ?? ruleId,
        level,
        message: result.message.text ?? result.message.id ?? ruleId,
        location:
          path === null
            ? null
            : {
                path,
                startLine: region?.startLine,
                startColumn: region?.startColumn,
                endLine: region?.endLine,
                endColumn: region?.endColumn,
              },
        fingerprint: own ?? fingerprint(tool, ruleId, path ?? '', String(region?.startLine ?? ''), result.message.text ?? '', theirs),
      } satisfies Finding;
    });
  });
}
