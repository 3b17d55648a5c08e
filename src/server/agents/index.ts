/** Build agents as the server runs them: the dispatcher (an executor port for `runs-on` jobs) and the protocol's routes. */
export { AgentDispatcher, type AgentDispatcherDeps } from './agent-dispatcher.ts';
export { registerAgentRoutes, type AgentRouteDeps } from './agent-routes.ts';
export { type AgentCacheRouteDeps, registerAgentCacheRoutes } from './cache-routes.ts';
