/**
 * `npm run build:bundle`: the CLI and the two programs it starts by file (the proxy process and
 * the chaos helper) bundled into dist/bundle/, what `bin/gantry.js` runs when present and what the
 * end-to-end tests start (test/support/global-setup.ts builds it first). Why: a start spent most of
 * its CPU in Node's module loader, resolving, reading and linking ~600 files one by one; a few
 * chunks load in about half the time (`gantry up` ready: 1.2 → 0.75 s of CPU; `gantry validate`:
 * 0.35 → 0.19 s of wall). A command still loads only its own group's chunks (dynamic imports stay
 * split). docs/decisions/0049-bundled-cli.md.
 *
 * The layout matters: modules find files beside the package by paths relative to their own URL,
 * and every chunk is two levels below the package root (templates/, examples/, schema/), with the
 * entries side by side (`./proxy-host-main.js`, `./chaos-helper.js`, `./main.js`) and the dashboard at
 * `../web`.
 *
 * `node scripts/bundle.ts [outDir]` (default dist/bundle). Written to a temporary directory and
 * renamed into place, so a run starting meanwhile never sees half a bundle.
 */
import { mkdirSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { rolldown } from 'rolldown';

const ROOT = path.join(import.meta.dirname, '..');

/** The entries, named as the modules that start them look for them. */
export const BUNDLE_ENTRIES = {
  main: 'src/cli/main.ts',
  'proxy-host-main': 'src/proxy/proxy-host-main.ts',
  'chaos-helper': 'src/runtime/chaos-helper.ts',
} as const;

export async function bundle(outDir = path.join(ROOT, 'dist', 'bundle')): Promise<void> {
  const staging = `${outDir}.tmp-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(path.dirname(outDir), { recursive: true });
  const build = await rolldown({
    cwd: ROOT,
    input: Object.fromEntries(Object.entries(BUNDLE_ENTRIES).map(([name, file]) => [name, path.join(ROOT, file)])),
    platform: 'node',
    // The Kubernetes models are thousands of small modules of which a command imports a few:
    // bundled, they were one 17 MB chunk to parse; from node_modules, only what is imported loads.
    external: [/^kubernetes-models(\/|$)/, /^@kubernetes-models\//, /^@kubernetes\/client-node(\/|$)/],
    logLevel: 'warn',
  });
  try {
    await build.write({
      dir: staging,
      format: 'esm',
      entryFileNames: '[name].js',
      chunkFileNames: '[name]-[hash].js',
      // Read only under --debug (src/cli/main.ts), for traces in the sources.
      sourcemap: true,
    });
  } finally {
    await build.close();
  }
  rmSync(outDir, { recursive: true, force: true });
  renameSync(staging, outDir);
}

if (import.meta.main) {
  const started = performance.now();
  const outDir = process.argv[2] ? path.resolve(process.argv[2]) : undefined;
  await bundle(outDir);
  process.stderr.write(`bundled the CLI in ${Math.round(performance.now() - started)} ms\n`);
}
