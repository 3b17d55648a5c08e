/** Environments placed on agents (docs/decisions/0043): the placement book, the runtime ports over it, the protocol routes. */
export { AgentPlacement, type AgentPlacementDeps } from './agent-placement.ts';
export { AgentProxy, PlacedInstances, PlacedProxies } from './placed-runtime.ts';
export { PlacementLookup } from './placement-lookup.ts';
export { registerPlacementRoutes, type PlacementRouteDeps } from './placement-routes.ts';
export { ReleaseTrees } from './release-trees.ts';
