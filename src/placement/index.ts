/** Placement's pure core: which agents run a placed environment, and the protocol agent and server share (docs/decisions/0043). */
export { candidatesFor, leastLoaded, type PlacementAgent } from './agent-choice.ts';
export * from './protocol.ts';
