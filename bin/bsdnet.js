#!/usr/bin/env node
// The `bsdnet` command. The implementation is compiled TypeScript (npm install builds it).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const main = new URL('../dist/src/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(main))) {
  process.stderr.write('bsdnet: not built yet; run `npm install` (or `npm run build`) in the package directory\n');
  process.exit(1);
}
const { run } = await import(main.href);
process.exitCode = await run(process.argv.slice(2));
