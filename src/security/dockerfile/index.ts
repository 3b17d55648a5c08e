/** Dockerfiles: the parser, and hadolint's most useful rules plus Gantry's own. */
export { DOCKERFILE_RULES, type DockerfileFinding, type DockerfileLevel, lintDockerfile } from './rules.ts';
export { type Instruction, parseDockerfile } from './parse.ts';
export { type SimpleCommand, simpleCommands } from './shell.ts';
