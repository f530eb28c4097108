import { SingleBar, Presets } from 'cli-progress';
import { replayFile, type ReplaySummary } from '../sim/replay.js';
import { num, pct } from './format.js';
import { EXIT_FOUND, EXIT_OK, UsageError } from './errors.js';
import type { ChecksMode } from '../sim/invariants/violation.js';

function parseChecks(s: string | undefined): ChecksMode {
  if (s === undefined) return 'full';
  if (s === 'full' || s === 'fast' || s === 'off') return s;
  throw new UsageError(`--checks must be full, fast or off, got '${s}'`);
}

export function replayCommand(file: string, opts: { json?: boolean; checks?: string }): number {
  const checks = parseChecks(opts.checks);
  let bar: SingleBar | null = null;
  const summary = replayFile(file, {
    checks,
    onProgress: process.stderr.isTTY
      ? (done, total) => {
          if (!bar && total > 1 << 20) {
            bar = new SingleBar({ format: 'replay [{bar}] {percentage}% | {value}/{total} slots', stream: process.stderr }, Presets.shades_classic);
            bar.start(total, 0);
          }
          bar?.update(done);
        }
      : undefined,
  });
  (bar as SingleBar | null)?.stop();
  if (opts.json) process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  else process.stdout.write(formatSummary(summary));
  return summary.disagreements > 0 || summary.violations > 0 ? EXIT_FOUND : EXIT_OK;
}

export function formatSummary(s: ReplaySummary): string {
  const a = s.agreement;
  const lines = [
    `trace       ${s.file} (${s.mode}${s.holes ? `, ${s.holes} incomplete slots skipped` : ''})`,
    `events      ${num(s.events)}   calls ${num(s.calls)}   threads ${num(s.threads)}`,
  ];
  if (!s.comparable) {
    lines.push('compared    nothing: a forked child inherits a heap its trace does not show');
  } else {
    lines.push(
      `compared    allocations ${num(a.allocations)}   frees ${num(a.frees)}   region events ${num(a.regionEvents)}` +
        (a.internalEvents ? `   internal ${num(a.internalEvents)}` : ''),
    );
    lines.push(
      `agreement   ${pct(s.agreementPercent)}` +
        (s.disagreements === 0 ? ' (the twin agrees with the real allocator on every event)' : ` (${num(s.disagreements)} disagreements)`),
    );
    lines.push(
      `placements  ${num(a.allocationsAgreed)} of ${num(a.allocations)} allocations placed identically (${pct(a.allocations ? (100 * a.allocationsAgreed) / a.allocations : 100)})`,
    );
  }
  lines.push(
    s.checks === 'off'
      ? 'invariants  not checked (--checks off)'
      : `invariants  ${s.violations === 0 ? `all hold (${s.checks} checks)` : `${num(s.violations)} violations (${s.checks} checks)`}`,
  );
  const v = s.firstViolation;
  if (v) {
    lines.push(`first violation ${v.id} at event ${num(v.event)} (thread ${v.tid}): ${v.message}`);
    lines.push(`  block     ${v.subject}`);
    for (const h of v.history) lines.push(`  history   ${h}`);
  }
  if (!s.complete && s.violations === 0 && s.disagreements === 0 && s.checks !== 'off') {
    lines.push(
      'cause       the trace shows no allocator-level cause: every call recorded before the process died was valid, and the twin agrees with the allocator on all of them',
    );
  }
  const d = s.firstDisagreement;
  if (d) {
    lines.push(`first disagreement at event ${num(d.event)} (thread ${d.tid}, ${d.op}): ${d.what}`);
    lines.push(`  recorded  ${d.recorded}`);
    lines.push(`  model     ${d.model}`);
    if (s.mode.startsWith('fast') && s.threads > 1) {
      lines.push(
        'note        a fast-mode trace orders the calls of different threads by a clock read at one end of each call: two threads taking the same slab or queue at once may be recorded in another order than the allocator saw, and the twin then disagrees without a bug. Record with --mode exact to compare every event (docs/trace-format.md, "Order").',
      );
    }
  }
  return `${lines.join('\n')}\n`;
}
