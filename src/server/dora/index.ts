/** DORA as the server shows it: the API over the event log (the numbers come from src/dora). */
export { DEFAULT_DORA_ENVIRONMENT, type DoraAnswer, type DoraRouteDeps, registerDoraRoutes } from './dora-routes.ts';
