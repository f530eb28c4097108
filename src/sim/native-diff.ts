/**
 * Differential agreement between the twin and native/build/hakmem-replay run
 * on the same trace: every allocating event's placement, every free's verdict,
 * and the state digest every N events (docs/replay-output.md is the format).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RegionKind, Verdict, type Placement } from '../model/types.js';
import { describePlacement, ReplayEngine, VERDICT_NAMES, type Disagreement } from './engine.js';
import { LineReader } from './line-reader.js';
import { TraceFile, newEvent } from './trace/reader.js';
import { OP_NAMES, isAllocOp, Op } from './trace/format.js';
import { TraceError } from './trace/errors.js';

export interface NativeDiffSummary {
  file: string;
  events: number;
  placements: number;
  placementsAgreed: number;
  verdicts: number;
  verdictsAgreed: number;
  digests: number;
  digestsAgreed: number;
  agreementPercent: number;
  disagreements: number;
  firstDisagreement: Disagreement | null;
  samples: Disagreement[];
  nativeSeconds: number;
  nativeExit: number | null;
}

const KIND: Record<string, RegionKind> = { '0': RegionKind.SuperSlab, '1': RegionKind.PoolPage, '2': RegionKind.Large };

export function nativeDiff(file: string, replayBin: string, opts: { digestEvery?: number } = {}): NativeDiffSummary {
  TraceFile.open(file).close(); // validates before anything runs
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hakmem-diff-'));
  const out = path.join(dir, 'replay.txt');
  try {
    const every = opts.digestEvery ?? 10000;
    const r = spawnSync(replayBin, ['--out', out, '--digest-every', String(every), file], { encoding: 'utf8', maxBuffer: 16 << 20 });
    if (r.error) throw new TraceError(file, 0, null, `cannot run ${replayBin}: ${r.error.message}`);
    if (r.signal !== null) {
      // The real allocator crashed (or was killed) replaying it: that is the first disagreement;
      // the lines it wrote before dying are compared as far as they go.
      const why = (r.stderr || '').trim().split('\n').find((l) => l.includes('died of signal')) ?? `killed by ${r.signal}`;
      const m = /at event (\d+) \(thread (\d+), (\w+)\)/.exec(why);
      const crash: Disagreement = {
        event: m ? Number(m[1]) : -1,
        tid: m ? Number(m[2]) : -1,
        op: m ? m[3] : '?',
        what: `the native replay died (${r.signal})`,
        recorded: `native: ${why.replace(/^hakmem-replay: /, '')}`,
        model: 'twin: ran on to the end',
      };
      const text = fs.existsSync(out) ? fs.readFileSync(out, 'utf8') : '';
      const sum = text.startsWith('hakmem-replay\t1\n') ? compareReplayOutput(file, out, null, { digestsAfterCallsOnly: every === 1 }) : emptySummary(file);
      sum.disagreements++;
      sum.samples.unshift(crash);
      sum.firstDisagreement = crash;
      return sum;
    }
    if (r.status === 2 || !fs.existsSync(out)) {
      throw new TraceError(file, 0, null, `hakmem-replay rejected it: ${(r.stderr || '').trim().split('\n')[0] || `exit ${r.status}`}`);
    }
    return compareReplayOutput(file, out, r.status, { digestsAfterCallsOnly: every === 1 });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function emptySummary(file: string): NativeDiffSummary {
  return {
    file,
    events: 0,
    placements: 0,
    placementsAgreed: 0,
    verdicts: 0,
    verdictsAgreed: 0,
    digests: 0,
    digestsAgreed: 0,
    agreementPercent: 0,
    disagreements: 0,
    firstDisagreement: null,
    samples: [],
    nativeSeconds: 0,
    nativeExit: null,
  };
}

/**
 * Compare hakmem-replay's output `out` (docs/replay-output.md) for the trace
 * `file` with the twin replaying the same trace: placements, free verdicts and
 * every digest line. `nativeExit` is the replay's exit status (reported only).
 */
export function compareReplayOutput(
  file: string,
  out: string,
  nativeExit: number | null,
  opts: { digestsAfterCallsOnly?: boolean } = {},
): NativeDiffSummary {
  // With a digest after every event, only those taken right after an allocating call's or a
  // free's own record count: between a call's region and internal events (written before its
  // record) and the record, the twin and the replay are at different points of the same call,
  // and around thread starts and exits the replay's threads register at other moments.
  const callsOnly = opts.digestsAfterCallsOnly === true;
  const trace = TraceFile.open(file);
  try {
    const lines = new LineReader(out);
    const first = lines.next();
    if (first !== 'hakmem-replay\t1') throw new TraceError(file, 0, null, `unexpected hakmem-replay output version: ${first}`);
    const engine = new ReplayEngine(trace.header, { checks: 'off' });
    const summary: NativeDiffSummary = { ...emptySummary(file), agreementPercent: 100, nativeExit };
    const differ = (d: Disagreement) => {
      summary.disagreements++;
      if (summary.samples.length < 20) summary.samples.push(d);
    };
    const cursor = trace.cursor();
    const ev = newEvent();
    let line = lines.next();
    const advance = () => {
      line = lines.next();
    };
    // Lines for event e (A, F, T) come in event order; D lines after the events they cover.
    let final = false;
    const checkDigests = (applied: number) => {
      while (line !== null && line.startsWith('D\t')) {
        const [, n, digest] = line.split('\t');
        if (Number(n) !== applied) break;
        if (callsOnly && !final && applied > 0 && !(isAllocOp(ev.op) || ev.op === Op.FREE)) {
          advance();
          continue;
        }
        summary.digests++;
        const mine = engine.model.digest().toString(16).padStart(16, '0');
        if (mine === digest) summary.digestsAgreed++;
        else differ({ event: applied - 1, tid: -1, op: 'digest', what: `state digest after ${applied} events`, recorded: `native ${digest}`, model: `twin ${mine}` });
        advance();
      }
    };
    while (cursor.next(ev)) {
      engine.apply(ev);
      const e = ev.index;
      // Skip lines of kinds we do not compare (H, T, unknown) that precede this event's line.
      while (line !== null && !/^[AFDS]\t/.test(line)) advance();
      if (line !== null && (line.startsWith('A\t') || line.startsWith('F\t'))) {
        const f = line.split('\t');
        if (Number(f[1]) === e) {
          if (f[0] === 'A' && isAllocOp(ev.op)) comparePlacement(f, engine.lastPlacement, ev.tid, ev.op, e, summary, differ);
          if (f[0] === 'F' && ev.op === Op.FREE) compareVerdict(f, engine.lastVerdict, ev.tid, e, summary, differ);
          advance();
        }
      }
      checkDigests(e + 1);
    }
    while (line !== null && !line.startsWith('D\t') && !line.startsWith('S\t')) advance();
    final = true; // the state at the end of the trace is compared whatever the last event
    checkDigests(cursor.eventsRead);
    while (line !== null) {
      if (line.startsWith('S\t')) summary.nativeSeconds = Number(line.split('\t')[6]);
      advance();
    }
    lines.close();
    summary.events = cursor.eventsRead;
    const compared = summary.placements + summary.verdicts + summary.digests;
    const agreed = summary.placementsAgreed + summary.verdictsAgreed + summary.digestsAgreed;
    summary.agreementPercent = compared ? (100 * agreed) / compared : 100;
    summary.firstDisagreement = summary.samples[0] ?? null;
    return summary;
  } finally {
    trace.close();
  }
}

function comparePlacement(
  f: string[],
  mine: Placement | null,
  tid: number,
  op: number,
  event: number,
  s: NativeDiffSummary,
  differ: (d: Disagreement) => void,
): void {
  // A event thread op size region kind slab block class match
  const [, , , , , region, kind, slab, block] = f;
  if (region === 'skipped' || region === 'freed') return;
  s.placements++;
  const native = region === 'null' ? null : { regionId: Number(region), kind: KIND[kind], slabIndex: Number(slab), blockIndex: Number(block) };
  const same =
    native === null
      ? mine === null
      : mine !== null && mine.regionId === native.regionId && mine.kind === native.kind && mine.slabIndex === native.slabIndex && mine.blockIndex === native.blockIndex;
  if (same) s.placementsAgreed++;
  else {
    differ({
      event,
      tid,
      op: OP_NAMES[op],
      what: 'placement (twin vs hakmem-replay)',
      recorded: native ? `native ${describePlacement({ ...native, offset: 0, classIdx: 0, usableBytes: 0 })}` : 'native NULL',
      model: mine ? `twin ${describePlacement(mine)}` : 'twin NULL',
    });
  }
}

function compareVerdict(f: string[], mine: Verdict, tid: number, event: number, s: NativeDiffSummary, differ: (d: Disagreement) => void): void {
  // F event thread recorded replay region slab block
  const replay = f[4];
  if (replay === 'skipped') return;
  s.verdicts++;
  if (replay === VERDICT_NAMES[mine]) s.verdictsAgreed++;
  else differ({ event, tid, op: 'free', what: 'free verdict (twin vs hakmem-replay)', recorded: `native ${replay}`, model: `twin ${VERDICT_NAMES[mine]}` });
}
