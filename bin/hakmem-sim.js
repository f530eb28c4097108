#!/usr/bin/env node
// The package bin: runs the compiled CLI (npm install builds dist/).
import { main } from '../dist/cli/main.js';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    // main() turns every expected failure into an exit code; this is a bug.
    process.stderr.write(`hakmem-sim: internal error: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 3;
  },
);
