/**
 * The floor of any Node-based step runner: N sequential `child_process.spawn` calls of a step
 * script the way Gantry starts one (bash --noprofile --norc -eo pipefail FILE, own process
 * group, stdout/stderr piped), each awaited to `close`. step-overhead.ts runs it as a child so
 * it pays the same Node start-up and fork-from-a-Node-heap costs as the CLI does.
 *
 * Usage: node bench/node-spawn-loop.ts <count> <script-file>; prints the loop's ms on stdout.
 */
import { spawn } from 'node:child_process';

const count = Number(process.argv[2]);
const file = process.argv[3];
if (!Number.isInteger(count) || count < 1 || file === undefined) {
  process.stderr.write('usage: node-spawn-loop.ts <count> <script-file>\n');
  process.exit(2);
}

const started = performance.now();
for (let i = 0; i < count; i++) {
  const child = spawn('bash', ['--noprofile', '--norc', '-eo', 'pipefail', file], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.resume();
  child.stderr.resume();
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', resolve);
  });
  if (code !== 0) throw new Error(`step ${i} exited ${code}`);
}
process.stdout.write(`${performance.now() - started}\n`);
