/**
 * The estate: what the platform as code manages, in one shape for both sides of a plan — the
 * desired state read from the platform folder and the server's current state. Plain JSON, so it
 * travels to the server as an apply's body and back in the `platform.applied` event.
 *
 * Only what the folder names is managed: its projects (all their members, environments'
 * protection and members, security policy) and its groups (their whole membership). Projects and
 * groups it does not name are left alone.
 */
import { z } from 'zod';
import { ROLES, type Role } from '../access/index.ts';
import type { EnvironmentProtection } from '../core/protection.ts';
import { type SecurityPolicy, securityPolicySchema } from '../security/index.ts';
import { CHANNEL_NAME_PATTERN, channelFileSchema, type EstateChannel, estateChannelSchema, SECRET_NAME_PATTERN } from './channel-schema.ts';
import { approvalsSchema, windowsSchema } from './protection-schema.ts';

export { SECRET_NAME_PATTERN };

export interface EstateEnvironment extends EnvironmentProtection {
  /** `user:NAME` or `group:NAME` → role on this environment only. */
  members: Record<string, Role>;
}

export interface EstateProject {
  /** `user:NAME` or `group:NAME` → role on the whole project. */
  members: Record<string, Role>;
  environments: Record<string, EstateEnvironment>;
  /** Names of the secrets the project needs (values are set with `gantry secret set`, never here). */
  secrets: string[];
  securityPolicy: SecurityPolicy | null;
  /**
   * Its notification channels (name → channel). Absent when the folder's project has no
   * `channels:` key: its channels are then not managed (made with `gantry notify channel add`);
   * present, all of them are, and one the folder does not name is removed.
   */
  channels?: Record<string, EstateChannel>;
}

export interface Estate {
  projects: Record<string, EstateProject>;
  /** Group → its members' user names. */
  groups: Record<string, string[]>;
}

export const SUBJECT_PATTERN = /^(user|group):[A-Za-z0-9][A-Za-z0-9_.@-]*$/;
export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

const name = (what: string) => z.string().regex(NAME_PATTERN, { message: `expected a ${what} name (letters, digits, '.', '_', '-')` });
const role = z.enum(ROLES as [Role, ...Role[]], { message: `expected a role: ${ROLES.join(', ')}` });
const members = z.record(z.string().regex(SUBJECT_PATTERN, { message: 'expected user:NAME or group:NAME' }), role);

/** The files' shape (kebab-case keys, everything optional) — read by `readPlatformFolder`. */
export const platformFileSchema = z.strictObject({
  projects: z
    .record(
      name('project'),
      z
        .strictObject({
          members: members.optional(),
          secrets: z.array(z.string().regex(SECRET_NAME_PATTERN, { message: 'expected a secret name such as DATABASE_URL' })).optional(),
          'security-policy': securityPolicySchema.optional(),
          channels: z
            .record(
              z.string().regex(CHANNEL_NAME_PATTERN, { message: "expected a channel name (letters, digits, '.', '_', '-')" }),
              channelFileSchema,
            )
            .optional(),
          environments: z
            .record(
              name('environment'),
              z
                .strictObject({ members: members.optional(), approvals: approvalsSchema.optional(), windows: windowsSchema.optional() })
                .nullable(),
            )
            .optional(),
        })
        .nullable(),
    )
    .optional(),
  groups: z.record(name('group'), z.array(z.string().regex(NAME_PATTERN, { message: 'expected a user name' }))).optional(),
});

/** The estate as the API takes it (an apply's body), checked again at the server's edge. */
export const estateSchema = z.object({
  projects: z.record(
    z.string().regex(NAME_PATTERN),
    z.object({
      members: members,
      environments: z.record(
        z.string().regex(NAME_PATTERN),
        z.object({ members, approvals: approvalsSchema.optional(), windows: windowsSchema.optional() }),
      ),
      secrets: z.array(z.string().regex(SECRET_NAME_PATTERN)),
      securityPolicy: securityPolicySchema.nullable(),
      channels: z.record(z.string().regex(CHANNEL_NAME_PATTERN), estateChannelSchema).optional(),
    }),
  ),
  groups: z.record(z.string().regex(NAME_PATTERN), z.array(z.string().regex(NAME_PATTERN))),
}) as unknown as z.ZodType<Estate>;
