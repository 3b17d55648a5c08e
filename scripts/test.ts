/**
 * `npm test`: the tests and the static checks (biome, the two type checks) at once. The suite
 * spends much of its time waiting on the processes it starts (a quiet run used 116 % of two
 * cores), and the checks are a minute of CPU that needs nothing from the tests: they run beside
 * the tests at the lowest priority (`nice -n 19`), so they take the cores the tests leave idle
 * rather than time from them. Their output is printed once the tests end (so the two never
 * interleave), or at once when a check fails; the exit code is non-zero when either failed.
 * Arguments go to vitest (`npm test -- test/core`).
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';

/** The project's own tools, whether or not npm put node_modules/.bin on PATH. */
const bin = (name: string) => join(import.meta.dirname, '..', 'node_modules', '.bin', name);

const CHECKS = [
  ['biome', 'check', '.'],
  ['tsc', '-p', '.', '--noEmit'],
  ['tsc', '-p', 'web'],
];

function run(argv: string[], capture: boolean): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(argv[0] as string, argv.slice(1), { stdio: capture ? ['ignore', 'pipe', 'pipe'] : 'inherit' });
    let output = '';
    child.stdout?.on('data', (d: Buffer) => {
      output += d.toString();
    });
    child.stderr?.on('data', (d: Buffer) => {
      output += d.toString();
    });
    child.on('error', (error) => resolve({ code: 127, output: `${argv.join(' ')}: ${error.message}\n` }));
    child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), output }));
  });
}

async function checks(): Promise<{ ok: boolean; report: string }> {
  let report = '';
  for (const argv of CHECKS) {
    const started = performance.now();
    const { code, output } = await run(['nice', '-n', '19', bin(argv[0] as string), ...argv.slice(1)], true);
    report += `# ${argv.join(' ')}: ${code === 0 ? 'passed' : `failed (exit ${code})`} in ${((performance.now() - started) / 1000).toFixed(1)} s\n`;
    if (code !== 0) {
      report += output;
      return { ok: false, report };
    }
  }
  return { ok: true, report };
}

const checked = checks().then((result) => {
  if (!result.ok) process.stderr.write(`\n${result.report}`);
  return result;
});
const tests = await run([bin('vitest'), 'run', ...process.argv.slice(2)], false);
const { ok, report } = await checked;
if (ok) process.stdout.write(`\n${report}`);
process.exit(tests.code !== 0 ? tests.code : ok ? 0 : 1);
