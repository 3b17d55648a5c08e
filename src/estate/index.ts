/** The platform as code's pure core: the files' schema, their reading with positions, the planner, the plan's text, adopting drift. */
export { type AdoptResult, adoptChanges } from './adopt-drift.ts';
export { CHANNEL_TYPES, type ChannelType, type EstateChannel, type SecretRef, secretsOfChannel } from './channel-schema.ts';
export { type Estate, type EstateEnvironment, type EstateProject, estateSchema, platformFileSchema } from './estate-model.ts';
export {
  type ChangeAction,
  type ChangeKind,
  canonical,
  countChanges,
  type EstateChange,
  type EstatePlan,
  planEstate,
  protectionOf,
  type SecretNotes,
} from './plan-estate.ts';
export { planText } from './plan-text.ts';
export { approvalsSchema, deployWindowSchema, isEmptyProtection, protectionSchema, windowsSchema } from './protection-schema.ts';
export { type PlatformFile, type PlatformOrigins, type PlatformRead, readPlatformFolder } from './read-platform.ts';
