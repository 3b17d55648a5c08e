/**
 * An OSV record (https://ossf.github.io/osv-schema/, schema 1.7) as Gantry reads it: only the
 * fields that decide whether a package is affected and how it is reported. Strict about those
 * (a range without `introduced`, an event with two keys, an unknown range type are refused with
 * the record's id and the path of the field), lenient about the rest, which later schema
 * versions may extend.
 */
import { z } from 'zod';
import { GantryError } from '../../core/errors.ts';

const event = z.union([
  z.strictObject({ introduced: z.string().min(1) }),
  z.strictObject({ fixed: z.string().min(1) }),
  z.strictObject({ last_affected: z.string().min(1) }),
  z.strictObject({ limit: z.string().min(1) }),
]);

const range = z
  .object({
    type: z.enum(['SEMVER', 'ECOSYSTEM', 'GIT']),
    repo: z.string().optional(),
    events: z.array(event).min(1),
  })
  .refine((r) => r.events.some((e) => 'introduced' in e), { message: 'a range needs at least one `introduced` event' })
  .refine((r) => !(r.events.some((e) => 'fixed' in e) && r.events.some((e) => 'last_affected' in e)), {
    message: 'a range has `fixed` or `last_affected` events, not both',
  });

const affected = z.object({
  package: z
    .object({
      ecosystem: z.string().min(1),
      name: z.string().min(1),
      purl: z.string().optional(),
    })
    .optional(),
  ranges: z.array(range).optional(),
  versions: z.array(z.string()).optional(),
  severity: z.array(z.object({ type: z.string(), score: z.string() })).optional(),
  database_specific: z.record(z.string(), z.unknown()).optional(),
  ecosystem_specific: z.record(z.string(), z.unknown()).optional(),
});

const record = z.object({
  schema_version: z.string().optional(),
  id: z.string().min(1),
  modified: z.string().min(1),
  published: z.string().optional(),
  withdrawn: z.string().optional(),
  aliases: z.array(z.string()).optional(),
  related: z.array(z.string()).optional(),
  summary: z.string().optional(),
  details: z.string().optional(),
  severity: z.array(z.object({ type: z.string(), score: z.string() })).optional(),
  affected: z.array(affected).optional(),
  references: z.array(z.object({ type: z.string(), url: z.string() })).optional(),
  database_specific: z.record(z.string(), z.unknown()).optional(),
});

export type OsvRecord = z.infer<typeof record>;
export type OsvAffected = z.infer<typeof affected>;
export type OsvRange = z.infer<typeof range>;
export type OsvEvent = z.infer<typeof event>;

/** Parses one record; `source` names where it came from (a file, an archive entry) in errors. */
export function parseOsvRecord(json: unknown, source: string): OsvRecord {
  const parsed = record.safeParse(json);
  if (parsed.success) return parsed.data;
  const id =
    typeof json === 'object' && json !== null && typeof (json as { id?: unknown }).id === 'string'
      ? ` (${(json as { id: string }).id})`
      : '';
  const issue = parsed.error.issues[0];
  const where = issue && issue.path.length > 0 ? ` at ${issue.path.join('.')}` : '';
  throw new GantryError('INVALID_ADVISORY', `${source}${id}: not an OSV record${where}: ${issue?.message ?? 'invalid'}`);
}
