#!/usr/bin/env node
// The `gantry` launcher. Gantry needs Node.js >= 22.13 (node:sqlite); when an older `node` runs
// this file and the project's pinned Node 24 is installed beside it, re-run under that one, so
// `npm link`ed and `npx` invocations work on machines whose system Node is older.
//
// Written in plain JavaScript for old Nodes: nothing here may need more than Node 18.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { constants } from 'node:os';
import { fileURLToPath } from 'node:url';

const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 13)) {
  const pinned = fileURLToPath(new URL('../node_modules/node/bin/node', import.meta.url));
  if (!existsSync(pinned)) {
    process.stderr.write(`gantry: Node.js >= 22.13 is required (this is ${process.version})\n`);
    process.exit(1);
  }
  runUnder(pinned);
} else {
  // Before the CLI's modules load, so that they come from Node's compile cache (see
  // startCompileCache in src/cli/main.ts): the pre-commit hook starts Gantry on every commit.
  const { enableCompileCache } = await import('node:module');
  try {
    enableCompileCache?.();
  } catch {
    // Only the time it would save is lost.
  }
  // The bundled CLI when built (the published package, scripts/bundle.ts), else the compiled one,
  // else the TypeScript sources in a checkout.
  const built = ['../dist/bundle/main.js', '../dist/cli/main.js'].map((file) => new URL(file, import.meta.url));
  const entry = built.find((url) => existsSync(fileURLToPath(url))) ?? new URL('../src/cli/main.ts', import.meta.url);
  const { main } = await import(entry.href);
  process.exitCode = await main(process.argv.slice(2));
}

/**
 * Runs this file again under `node` and ends the way it ends. Node cannot replace its own process
 * (no exec), so the launcher stays as the child's parent: whoever signals the launcher (a shell's
 * `kill $!`, a supervisor stopping the process it started) must reach the real Gantry, or the
 * server would outlive it, orphaned, holding its port and data directory.
 */
function runUnder(node) {
  const child = spawn(node, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit' });
  const forward = (signal) => {
    // Ctrl-C at a terminal signals its whole foreground process group, the child included: a
    // second SIGINT from here would cut its graceful shutdown short (a repeated SIGINT forces an exit).
    if (signal === 'SIGINT' && inTerminalForeground()) return;
    child.kill(signal);
  };
  const forwarded = ['SIGTERM', 'SIGINT', 'SIGHUP'];
  for (const signal of forwarded) process.on(signal, forward);
  child.on('error', (error) => {
    process.stderr.write(`gantry: cannot start ${node}: ${error.message}\n`);
    process.exit(1);
  });
  child.on('exit', (code, signal) => {
    if (signal === null) process.exit(code ?? 1);
    // Die of the same signal, so our parent sees what happened (a shell prints it, `$?` is 128+n).
    for (const name of forwarded) process.off(name, forward);
    process.kill(process.pid, signal);
    // A signal whose default is not to end a process (or that Node handles itself): the shell's convention.
    process.exit(128 + (constants.signals[signal] ?? 0));
  });
}

/**
 * Whether this process is in the foreground process group of its controlling terminal, where a
 * typed Ctrl-C reaches every process of the group. Linux only (`/proc`); elsewhere: no.
 */
function inTerminalForeground() {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    // After the command name in parentheses (which may hold spaces): state ppid pgrp session tty_nr tpgid …
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const pgrp = Number(fields[2]);
    const tpgid = Number(fields[5]);
    return tpgid > 0 && tpgid === pgrp;
  } catch {
    return false;
  }
}
