import fs from 'node:fs';
import path from 'node:path';
import { minimize } from '../sim/minimize.js';
import { EXIT_FOUND, EXIT_OK, UsageError } from './errors.js';
import { num } from './format.js';
import { HAKMEM_REPLAY } from './paths.js';

export function minimizeCommand(file: string, opts: { out: string; native?: boolean; json?: boolean; maxSeconds?: string }): number {
  const dir = path.dirname(path.resolve(opts.out));
  if (!fs.existsSync(dir)) throw new UsageError(`minimize: ${dir}: no such directory`);
  if (opts.maxSeconds !== undefined && !/^\d+$/.test(opts.maxSeconds)) throw new UsageError(`minimize: --max-seconds must be a positive integer`);
  const r = minimize(file, { out: opts.out, native: opts.native ? HAKMEM_REPLAY : undefined, maxSeconds: opts.maxSeconds ? Number(opts.maxSeconds) : undefined });
  if (!r) {
    const msg = opts.native ? 'hakmem-replay does not crash on it' : 'it breaks no invariant';
    if (opts.json) process.stdout.write(`${JSON.stringify({ minimized: false, reason: msg })}\n`);
    else process.stdout.write(`nothing to minimise: ${msg}\n`);
    return EXIT_OK;
  }
  if (opts.json) {
    process.stdout.write(`${JSON.stringify({ minimized: true, out: opts.out, ...r }, null, 2)}\n`);
    return EXIT_FOUND;
  }
  const what = r.failure.kind === 'violation' ? `invariant ${r.failure.what}` : `native ${r.failure.what}`;
  process.stdout.write(
    [
      `failure     ${what} at event ${num(r.failure.event)}: ${r.failure.message}`,
      `minimised   ${num(r.originalEvents)} events (${num(r.originalCalls)} calls) -> ${num(r.events)} events (${num(r.calls)} calls), ${(100 - (100 * r.events) / Math.max(1, r.originalEvents)).toFixed(2)}% smaller`,
      `search      ${num(r.runs)} candidate runs in ${r.seconds.toFixed(1)} s`,
      `reproducer  ${opts.out}   (hakmem-sim replay ${opts.out})`,
    ].join('\n') + '\n',
  );
  return EXIT_FOUND;
}
