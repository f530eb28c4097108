/**
 * Synthetic workloads modelled on the seeds' benchmarks, run on the twin and
 * written as traces (`hakmem-sim gen`). Seeded with seedrandom, so the same
 * seed gives the same trace, byte for byte.
 */
import seedrandom from 'seedrandom';
import type { HakmemConfig } from '../../model/config.js';
import { SynthRecorder } from './synth-recorder.js';

export const WORKLOADS = ['larson', 'random-mixed', 'mid-mt', 'prodcons'] as const;
export type WorkloadName = (typeof WORKLOADS)[number];

export interface GenOptions {
  workload: WorkloadName;
  seed: string;
  /** Stop issuing new work once the trace holds this many events. */
  events: number;
  out: string;
  cfg: HakmemConfig;
  internal?: boolean;
}

interface Rng {
  (): number;
  int(lo: number, hi: number): number;
}

function makeRng(seed: string): Rng {
  const r = seedrandom(seed) as unknown as () => number;
  const f = (() => r()) as Rng;
  f.int = (lo, hi) => lo + Math.floor(r() * (hi - lo + 1));
  return f;
}

/** Generate a trace; returns the number of events written. */
export function generate(opts: GenOptions): number {
  const rec = new SynthRecorder(opts.out, opts.cfg, { internal: opts.internal, comm: `gen:${opts.workload}` });
  const rng = makeRng(`${opts.workload}:${opts.seed}`);
  const budget = Math.max(1, opts.events);
  switch (opts.workload) {
    case 'random-mixed':
      randomMixed(rec, rng, budget);
      break;
    case 'larson':
      larson(rec, rng, budget);
      break;
    case 'mid-mt':
      midMt(rec, rng, budget);
      break;
    case 'prodcons':
      prodcons(rec, rng, budget);
      break;
  }
  const n = rec.eventCount;
  rec.close();
  return n;
}

/** Seed 003: one thread, 256 slots, sizes 16..1024, then everything freed. */
function randomMixed(rec: SynthRecorder, rng: Rng, budget: number): void {
  const slots = new Array<number>(256).fill(0);
  while (rec.eventCount < budget) {
    const k = rng.int(0, slots.length - 1);
    if (slots[k]) rec.free(0, slots[k]);
    slots[k] = rec.malloc(0, rng.int(16, 1024));
  }
  for (const p of slots) if (p) rec.free(0, p);
  rec.threadExit(0);
}

/** Larson-style: the main thread allocates every slot; workers replace them; each worker hands
 * its slots to a successor thread every so often (blocks freed by a thread that did not allocate
 * them). */
function larson(rec: SynthRecorder, rng: Rng, budget: number): void {
  const workers = 4;
  const chunks = 256;
  const arrays: number[][] = [];
  for (let w = 0; w < workers; w++) arrays.push(Array.from({ length: chunks }, () => rec.malloc(0, rng.int(8, 128))));
  const tidOf = Array.from({ length: workers }, (_, w) => w + 1);
  let nextTid = workers + 1;
  const roundsPerGeneration = 2000;
  const done = new Array<number>(workers).fill(0);
  while (rec.eventCount < budget) {
    const w = rng.int(0, workers - 1);
    const a = arrays[w];
    const k = rng.int(0, chunks - 1);
    rec.free(tidOf[w], a[k]);
    a[k] = rec.malloc(tidOf[w], rng.int(8, 128));
    if (++done[w] % roundsPerGeneration === 0) {
      rec.threadExit(tidOf[w]);
      tidOf[w] = nextTid++;
    }
  }
  for (let w = 0; w < workers; w++) {
    for (const p of arrays[w]) rec.free(tidOf[w], p);
    rec.threadExit(tidOf[w]);
  }
  rec.threadExit(0);
}

/** Seed 001: two threads toggling slots of 8 KiB..34 KiB blocks. */
function midMt(rec: SynthRecorder, rng: Rng, budget: number): void {
  const threads = 2;
  const ws = 64;
  const slots = Array.from({ length: threads }, () => new Array<number>(ws).fill(0));
  while (rec.eventCount < budget) {
    const t = rng.int(0, threads - 1);
    const k = rng.int(0, ws - 1);
    if (slots[t][k]) {
      rec.free(t, slots[t][k]);
      slots[t][k] = 0;
    } else slots[t][k] = rec.malloc(t, rng.int(8192, 34815));
  }
  for (let t = 0; t < threads; t++) {
    for (const p of slots[t]) if (p) rec.free(t, p);
    rec.threadExit(t);
  }
}

/** Producer/consumer: producers allocate, consumers free (every free is remote). */
function prodcons(rec: SynthRecorder, rng: Rng, budget: number): void {
  const producers = [1, 2];
  const consumers = [3, 4];
  const queue: number[] = [];
  rec.malloc(0, 64); // the main thread starts first, as in a real program
  while (rec.eventCount < budget) {
    if (queue.length < 1024 && (queue.length === 0 || rng() < 0.5)) {
      const t = producers[rng.int(0, producers.length - 1)];
      queue.push(rec.malloc(t, rng.int(16, 512)));
    } else {
      const t = consumers[rng.int(0, consumers.length - 1)];
      rec.free(t, queue.shift()!);
    }
  }
  while (queue.length) rec.free(consumers[0], queue.shift()!);
  for (const t of [...producers, ...consumers, 0]) rec.threadExit(t);
}
