/**
 * Real multi-threaded programs (pthreads, pointers handed across threads so
 * frees are remote) recorded in exact and fast mode, replayed by the twin and
 * by hakmem-replay.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, runCli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';

const W = path.join(ROOT, 'bench', 'build', 'workloads');

interface DiffJson {
  recorded: { agreementPercent: number; disagreements: number; threads: number; agreement: { allocations: number; frees: number } };
  native: { placements: number; verdicts: number; digests: number; disagreements: number; agreementPercent: number } | null;
}

function record(out: string, mode: 'exact' | 'fast', cmd: string[]): void {
  const r = runCli(['record', '--mode', mode, '--out', out, '--', ...cmd]);
  expect(r.status, r.stderr).toBe(0);
}

describe('multi-threaded programs', () => {
  let dir: string;
  let cleanup: () => void;
  beforeAll(() => ({ dir, cleanup } = tmpDir()));
  afterAll(() => cleanup());

  it('producer/consumer in exact mode: the twin and hakmem-replay agree with the recording on every event', () => {
    const trace = path.join(dir, 'pc-exact.hkt');
    record(trace, 'exact', [path.join(W, 'prodcons'), '2', '2', '5000']);
    const replay = runCli(['replay', trace, '--json']);
    expect(replay.status, replay.stdout).toBe(0);
    const s = JSON.parse(replay.stdout);
    expect(s.threads).toBeGreaterThanOrEqual(5);
    expect(s.violations).toBe(0);
    expect(s.agreementPercent).toBe(100);
    const d = runCli(['diff', trace, '--native', '--json']);
    expect(d.status, d.stdout.slice(0, 2000)).toBe(0);
    const j = JSON.parse(d.stdout) as DiffJson;
    expect(j.recorded.disagreements).toBe(0);
    expect(j.native!.placements).toBe(j.recorded.agreement.allocations);
    expect(j.native!.digests).toBeGreaterThan(0);
    expect(j.native!.disagreements).toBe(0);
  });

  it('producer/consumer in fast mode: hakmem-replay and the twin agree with each other', () => {
    const trace = path.join(dir, 'pc-fast.hkt');
    record(trace, 'fast', [path.join(W, 'prodcons'), '2', '2', '5000']);
    const d = runCli(['diff', trace, '--native', '--json']);
    const j = JSON.parse(d.stdout) as DiffJson;
    expect(j.native!.placements).toBeGreaterThan(10_000);
    expect(j.native!.disagreements).toBe(0);
    expect(j.native!.agreementPercent).toBe(100);
  });

  it('larson-style threads handing blocks to successors, exact mode: clean replay', () => {
    const trace = path.join(dir, 'larson.hkt');
    record(trace, 'exact', [path.join(W, 'larson'), '4', '256', '8', '128', '2000', '3', '1']);
    const r = runCli(['replay', trace, '--json']);
    const s = JSON.parse(r.stdout);
    expect(r.status, JSON.stringify(s.firstDisagreement ?? s.firstViolation)).toBe(0);
    expect(s.threads).toBeGreaterThanOrEqual(13);
    expect(s.agreementPercent).toBe(100);
  });

  it('mid-size blocks from Pool TLS on two threads (seed 001), exact mode: clean replay', () => {
    const trace = path.join(dir, 'mid.hkt');
    record(trace, 'exact', [path.join(W, 'mid_large_mt'), '2', '5000', '128']);
    const r = runCli(['replay', trace, '--json']);
    const s = JSON.parse(r.stdout);
    expect(r.status, JSON.stringify(s.firstDisagreement ?? s.firstViolation)).toBe(0);
    expect(s.agreement.regionEvents).toBeGreaterThan(10);
  });

  it('the same in fast mode: racing pool-page mappings may be recorded out of order, yet the twin and hakmem-replay agree', () => {
    const trace = path.join(dir, 'mid-fast.hkt');
    record(trace, 'fast', [path.join(W, 'mid_large_mt'), '2', '5000', '128']);
    const j = JSON.parse(runCli(['diff', trace, '--native', '--json']).stdout) as DiffJson;
    expect(j.native!.placements).toBeGreaterThan(5000);
    expect(j.native!.disagreements, JSON.stringify(j.native)).toBe(0);
  });
});
