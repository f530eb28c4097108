import path from 'node:path';
import fs from 'node:fs';
import { DEFAULT_CONFIG } from '../model/config.js';
import { generate, WORKLOADS, type WorkloadName } from '../sim/gen/workloads.js';
import { EXIT_OK, UsageError } from './errors.js';
import { num } from './format.js';

export function genCommand(workload: string, opts: { seed: string; events: string; out: string; internal?: boolean }): number {
  if (!(WORKLOADS as readonly string[]).includes(workload)) {
    throw new UsageError(`gen: unknown workload '${workload}' (one of: ${WORKLOADS.join(', ')})`);
  }
  if (!/^\d+$/.test(opts.events) || Number(opts.events) < 1) throw new UsageError(`gen: --events must be a positive integer, got '${opts.events}'`);
  const dir = path.dirname(path.resolve(opts.out));
  if (!fs.existsSync(dir)) throw new UsageError(`gen: ${dir}: no such directory`);
  const n = generate({
    workload: workload as WorkloadName,
    seed: opts.seed,
    events: Number(opts.events),
    out: opts.out,
    cfg: DEFAULT_CONFIG,
    internal: opts.internal,
  });
  process.stderr.write(`hakmem-sim: wrote ${num(n)} events of ${workload} (seed ${opts.seed}) to ${opts.out}\n`);
  return EXIT_OK;
}
