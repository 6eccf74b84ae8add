#!/usr/bin/env node
// Thin launcher: the CLI is compiled to dist/ by `npm run build` (run by `prepare` on `npm ci`).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
const main = new URL('../dist/src/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(main))) {
  process.stderr.write('sellout: not built yet (dist/ missing): run `npm run build` (or `npm ci`, which builds) in the sellout directory\n');
  process.exit(2);
}
await import(main.href);
