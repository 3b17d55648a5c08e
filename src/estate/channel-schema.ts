/**
 * A notification channel as the platform folder declares it. Its URL (and a webhook's signing
 * key) are credentials, so the folder names a secret of the project (`{ secret: NAME }`, set with
 * `gantry secret set`) and the server reads its value when it applies; a value never stands in
 * the folder, in a plan, or in the `platform.applied` event.
 */
import { z } from 'zod';

export type ChannelType = 'slack' | 'webhook';
export const CHANNEL_TYPES: readonly ChannelType[] = ['slack', 'webhook'];

/**
 * Where a credential comes from. `secret: null` appears only on the server's side of a plan: the
 * stored value is not the value of any of the project's secrets now (set by hand, or the secret
 * was set anew since the apply).
 */
export interface SecretRef {
  secret: string | null;
}

export interface EstateChannel {
  type: ChannelType;
  url: SecretRef;
  /** A webhook's HMAC key (a Slack channel is not signed: null). */
  signingKey: SecretRef | null;
  /** Event types or families (`slo.alert.*`); null in the folder: the server's defaults. */
  events: string[] | null;
  environments: string[] | null;
  severities: string[] | null;
}

/** A secret's name, as `gantry secret set` takes it. */
export const SECRET_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;
export const CHANNEL_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

const secretRef = z.strictObject(
  { secret: z.string().regex(SECRET_NAME_PATTERN, { message: 'expected a secret name such as ONCALL_WEBHOOK' }) },
  { error: "expected { secret: NAME }: a credential is never written here, the project's secret NAME holds it (`gantry secret set`)" },
);
const eventPattern = z
  .string()
  .regex(/^[a-z][a-z.-]*(\.\*)?$/, { message: 'expected an event type such as slo.alert.fired, or a family such as slo.alert.*' });

/** The file's shape (kebab-case). */
export const channelFileSchema = z
  .strictObject({
    type: z.enum(CHANNEL_TYPES as [ChannelType, ...ChannelType[]], { message: `expected a channel type: ${CHANNEL_TYPES.join(', ')}` }),
    url: secretRef,
    'signing-key': secretRef.optional(),
    events: z.array(eventPattern).min(1).optional(),
    environments: z.array(z.string().min(1)).min(1).optional(),
    severities: z.array(z.string().min(1)).min(1).optional(),
  })
  .superRefine((c, ctx) => {
    if (c.type === 'slack' && c['signing-key'] !== undefined)
      ctx.addIssue({ code: 'custom', path: ['signing-key'], message: 'a slack channel is not signed: leave out signing-key' });
    if (c.type === 'webhook' && c['signing-key'] === undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['type'],
        message: 'a webhook channel is signed: give signing-key: { secret: NAME } (the receiver checks the HMAC with it)',
      });
  });

/** The API's shape (an apply's body). */
export const estateChannelSchema = z.object({
  type: z.enum(CHANNEL_TYPES as [ChannelType, ...ChannelType[]]),
  url: z.object({ secret: z.string().regex(SECRET_NAME_PATTERN) }),
  signingKey: z.object({ secret: z.string().regex(SECRET_NAME_PATTERN) }).nullable(),
  events: z.array(eventPattern).nullable(),
  environments: z.array(z.string().min(1)).nullable(),
  severities: z.array(z.string().min(1)).nullable(),
});

export function channelOfFile(c: z.infer<typeof channelFileSchema>): EstateChannel {
  return {
    type: c.type,
    url: { secret: c.url.secret },
    signingKey: c['signing-key'] ? { secret: c['signing-key'].secret } : null,
    events: c.events ?? null,
    environments: c.environments ?? null,
    severities: c.severities ?? null,
  };
}

/** The channel as a file declares it (for `adopt`): kebab-case, defaults left out. */
export function channelToFile(c: EstateChannel): Record<string, unknown> {
  return {
    type: c.type,
    url: { secret: c.url.secret },
    ...(c.signingKey ? { 'signing-key': { secret: c.signingKey.secret } } : {}),
    ...(c.events ? { events: c.events } : {}),
    ...(c.environments ? { environments: c.environments } : {}),
    ...(c.severities ? { severities: c.severities } : {}),
  };
}

/** The secrets a channel reads: they count as declared by its project. */
export function secretsOfChannel(c: EstateChannel): string[] {
  return [c.url.secret, c.signingKey?.secret].filter((s): s is string => typeof s === 'string');
}
