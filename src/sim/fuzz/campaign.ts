/**
 * A fuzz campaign: fast-check generates cases (programs of 1..T threads,
 * swarm weights, schedules), each is executed on the twin through the replay
 * engine with full checks, and the first failing case is shrunk by fast-check
 * to a minimal program and schedule.
 *
 * The seed space is cut into rounds of ROUND_RUNS runs; round r runs
 * fc.check with the 32-bit seed roundSeed(seed, r). Shard i of n takes the
 * rounds r = i, i + n, i + 2n, ...; inside a shard, worker w of W takes every
 * W-th of those. So shards and workers never repeat a case, and a finding is
 * re-run from one line: its round seed and fast-check's counterexample path.
 */
import fc from 'fast-check';
import type { HakmemConfig } from '../../model/config.js';
import { executeCase, type ExecEnv, type Finding } from './exec.js';
import {
  ARG_MAX,
  KIND_ROLLS,
  MAX_PALETTE,
  MAX_WEIGHT,
  MISUSE_KINDS,
  OP_KINDS,
  presetConfig,
  sizeTable,
  type ConfigPreset,
  type FuzzCase,
  type RawOp,
} from './program.js';
import type { ScheduleMode } from './schedule.js';
import { nativeServer, type NativeSpec } from './native.js';
import type { ModelVariant } from './variants.js';

export const ROUND_RUNS = 100;
export const DEFAULT_MAX_OPS = 128;

export interface CampaignOptions {
  seed: number;
  /** Run budget of this process (its shard), or null for a time budget. */
  runs: number | null;
  timeSeconds: number | null;
  threads: number;
  /** Maximum ops per thread. */
  maxOps: number;
  schedule: ScheduleMode;
  config: ConfigPreset;
  variant: ModelVariant | null;
  misuse: boolean;
  /** --native [--variant NAME]: also run every case on the real allocator (native.ts). */
  native: NativeSpec | null;
  shardIndex: number;
  shardCount: number;
  /** This worker among the shard's workers. */
  workerIndex: number;
  workerCount: number;
}

export interface CaseFinding {
  finding: Finding;
  round: number;
  roundSeed: number;
  path: string;
  case: FuzzCase;
  /** fast-check's shrink steps. */
  shrinks: number;
}

export interface CampaignResult {
  runs: number;
  rounds: number;
  calls: number;
  events: number;
  preemptions: number;
  /** Misuse mode: I2 reports on the misuse the cases committed (expected, not findings). */
  misuseDetected: number;
  seconds: number;
  found: CaseFinding | null;
}

/** FNV-1a over the text "seed:round": the round's 32-bit fast-check seed (unsigned). */
export function roundSeed(seed: number, round: number): number {
  const text = `${seed}:${round}`;
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Global round index of the k-th round of worker w of shard i/n (W workers). */
export function roundIndex(k: number, o: Pick<CampaignOptions, 'shardIndex' | 'shardCount' | 'workerIndex' | 'workerCount'>): number {
  const shardLocal = k * o.workerCount + o.workerIndex;
  return shardLocal * o.shardCount + o.shardIndex;
}

export function caseArbitrary(
  threads: number,
  misuse: boolean,
  sizes: readonly number[],
  maxOps = DEFAULT_MAX_OPS,
  schedule: ScheduleMode = 'picks',
): fc.Arbitrary<FuzzCase> {
  const nKinds = OP_KINDS.length + (misuse ? MISUSE_KINDS.length : 0);
  const rawOp: fc.Arbitrary<RawOp> = fc.tuple(fc.nat(KIND_ROLLS - 1), fc.nat(MAX_PALETTE - 1), fc.nat(ARG_MAX));
  return fc.record({
    swarm: fc.array(fc.nat(MAX_WEIGHT), { minLength: nKinds, maxLength: nKinds }),
    palette: fc.array(fc.nat(sizes.length - 1), { minLength: 1, maxLength: MAX_PALETTE }),
    threads: fc.array(fc.array(rawOp, { maxLength: maxOps, size: 'max' }), { minLength: 1, maxLength: threads }),
    // PCT draws its schedule from pctSeed: no pick array to generate.
    schedule: schedule === 'pct' ? fc.constant<number[]>([]) : fc.array(fc.nat(7), { maxLength: maxOps * threads, size: 'max' }),
    pctSeed: schedule === 'pct' ? fc.nat() : fc.constant(0),
    teardown: fc.boolean(),
  });
}

export function execEnv(o: Pick<CampaignOptions, 'config' | 'schedule' | 'variant' | 'misuse'> & { native?: NativeSpec | null }): ExecEnv {
  const cfg: HakmemConfig = presetConfig(o.config);
  const native = o.native ? nativeServer(o.native, cfg) : null;
  return { cfg, sizes: sizeTable(cfg), schedule: o.schedule, variant: o.variant, misuse: o.misuse, native };
}

interface Counters {
  calls: number;
  events: number;
  preemptions: number;
  runs: number;
  misuseDetected: number;
}

/**
 * The property: a case passes unless it has a finding. Once a first finding
 * fixes its id, only findings with the same id count as failures, so shrinking
 * keeps the bug it started from instead of drifting to another one.
 */
function property(env: ExecEnv, arb: fc.Arbitrary<FuzzCase>, counters: Counters, last: { finding: Finding | null }) {
  let locked: string | null = null;
  return fc.property(arb, (c) => {
    const r = executeCase(c, env);
    counters.calls += r.calls;
    counters.events += r.events;
    counters.preemptions += r.preemptions;
    counters.misuseDetected += r.misuseDetected;
    counters.runs++;
    if (r.finding === null) return true;
    if (locked === null) locked = r.finding.id;
    if (r.finding.id !== locked) return true;
    last.finding = r.finding;
    return false;
  });
}

/** Run one round: fc.check with the round's seed; on failure, the shrunk case. */
export function runRound(o: CampaignOptions, round: number, runs: number, counters: Counters, env: ExecEnv = execEnv(o)): CaseFinding | null {
  const arb = caseArbitrary(o.threads, o.misuse, env.sizes, o.maxOps, o.schedule);
  const seed = roundSeed(o.seed, round);
  const last: { finding: Finding | null } = { finding: null };
  const details = fc.check(property(env, arb, counters, last), { seed, numRuns: runs });
  if (!details.failed || details.counterexample === null || last.finding === null) return null;
  return {
    finding: last.finding,
    round,
    roundSeed: seed,
    path: details.counterexamplePath ?? '',
    case: details.counterexample[0],
    shrinks: details.numShrinks,
  };
}

/** Re-run one case from its round seed and counterexample path (the one-line re-run). */
export function rerunCase(
  o: Pick<CampaignOptions, 'threads' | 'maxOps' | 'config' | 'schedule' | 'variant' | 'misuse'> & { native?: NativeSpec | null },
  seed: number,
  path: string,
): { found: CaseFinding | null; calls: number } {
  const env = execEnv(o);
  const arb = caseArbitrary(o.threads, o.misuse, env.sizes, o.maxOps, o.schedule);
  const counters: Counters = { calls: 0, events: 0, preemptions: 0, runs: 0, misuseDetected: 0 };
  const last: { finding: Finding | null } = { finding: null };
  const details = fc.check(property(env, arb, counters, last), { seed, path, numRuns: 1, endOnFailure: true });
  if (!details.failed || details.counterexample === null || last.finding === null) return { found: null, calls: counters.calls };
  return {
    found: { finding: last.finding, round: -1, roundSeed: seed, path, case: details.counterexample[0], shrinks: 0 },
    calls: counters.calls,
  };
}

/** Run this worker's rounds until the budget is spent or something is found. */
export function runCampaign(o: CampaignOptions, hooks: { onRound?: (r: CampaignResult) => void; stop?: () => boolean } = {}): CampaignResult {
  const start = performance.now();
  const counters: Counters = { calls: 0, events: 0, preemptions: 0, runs: 0, misuseDetected: 0 };
  const result: CampaignResult = { runs: 0, rounds: 0, calls: 0, events: 0, preemptions: 0, misuseDetected: 0, seconds: 0, found: null };
  const deadline = o.timeSeconds !== null ? start + o.timeSeconds * 1000 : Infinity;
  // Run budget: the shard's rounds 0..K-1 (shard-local), this worker's share of them.
  const totalRuns = o.runs ?? Infinity;
  // One environment (configuration, size table, the engine the cases reuse) for every round.
  const env = execEnv(o);
  for (let k = 0; ; k++) {
    const shardLocal = k * o.workerCount + o.workerIndex;
    const runsBefore = shardLocal * ROUND_RUNS;
    if (runsBefore >= totalRuns) break;
    if (performance.now() >= deadline) break;
    if (hooks.stop?.()) break;
    const runs = Math.min(ROUND_RUNS, totalRuns - runsBefore);
    const round = roundIndex(k, o);
    const found = runRound(o, round, runs, counters, env);
    result.rounds++;
    Object.assign(result, { runs: counters.runs, calls: counters.calls, events: counters.events, preemptions: counters.preemptions, misuseDetected: counters.misuseDetected });
    result.seconds = (performance.now() - start) / 1000;
    hooks.onRound?.(result);
    if (found) {
      result.found = found;
      break;
    }
  }
  Object.assign(result, { runs: counters.runs, calls: counters.calls, events: counters.events, preemptions: counters.preemptions, misuseDetected: counters.misuseDetected });
  result.seconds = (performance.now() - start) / 1000;
  return result;
}
