import fs from 'node:fs';
import { nativeDiff, type NativeDiffSummary } from '../sim/native-diff.js';
import { replayFile } from '../sim/replay.js';
import { EXIT_FOUND, EXIT_OK, UsageError } from './errors.js';
import { num, pct } from './format.js';
import { HAKMEM_REPLAY } from './paths.js';
import { NATIVE_VARIANTS, isNativeVariant, replayBinary } from '../sim/fuzz/native.js';
import { formatSummary } from './replay.js';

/** diff: the twin against the recorded placements, and with --native against hakmem-replay. */
export function diffCommand(file: string, opts: { native?: boolean; variant?: string; json?: boolean }): number {
  let bin = HAKMEM_REPLAY;
  if (opts.variant !== undefined) {
    if (!opts.native) throw new UsageError('diff: --variant goes with --native');
    if (!isNativeVariant(opts.variant)) throw new UsageError(`diff: unknown --variant '${opts.variant}' (native variants: ${NATIVE_VARIANTS.join(', ')})`);
    bin = replayBinary(opts.variant);
  }
  const recorded = replayFile(file, { checks: 'off' });
  let native: NativeDiffSummary | null = null;
  if (opts.native) {
    if (!fs.existsSync(bin)) throw new UsageError(`diff: ${bin} is missing; run npm install (it builds native/)`);
    native = nativeDiff(file, bin, { digestEvery: opts.variant !== undefined ? 1 : undefined });
  }
  const found = recorded.disagreements > 0 || (native !== null && native.disagreements > 0);
  if (opts.json) {
    process.stdout.write(`${JSON.stringify({ recorded, native }, null, 2)}\n`);
    return found ? EXIT_FOUND : EXIT_OK;
  }
  const lines = ['== twin vs the recorded placements', formatSummary(recorded).trimEnd()];
  if (native) {
    lines.push('== twin vs hakmem-replay (the real allocator re-running the trace)');
    lines.push(
      `compared    placements ${num(native.placements)}   free verdicts ${num(native.verdicts)}   state digests ${num(native.digests)}`,
      `agreement   ${pct(native.agreementPercent)}${native.disagreements ? ` (${num(native.disagreements)} disagreements)` : ' (every placement, verdict and digest agrees)'}`,
    );
    const d = native.firstDisagreement;
    if (d) {
      lines.push(`first disagreement at event ${num(d.event)} (thread ${d.tid}, ${d.op}): ${d.what}`);
      lines.push(`  ${d.recorded}`);
      lines.push(`  ${d.model}`);
    }
  }
  process.stdout.write(`${lines.join('\n')}\n`);
  return found ? EXIT_FOUND : EXIT_OK;
}
