/** `gantry agent`: the build agent process (docs/decisions/0036). */
export { Agent, AgentCallError, type AgentOptions } from './agent.ts';
export { PlacementRunner, type PlacementRunnerOptions } from './placement-runner.ts';
