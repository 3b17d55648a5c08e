#!/usr/bin/env node
// The `gantry` launcher. Gantry needs Node.js >= 22.13 (node:sqlite); when an older `node` runs
// this file and the project's pinned Node 24 is installed beside it, re-run under that one, so
// `npm link`ed and `npx` invocations work on machines whose system Node is older.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 13)) {
  const pinned = fileURLToPath(new URL('../node_modules/node/bin/node', import.meta.url));
  if (!existsSync(pinned)) {
    process.stderr.write(`gantry: Node.js >= 22.13 is required (this is ${process.version})\n`);
    process.exit(1);
  }
  const result = spawnSync(pinned, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit' });
  process.exit(result.status ?? 1);
}

// The compiled CLI when built (the published package), the TypeScript sources in a checkout.
const compiled = new URL('../dist/cli/main.js', import.meta.url);
const { main } = await import(existsSync(fileURLToPath(compiled)) ? compiled.href : new URL('../src/cli/main.ts', import.meta.url).href);
process.exitCode = await main(process.argv.slice(2));
