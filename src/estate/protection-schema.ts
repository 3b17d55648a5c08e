/**
 * The one schema of an environment's protection (core/protection.ts), read from platform files
 * and from the API alike: approvals (N from a group) and deploy windows in an IANA time zone.
 */
import { z } from 'zod';
import { isTimeZone, minutesOf, WEEKDAYS } from '../access/index.ts';
import type { EnvironmentProtection, ProtectionWeekday } from '../core/protection.ts';

const hhmm = z.string().refine((v) => minutesOf(v) !== null, { message: 'expected a time of day as HH:MM (00:00 to 24:00)' });

export const deployWindowSchema = z.strictObject({
  days: z
    .array(z.enum(WEEKDAYS as [ProtectionWeekday, ...ProtectionWeekday[]], { message: `expected a weekday: ${WEEKDAYS.join(', ')}` }))
    .min(1),
  from: hhmm,
  to: hhmm,
});

export const approvalsSchema = z.strictObject({
  count: z.number().int().min(1).max(20),
  group: z.string().min(1).optional(),
});

export const windowsSchema = z.strictObject({
  timezone: z.string().refine(isTimeZone, { message: 'expected an IANA time zone such as Europe/Paris or UTC' }),
  allow: z.array(deployWindowSchema).optional(),
  deny: z.array(deployWindowSchema).optional(),
});

export const protectionSchema = z.strictObject({
  approvals: approvalsSchema.optional(),
  windows: windowsSchema.optional(),
}) as unknown as z.ZodType<EnvironmentProtection>;

/** Whether a protection asks nothing (the same as none). */
export function isEmptyProtection(p: EnvironmentProtection | undefined | null): boolean {
  return !p || (p.approvals === undefined && (p.windows === undefined || (!p.windows.allow?.length && !p.windows.deny?.length)));
}
