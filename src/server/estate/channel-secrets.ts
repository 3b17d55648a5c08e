/**
 * The credentials of the platform's notification channels, read from the project's encrypted
 * secrets on the server and nowhere else: a folder and a plan name the secret, the store holds
 * the value encrypted, and the two are matched here by value (decrypted in memory, never
 * returned), so a channel whose URL is no secret's value any more shows as such in the plan.
 */
import { GantryError } from '../../core/errors.ts';
import type { Estate, EstateChannel, SecretRef } from '../../estate/index.ts';
import type { SecretStore } from '../../store/ports.ts';
import type { CredentialRef } from './current-estate.ts';

export interface ChannelSecretsDeps {
  secrets: SecretStore;
  decrypt(ciphertext: string): string;
  encrypt(plaintext: string): string;
}

/** A project's secrets by value, for the projects of `desired` that have or want channels. */
export async function credentialResolver(
  deps: ChannelSecretsDeps,
  desired: Estate,
  idOf: ReadonlyMap<string, string>,
  projectsWithChannels: ReadonlySet<string>,
): Promise<CredentialRef> {
  const namesByValue = new Map<string, Map<string, string[]>>();
  const wanted = new Map<string, Record<string, EstateChannel>>();
  for (const [name, project] of Object.entries(desired.projects)) {
    const id = idOf.get(name);
    if (id === undefined || !projectsWithChannels.has(id)) continue;
    wanted.set(id, project.channels ?? {});
    const byValue = new Map<string, string[]>();
    for (const [secret, ciphertext] of Object.entries(await deps.secrets.all(id))) {
      const value = plaintextOrNull(deps, ciphertext);
      if (value !== null) byValue.set(value, [...(byValue.get(value) ?? []), secret].sort());
    }
    namesByValue.set(id, byValue);
  }
  return (projectId, channel, field, ciphertext) => {
    const value = plaintextOrNull(deps, ciphertext);
    const holders = value === null ? [] : (namesByValue.get(projectId)?.get(value) ?? []);
    // Two secrets may hold the same value: the one the folder names is the one meant.
    const preferred = wanted.get(projectId)?.[channel]?.[field]?.secret;
    const secret = preferred !== undefined && preferred !== null && holders.includes(preferred) ? preferred : (holders[0] ?? null);
    return { secret };
  };
}

/** The channel's URL and signing key encrypted for the store, from the project's secrets now. */
export async function channelCredentials(
  deps: ChannelSecretsDeps,
  project: { id: string; name: string },
  channelName: string,
  channel: EstateChannel,
): Promise<{ targetCiphertext: string; secretCiphertext: string | null }> {
  const url = await secretValue(deps, project, channelName, channel.url);
  if (!isHttpUrl(url))
    throw new GantryError(
      'PLATFORM_CHANNEL_URL_INVALID',
      `channel ${channelName} of ${project.name}: secret ${channel.url.secret} does not hold an http or https URL; nothing was applied`,
      { project: project.name, channel: channelName, secret: channel.url.secret },
    );
  const key = channel.signingKey === null ? null : await secretValue(deps, project, channelName, channel.signingKey);
  return { targetCiphertext: deps.encrypt(url), secretCiphertext: key === null ? null : deps.encrypt(key) };
}

async function secretValue(
  deps: ChannelSecretsDeps,
  project: { id: string; name: string },
  channel: string,
  ref: SecretRef,
): Promise<string> {
  const ciphertext = ref.secret === null ? undefined : await deps.secrets.get(project.id, ref.secret);
  const value = ciphertext === undefined ? null : plaintextOrNull(deps, ciphertext);
  if (value === null)
    throw new GantryError(
      'PLATFORM_SECRET_MISSING',
      `channel ${channel} of ${project.name} reads secret ${ref.secret}, which has no value: \`gantry secret set ${project.name} ${ref.secret}\`; nothing was applied`,
      { project: project.name, channel, secret: ref.secret },
    );
  return value;
}

/** A value sealed with another key (a restored backup) matches nothing rather than failing the plan. */
function plaintextOrNull(deps: ChannelSecretsDeps, ciphertext: string): string | null {
  try {
    return deps.decrypt(ciphertext);
  } catch {
    return null;
  }
}

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}
