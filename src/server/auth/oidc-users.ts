/**
 * The Gantry user behind an identity: found by the provider's subject (`iss|sub`, which never
 * changes), else created as a person named after `preferred_username` (or the e-mail's local
 * part), made a valid name and suffixed if another user already has it — a name is never taken
 * over, since some providers let people choose theirs. Each sign-in replaces the user's groups
 * with the provider's claim, so leaving a group at the provider ends its roles at the next
 * sign-in, and takes the display name and e-mail the provider gives now (people marry, move
 * teams, change addresses); a claim the provider leaves out keeps what Gantry has. The name
 * stays: grants and the audit trail refer to it.
 */
import { accessName, groupName } from '../../access/index.ts';
import { ConflictError } from '../../core/errors.ts';
import type { Store, UserRecord } from '../../store/ports.ts';
import { SignInRefusedError, type VerifiedIdentity } from './oidc-client.ts';

export async function userOfIdentity(
  store: Store,
  identity: VerifiedIdentity,
): Promise<{ user: UserRecord; created: boolean; groups: string[] }> {
  const externalId = `${identity.issuer}|${identity.subject}`;
  let user = await store.access.findUserByExternalId(externalId);
  let created = false;
  if (!user) {
    user = await createUniquelyNamed(store, identity, externalId);
    created = true;
  }
  if (user.disabledAt !== null) throw new SignInRefusedError('user-disabled', `the Gantry user ${user.name} is disabled`);
  if (!created) user = await refreshProfile(store, user, identity);
  const groups = [...new Set(identity.groups.map(groupName))];
  const held = await store.access.groupsOf(user.name);
  // Most sign-ins bring the groups of the last one: a read, not a write (one commit fewer before the session).
  const same = held.length === groups.length && groups.every((g) => held.includes(g));
  if (!same) await store.access.setGroups(user.name, groups);
  return { user, created, groups: same ? held : await store.access.groupsOf(user.name) };
}

async function refreshProfile(store: Store, user: UserRecord, identity: VerifiedIdentity): Promise<UserRecord> {
  const profile = {
    ...(identity.displayName !== undefined && identity.displayName !== user.displayName ? { displayName: identity.displayName } : {}),
    ...(identity.email !== undefined && identity.email !== user.email ? { email: identity.email } : {}),
  };
  if (Object.keys(profile).length === 0) return user;
  await store.access.updateUser(user.name, profile);
  return { ...user, ...profile };
}

async function createUniquelyNamed(store: Store, identity: VerifiedIdentity, externalId: string): Promise<UserRecord> {
  const base = accessName(identity.username ?? identity.subject, 'user');
  for (let n = 1; n <= 20; n += 1) {
    const name = n === 1 ? base : `${base.slice(0, 60)}-${n}`;
    if (await store.access.findUser(name)) continue;
    try {
      return await store.access.createUser({
        name,
        kind: 'person',
        displayName: identity.displayName ?? identity.username ?? name,
        ...(identity.email ? { email: identity.email } : {}),
        externalId,
      });
    } catch (error) {
      // Another sign-in of the same person at the same moment created it: that one is theirs.
      if (!(error instanceof ConflictError)) throw error;
      const raced = await store.access.findUserByExternalId(externalId);
      if (raced) return raced;
    }
  }
  throw new ConflictError(`no free user name for ${base}`);
}
