/** The platform as code's pure core: the files' schema, their parsing with positions, the planner and the plan's text. */
export { deployWindowSchema, isEmptyProtection, protectionSchema } from './protection-schema.ts';
