/**
 * `gantry <command>` loads only its command's group when that group alone makes the command
 * (src/cli/main.ts): the command must come out exactly as the whole program builds it — the same
 * subcommands, options, arguments and descriptions — or a user would see a different CLI
 * depending on how it was started.
 */
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildProgram, commandName, singleGroupCommands } from '../../src/cli/main.ts';

interface Shape {
  name: string;
  description: string;
  aliases: string[];
  arguments: string[];
  options: string[];
  commands: Shape[];
}

function shape(command: Command): Shape {
  return {
    name: command.name(),
    description: command.description(),
    aliases: command.aliases(),
    arguments: command.registeredArguments.map((a) => `${a.name()}${a.required ? '' : '?'}${a.variadic ? '...' : ''}`),
    options: command.options.map((o) => `${o.flags} ${o.description} ${JSON.stringify(o.defaultValue ?? null)}`),
    commands: command.commands.map(shape),
  };
}

describe('commands built from their own group', () => {
  it('are built exactly as the whole program builds them, and no other group adds to them', async () => {
    const whole = await buildProgram([]);
    const names = singleGroupCommands();
    expect(names.length).toBeGreaterThan(20);
    for (const name of names) {
      const inWhole = whole.commands.filter((c) => c.name() === name);
      expect(inWhole, name).toHaveLength(1);
      const alone = await buildProgram([name]);
      expect(alone.commands.map((c) => c.name())).toContain(name);
      expect(shape(alone.commands.find((c) => c.name() === name) as Command), name).toEqual(shape(inWhole[0] as Command));
    }
    // The program's own options stay on every path.
    expect(shape(await buildProgram(['slo'])).options).toEqual(shape(whole).options);
  });

  it('takes the command from the first word that is neither an option nor the data directory', () => {
    expect(commandName(['--data', 'deploy', 'slo', 'status'])).toBe('slo');
    expect(commandName(['--debug', 'run', '--json'])).toBe('run');
    expect(commandName(['--data=x', 'incident', 'list'])).toBe('incident');
    expect(commandName(['--version'])).toBeUndefined();
  });
});
