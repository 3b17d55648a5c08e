// The "build": checks that the version file is sound and writes dist/build.json, the artifact
// that goes into the release beside the sources (the service shows the commit it was built from).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';

const { version, errorRate = 0 } = JSON.parse(readFileSync('version.json', 'utf8'));
if (!/^\d+\.\d+\.\d+$/.test(String(version))) throw new Error(`version.json: version must look like 1.2.3, got ${version}`);
if (!(errorRate >= 0 && errorRate <= 1)) throw new Error(`version.json: errorRate must be between 0 and 1, got ${errorRate}`);
mkdirSync('dist', { recursive: true });
const info = { version, commit: process.env.GANTRY_SHA ?? null, builtAt: new Date().toISOString() };
writeFileSync('dist/build.json', `${JSON.stringify(info, null, 2)}\n`);
console.log(`built hello ${version}`);
