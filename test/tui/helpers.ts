import path from 'node:path';
import { DEFAULT_CONFIG, copyConfig } from '../../src/model/config.js';
import { generate } from '../../src/sim/gen/workloads.js';
import { SynthRecorder } from '../../src/sim/gen/synth-recorder.js';

export const KEYS = {
  right: '\u001B[C',
  left: '\u001B[D',
  up: '\u001B[A',
  down: '\u001B[B',
  pageDown: '\u001B[6~',
  pageUp: '\u001B[5~',
  home: '\u001B[H',
  end: '\u001B[F',
  tab: '\t',
  enter: '\r',
} as const;

export const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A larson trace of about `events` events. */
export function larsonTrace(dir: string, events = 20_000): string {
  const out = path.join(dir, `larson-${events}.hkt`);
  generate({ workload: 'larson', seed: '1', events, out, cfg: copyConfig(DEFAULT_CONFIG) });
  return out;
}

/** A small trace with one double free (an I2 violation); returns the file and the second free's event. */
export function doubleFreeTrace(dir: string): { file: string; ptr: number } {
  const file = path.join(dir, 'double-free.hkt');
  const rec = new SynthRecorder(file, copyConfig(DEFAULT_CONFIG));
  const ptrs: number[] = [];
  for (let i = 0; i < 40; i++) ptrs.push(rec.malloc(0, 24 + (i % 5) * 16));
  const victim = ptrs[7];
  rec.free(0, victim);
  for (let i = 0; i < 10; i++) rec.free(0, ptrs[20 + i]);
  rec.free(0, victim); // the double free
  for (let i = 0; i < 20; i++) rec.malloc(1, 200);
  rec.threadExit(1);
  rec.threadExit(0);
  rec.close();
  return { file, ptr: victim };
}
