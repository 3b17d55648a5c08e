/** Gantry's own version, recorded in every event's environment. Kept in sync with package.json by a test. */
export const GANTRY_VERSION = '0.1.0';
