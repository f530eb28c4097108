import fs from 'node:fs';
import path from 'node:path';
import { minimize, MinimizeError } from '../sim/minimize.js';
import { EXIT_FOUND, EXIT_OK, UsageError } from './errors.js';
import { num } from './format.js';
import { isNativeVariant, NATIVE_VARIANTS, replayBinary } from '../sim/fuzz/native.js';

export function minimizeCommand(file: string, opts: { out: string; native?: boolean; variant?: string; json?: boolean; maxSeconds?: string }): number {
  if (opts.variant !== undefined) {
    if (!opts.native) throw new UsageError('minimize: --variant goes with --native');
    if (!isNativeVariant(opts.variant)) throw new UsageError(`minimize: unknown --variant '${opts.variant}' (native variants: ${NATIVE_VARIANTS.join(', ')})`);
  }
  const replayBin = replayBinary(opts.variant ?? null);
  if (opts.native && !fs.existsSync(replayBin)) throw new UsageError(`minimize: ${replayBin} is missing; run npm install (it builds native/)`);
  const dir = path.dirname(path.resolve(opts.out));
  if (!fs.existsSync(dir)) throw new UsageError(`minimize: ${dir}: no such directory`);
  if (opts.maxSeconds !== undefined && !/^\d+$/.test(opts.maxSeconds)) throw new UsageError(`minimize: --max-seconds must be a positive integer`);
  let r: ReturnType<typeof minimize>;
  try {
    r = minimize(file, { out: opts.out, native: opts.native ? replayBin : undefined, maxSeconds: opts.maxSeconds ? Number(opts.maxSeconds) : undefined });
  } catch (e) {
    if (e instanceof MinimizeError) throw new UsageError(`minimize: ${file}: ${e.message}`);
    throw e;
  }
  if (!r) {
    const msg = opts.native ? `${path.basename(replayBin)} does not crash on it` : 'it breaks no invariant';
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
      `search      ${num(r.runs)} candidate runs in ${r.seconds.toFixed(1)} s, calls ${r.mode === 'reexecuted' ? 're-executed on the twin' : 'kept with their recorded results (the failure is the allocator\'s: re-executed on the twin it goes away)'}`,
      `reproducer  ${opts.out}   (hakmem-sim replay ${opts.out})`,
    ].join('\n') + '\n',
  );
  return EXIT_FOUND;
}
