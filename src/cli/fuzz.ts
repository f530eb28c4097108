/**
 * `hakmem-sim fuzz`: fast-check fuzzing of thread interleavings on the twin
 * (docs/fuzzing.md). Exit 1 when something was found, 0 when the budget ran
 * out clean, 2 on bad usage.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import {
  execEnv,
  rerunCase,
  runCampaign,
  type CampaignOptions,
  type CampaignResult,
  type CaseFinding,
} from '../sim/fuzz/campaign.js';
import { CONFIG_PRESETS, type ConfigPreset } from '../sim/fuzz/program.js';
import { saveFinding, type RerunSpec } from '../sim/fuzz/report.js';
import type { ScheduleMode } from '../sim/fuzz/schedule.js';
import { MODEL_VARIANTS, isModelVariant } from '../sim/fuzz/variants.js';
import { NATIVE_VARIANTS, isNativeVariant, replayBinary, type NativeSpec } from '../sim/fuzz/native.js';
import type { WorkerInput, WorkerMessage } from '../sim/fuzz/worker.js';
import { EXIT_FOUND, EXIT_OK, EXIT_USAGE, UsageError } from './errors.js';
import { num } from './format.js';

export interface FuzzCliOptions {
  seed?: string;
  runs?: string;
  time?: string;
  threads: string;
  ops: string;
  out: string;
  workers: string;
  shard: string;
  schedule: string;
  config?: string;
  variant?: string;
  native?: boolean;
  misuse?: boolean;
  caseSeed?: string;
  path?: string;
  json?: boolean;
}

function int(name: string, v: string, lo: number, hi: number): number {
  if (!/^-?\d+$/.test(v)) throw new UsageError(`fuzz: ${name} must be an integer, got '${v}'`);
  const n = Number(v);
  if (n < lo || n > hi) throw new UsageError(`fuzz: ${name} must be ${lo}..${hi}, got ${n}`);
  return n;
}

export async function fuzzCommand(o: FuzzCliOptions): Promise<number> {
  if (o.runs !== undefined && o.time !== undefined) throw new UsageError('fuzz: give --runs or --time, not both');
  const threads = int('--threads', o.threads, 1, 8);
  const maxOps = int('--ops', o.ops, 1, 100000);
  if (o.schedule !== 'picks' && o.schedule !== 'pct') throw new UsageError(`fuzz: --schedule must be picks or pct, got '${o.schedule}'`);
  const schedule: ScheduleMode = o.schedule;
  const configName = o.config ?? (o.native ? 'tight' : 'small');
  if (!(configName in CONFIG_PRESETS)) throw new UsageError(`fuzz: --config must be one of ${Object.keys(CONFIG_PRESETS).join(', ')}, got '${configName}'`);
  const config = configName as ConfigPreset;
  let variant = null;
  let native: NativeSpec | null = null;
  if (o.native) {
    if (o.variant !== undefined && !isNativeVariant(o.variant)) {
      throw new UsageError(`fuzz: unknown --variant '${o.variant}' with --native (native variants: ${NATIVE_VARIANTS.join(', ')})`);
    }
    native = { variant: o.variant !== undefined && isNativeVariant(o.variant) ? o.variant : null };
    const bin = replayBinary(native.variant);
    if (!fs.existsSync(bin)) throw new UsageError(`fuzz: ${bin} is missing; run npm install (it builds native/)`);
  } else if (o.variant !== undefined) {
    if (!isModelVariant(o.variant)) throw new UsageError(`fuzz: unknown --variant '${o.variant}' (model variants: ${MODEL_VARIANTS.join(', ')}; with --native: ${NATIVE_VARIANTS.join(', ')})`);
    variant = o.variant;
  }
  const misuse = o.misuse === true;
  if (native && misuse) throw new UsageError('fuzz: --misuse is not available with --native (hakmem-replay does not replay foreign frees)');
  const spec: RerunSpec = { threads, maxOps, config, schedule, variant, misuse, native };
  const env = execEnv({ config, schedule, variant, misuse, native });

  // One case, from its round seed and fast-check path.
  if (o.caseSeed !== undefined || o.path !== undefined) {
    if (o.caseSeed === undefined || o.path === undefined) throw new UsageError('fuzz: --case-seed and --path go together');
    const seed = int('--case-seed', o.caseSeed, 0, 2 ** 32 - 1);
    if (!/^\d+(:\d+)*$/.test(o.path)) throw new UsageError(`fuzz: --path must look like 12:0:3, got '${o.path}'`);
    const { found } = rerunCase(spec, seed, o.path);
    if (!found) {
      report(o.json, { found: false, case: { seed, path: o.path } }, `hakmem-sim: the case ran clean (seed ${seed}, path ${o.path})`);
      return EXIT_OK;
    }
    return finish(o, found, env, spec, null);
  }

  const seed = o.seed !== undefined ? int('--seed', o.seed, 0, 2 ** 31 - 1) : Math.floor(Math.random() * 2 ** 31);
  const runs = o.runs !== undefined ? int('--runs', o.runs, 1, Number.MAX_SAFE_INTEGER) : o.time !== undefined ? null : 1000;
  const timeSeconds = o.time !== undefined ? int('--time', o.time, 1, 10 ** 7) : null;
  const workers = int('--workers', o.workers, 1, 64);
  const m = /^(\d+)\/(\d+)$/.exec(o.shard);
  if (!m) throw new UsageError(`fuzz: --shard must be i/n, got '${o.shard}'`);
  const shardIndex = Number(m[1]);
  const shardCount = Number(m[2]);
  if (shardCount < 1 || shardIndex >= shardCount) throw new UsageError(`fuzz: --shard ${o.shard}: need 0 <= i < n`);

  const base: CampaignOptions = {
    seed,
    runs,
    timeSeconds,
    threads,
    maxOps,
    schedule,
    config,
    variant,
    misuse,
    native,
    shardIndex,
    shardCount,
    workerIndex: 0,
    workerCount: workers,
  };
  if (!o.json) {
    const budget = runs !== null ? `${num(runs)} runs` : `${timeSeconds} s`;
    process.stderr.write(
      `hakmem-sim: fuzz seed ${seed}, shard ${shardIndex}/${shardCount}, ${workers} worker(s), ${budget}, ${threads} threads max, ` +
        `config ${config}, schedule ${schedule}${variant ? `, variant ${variant}` : ''}${misuse ? ', misuse' : ''}` +
        `${native ? `, native ${path.basename(replayBinary(native.variant))}` : ''}\n`,
    );
  }
  const progress = !o.json && process.stderr.isTTY === true;
  const show = (r: CampaignResult) => {
    if (progress) process.stderr.write(`\r  ${num(r.runs)} runs, ${num(r.calls)} calls, ${r.seconds.toFixed(1)} s (${num(Math.round(r.calls / Math.max(r.seconds, 1e-9)))} calls/s) `);
  };
  const total = workers === 1 ? runCampaign(base, { onRound: show }) : await runWorkers(base, workers, show);
  if (progress) process.stderr.write('\n');
  return finish(o, total.found, env, spec, total, seed);
}

async function runWorkers(base: CampaignOptions, workers: number, show: (r: CampaignResult) => void): Promise<CampaignResult> {
  const latest: CampaignResult[] = [];
  const here = path.dirname(fileURLToPath(import.meta.url));
  const script = path.join(here, '..', 'sim', 'fuzz', 'worker.js');
  const stopBuffer = new SharedArrayBuffer(4);
  const stop = new Int32Array(stopBuffer);
  const results = await Promise.all(
    Array.from({ length: workers }, (_, w) => {
      const input: WorkerInput = { opts: { ...base, workerIndex: w }, stopBuffer };
      return new Promise<CampaignResult>((resolve, reject) => {
        const worker = new Worker(script, { workerData: input });
        let last: CampaignResult | null = null;
        worker.on('message', (msg: WorkerMessage) => {
          last = msg.result;
          latest[w] = msg.result;
          show(sumResults(latest.filter((x) => x !== undefined)));
          if (msg.type === 'done') {
            if (msg.result.found) Atomics.store(stop, 0, 1);
            resolve(msg.result);
          }
        });
        worker.on('error', reject);
        worker.on('exit', (code) => {
          if (last === null || code !== 0) reject(new Error(`fuzz worker ${w} exited with code ${code}`));
        });
      });
    }),
  );
  return sumResults(results);
}

function sumResults(results: readonly CampaignResult[]): CampaignResult {
  const sum: CampaignResult = { runs: 0, rounds: 0, calls: 0, events: 0, preemptions: 0, misuseDetected: 0, seconds: 0, found: null };
  for (const r of results) {
    sum.runs += r.runs;
    sum.rounds += r.rounds;
    sum.calls += r.calls;
    sum.events += r.events;
    sum.preemptions += r.preemptions;
    sum.misuseDetected += r.misuseDetected;
    sum.seconds = Math.max(sum.seconds, r.seconds);
    // The finding of the lowest round, so that the same seed tends to report the same case.
    if (r.found && (sum.found === null || r.found.round < sum.found.round)) sum.found = r.found;
  }
  return sum;
}

function report(json: boolean | undefined, obj: unknown, line: string): void {
  if (json) process.stdout.write(`${JSON.stringify(obj, null, 2)}\n`);
  else process.stdout.write(`${line}\n`);
}

function finish(
  o: FuzzCliOptions,
  found: CaseFinding | null,
  env: ReturnType<typeof execEnv>,
  spec: RerunSpec,
  total: CampaignResult | null,
  seed?: number,
): number {
  const stats = total
    ? {
        seed,
        runs: total.runs,
        rounds: total.rounds,
        calls: total.calls,
        events: total.events,
        misuseDetected: total.misuseDetected,
        seconds: Number(total.seconds.toFixed(3)),
        callsPerSecond: Math.round(total.calls / Math.max(total.seconds, 1e-9)),
      }
    : null;
  if (!found) {
    const s = stats as NonNullable<typeof stats>;
    report(
      o.json,
      { found: false, ...s },
      `hakmem-sim: no finding: ${num(s.runs)} runs, ${num(s.calls)} calls, ${num(s.events)} events in ${s.seconds.toFixed(1)} s (${num(s.callsPerSecond)} calls/s)` +
        (spec.misuse ? `; the misuse was detected (I2) ${num(s.misuseDetected)} times` : ''),
    );
    return EXIT_OK;
  }
  const saved = saveFinding(path.resolve(o.out), found, env, spec);
  const relTrace = shortPath(saved.trace);
  const replayLine = `hakmem-sim replay ${relTrace}`;
  if (o.json) {
    report(
      true,
      {
        found: true,
        ...(stats ?? {}),
        finding: found.finding,
        reproducer: { calls: saved.calls, events: saved.events, preemptions: saved.preemptions, traceCalls: saved.traceCalls, traceEvents: saved.traceEvents },
        shrinks: found.shrinks,
        trace: saved.trace,
        text: saved.text,
        replay: replayLine,
        rerun: saved.rerunLine,
        program: saved.program,
      },
      '',
    );
    return EXIT_FOUND;
  }
  const f = found.finding;
  const after = stats ? ` after ${num(stats.runs)} runs (${num(stats.calls)} calls, ${stats.seconds.toFixed(1)} s)` : '';
  process.stdout.write(
    `hakmem-sim: found ${f.id}${after}: ${f.message}\n` +
      `  shrunk to ${saved.calls} calls, ${saved.events} trace events, ${saved.preemptions} preemptions (the saved trace runs on to the end: ${saved.traceEvents} events); details in ${shortPath(saved.text)}\n` +
      `${replayLine}\n` +
      `${saved.rerunLine}\n`,
  );
  return EXIT_FOUND;
}

/** Relative to the working directory when below it, else absolute. */
function shortPath(p: string): string {
  const rel = path.relative(process.cwd(), p);
  return rel === '' || rel.startsWith('..') || path.isAbsolute(rel) ? p : rel;
}
