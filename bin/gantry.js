#!/usr/bin/env node
// The published entry point: the compiled CLI. In a checkout, `npm run build` produces dist/.
import '../dist/cli/main.js';
