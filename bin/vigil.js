#!/usr/bin/env node
// Entry point of the `vigil` command. Runs the compiled CLI from dist/ (built by
// `npm run build`, which `npm install` runs through the `prepare` script).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const compiled = fileURLToPath(new URL('../dist/agent/cli/main.js', import.meta.url));
if (!existsSync(compiled)) {
  console.error('vigil: dist/ is missing. Run `npm run build` in the Vigil folder first.');
  process.exit(1);
}
await import(compiled);
