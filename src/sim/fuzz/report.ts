/**
 * Saving a finding: DIR/<name>.hkt (the shrunk case's trace, exactly the
 * events the engine checked) and DIR/<name>.txt (the reason, the program as it
 * ran, and the lines that replay and re-run it).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { CaseFinding } from './campaign.js';
import { executeCase, type ExecEnv } from './exec.js';
import type { ConfigPreset } from './program.js';
import type { ScheduleMode } from './schedule.js';
import type { NativeSpec } from './native.js';
import type { ModelVariant } from './variants.js';

export interface RerunSpec {
  threads: number;
  maxOps: number;
  config: ConfigPreset;
  schedule: ScheduleMode;
  variant: ModelVariant | null;
  misuse: boolean;
  native?: NativeSpec | null;
}

export interface SavedFinding {
  name: string;
  trace: string;
  text: string;
  replayLine: string;
  rerunLine: string;
  /** The reproducer up to the finding. */
  events: number;
  calls: number;
  preemptions: number;
  /** The saved trace, which runs on to the end of the program. */
  traceEvents: number;
  traceCalls: number;
  program: string[];
}

export function rerunLine(f: Pick<CaseFinding, 'roundSeed' | 'path'>, s: RerunSpec): string {
  const parts = [
    'hakmem-sim fuzz',
    `--case-seed ${f.roundSeed}`,
    `--path ${f.path}`,
    `--threads ${s.threads}`,
    `--ops ${s.maxOps}`,
    `--config ${s.config}`,
    `--schedule ${s.schedule}`,
  ];
  if (s.native) parts.push('--native');
  if (s.native?.variant) parts.push(`--variant ${s.native.variant}`);
  if (s.variant) parts.push(`--variant ${s.variant}`);
  if (s.misuse) parts.push('--misuse');
  return parts.join(' ');
}

function allocatorText(spec: RerunSpec): string {
  if (spec.native) {
    return spec.native.variant
      ? `the real allocator with the seeded bug "${spec.native.variant}" (native/build/hakmem-replay-${spec.native.variant}) against the twin`
      : 'the real allocator (native/build/hakmem-replay) against the twin';
  }
  return spec.variant ? `the twin with the seeded bug "${spec.variant}"` : 'the twin (src/model)';
}

export function findingName(f: CaseFinding, variant: string | null): string {
  const id = f.finding.id.replace(/[^A-Za-z0-9]+/g, '-');
  return `fuzz-${variant ?? 'twin'}-${id}-${f.roundSeed.toString(16).padStart(8, '0')}`;
}

export function saveFinding(dir: string, f: CaseFinding, env: ExecEnv, spec: RerunSpec): SavedFinding {
  fs.mkdirSync(dir, { recursive: true });
  const name = findingName(f, spec.native ? `native-${spec.native.variant ?? 'correct'}` : spec.variant);
  const trace = path.join(dir, `${name}.hkt`);
  const text = path.join(dir, `${name}.txt`);
  const upTo = executeCase(f.case, env);
  const run = executeCase(f.case, env, { log: true, tracePath: trace, toCompletion: true });
  const replayLine = `hakmem-sim replay ${trace}`;
  const line = rerunLine(f, spec);
  const found = run.finding ?? f.finding;
  const body = [
    `finding     ${found.kind} ${found.id}`,
    `reason      ${found.message}`,
    `where       event ${found.event}, thread ${found.tid}`,
    `allocator   ${allocatorText(spec)}, config ${spec.config}, schedule ${spec.schedule}${spec.misuse ? ', misuse mode' : ''}`,
    `size        ${upTo.calls} calls, ${upTo.events} trace events, ${upTo.preemptions} preemptions up to the finding (shrunk in ${f.shrinks} steps); the trace runs on to the end: ${run.calls} calls, ${run.events} events`,
    `replay      ${replayLine}`,
    `re-run      ${line}`,
    '',
    `program, in the order the calls ran (pN = pointer slot N, shared by all threads); the finding shows at`,
    `event ${found.event}, and the trace goes on to the end (teardown: every block freed, every thread exited):`,
    ...run.log.map((l) => `  ${l}`),
    '',
    'case (fast-check value):',
    `  ${JSON.stringify(f.case)}`,
    '',
  ];
  if (spec.native) {
    const diff = `hakmem-sim diff --native${spec.native.variant ? ` --variant ${spec.native.variant}` : ''} ${trace}`;
    body.push(
      `The trace was written by the twin; the real allocator${spec.native.variant ? ` with the seeded bug "${spec.native.variant}"` : ''} disagreed with it,`,
      `crashed or hung when replaying it. Compare the two event by event with:`,
      `  ${diff}`,
      '',
    );
  }
  if (spec.variant) {
    body.push(
      `Note: the trace was written by the allocator with the seeded bug, so \`hakmem-sim replay\` (the correct`,
      `twin) reports it as a disagreement or a trace-level violation; the re-run line shows ${found.id} itself.`,
      '',
    );
  }
  fs.writeFileSync(text, body.join('\n'));
  return {
    name,
    trace,
    text,
    replayLine,
    rerunLine: line,
    events: upTo.events,
    calls: upTo.calls,
    preemptions: upTo.preemptions,
    traceEvents: run.events,
    traceCalls: run.calls,
    program: run.log,
  };
}
