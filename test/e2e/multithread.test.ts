/**
 * Real multi-threaded programs (pthreads, pointers handed across threads so
 * frees are remote) recorded in exact and fast mode, replayed by the twin and
 * by hakmem-replay.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, runCli } from '../helpers/cli.js';
import { TraceFile, newEvent } from '../../src/sim/trace/reader.js';
import { Op, isAllocOp } from '../../src/sim/trace/format.js';
import { tmpDir } from '../helpers/tmp.js';

const W = path.join(ROOT, 'bench', 'build', 'workloads');
const LIB = path.join(ROOT, 'native', 'build', 'libhakmem.so');

/** Run a workload recorded in fast mode and SIGKILL it after `ms`. */
async function recordKilled(out: string, cmd: string[], ms: number): Promise<void> {
  const child = spawn(cmd[0], cmd.slice(1), { stdio: 'ignore', env: { ...process.env, HAKMEM_TRACE: out, HAKMEM_TRACE_MODE: 'fast', LD_PRELOAD: LIB } });
  await new Promise((r) => setTimeout(r, ms));
  child.kill('SIGKILL');
  const sig = await new Promise((r) => child.on('exit', (_code, signal) => r(signal)));
  expect(sig).toBe('SIGKILL');
}

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

  for (const [producers, consumers] of [
    [1, 1],
    [2, 2],
  ]) {
    it(`fast mode killed by SIGKILL with ${producers + consumers} threads: a version-2 file both readers recover as the same sequence, in a causal order`, async () => {
      const trace = path.join(dir, `killed-${producers}x${consumers}.hkt`);
      await recordKilled(trace, [path.join(W, 'prodcons'), String(producers), String(consumers), '100000000'], 80);
      const head = fs.readFileSync(trace).subarray(0, 16);
      expect(head.readUInt32LE(8)).toBe(2);
      const info = JSON.parse(runCli(['info', trace, '--json']).stdout) as { events: number };
      expect(info.events).toBeGreaterThan(10_000);
      // The TS reader: each thread's calls between its THREAD_START and the end; every free of a
      // block named by an earlier allocation, none of a block already freed (a remote free never
      // precedes the malloc that produced its block).
      const t = TraceFile.open(trace);
      try {
        expect(t.header.complete).toBe(false);
        expect(t.chunked).toBe(true);
        const c = t.cursor();
        const live = new Set<number>();
        const started = new Set<number>();
        let bad = 0;
        let frees = 0;
        let events = 0;
        for (const ev = newEvent(); c.next(ev); ) {
          events++;
          if (ev.op === Op.THREAD_START) started.add(ev.tid);
          else if (ev.op <= Op.USABLE_SIZE && ev.tid !== 0 && !started.has(ev.tid)) bad++;
          if (isAllocOp(ev.op) && ev.b) {
            if (ev.op === Op.REALLOC && ev.extB[0]) live.delete(ev.extB[0]);
            live.add(ev.b);
          } else if (ev.op === Op.FREE && ev.a === 0) {
            frees++;
            if (!live.delete(ev.b)) bad++;
          }
        }
        expect(events).toBe(info.events);
        expect(frees).toBeGreaterThan(1000);
        expect(bad).toBe(0);
        expect(c.holes).toBeLessThanOrEqual(producers + consumers + 1);
        // Checkpoints inside the merged chunks: seek(position) and the TUI's seek past an event
        // resume at the same event.
        const k = Math.floor(events / 2);
        const a = t.cursor();
        const ev = newEvent();
        for (let i = 0; i < k; i++) a.next(ev);
        const pos = a.position;
        const lastSlot = ev.slot + 1 + ev.nExt;
        const want: string[] = [];
        for (let i = 0; i < 50 && a.next(ev); i++) want.push(`${ev.index} ${ev.tid} ${ev.op} ${ev.a} ${ev.b}`);
        for (const target of [pos, { slot: lastSlot, index: k }]) {
          const b = t.cursor();
          b.seek(target);
          const got: string[] = [];
          for (let i = 0; i < 50 && b.next(ev); i++) got.push(`${ev.index} ${ev.tid} ${ev.op} ${ev.a} ${ev.b}`);
          expect(got).toEqual(want);
        }
      } finally {
        t.close();
      }
      // The C reader (hakmem-replay) replays the same sequence the twin does: every placement and
      // digest agrees.
      const j = JSON.parse(runCli(['diff', trace, '--native', '--json']).stdout) as DiffJson;
      expect(j.native!.placements).toBe(j.recorded.agreement.allocations);
      expect(j.native!.digests).toBeGreaterThan(0);
      expect(j.native!.disagreements, JSON.stringify(j.native)).toBe(0);
      if (producers === 1) {
        // A flipped bit in a chunk header: both readers stop with one line naming its byte.
        const tf = TraceFile.open(trace);
        const hdrByte = 4096 + tf.chunkBase * 16 + 8;
        tf.close();
        const bad = path.join(dir, 'killed-bad.hkt');
        const buf = fs.readFileSync(trace);
        buf[hdrByte] ^= 1;
        fs.writeFileSync(bad, buf);
        const ts = runCli(['info', bad]);
        expect(ts.status).toBe(2);
        expect(ts.stderr.trim().split('\n')).toHaveLength(1);
        expect(ts.stderr).toContain(`byte ${hdrByte - 8}`);
        const c = spawnSync(path.join(ROOT, 'native', 'build', 'hakmem-replay'), ['--quiet', bad], { encoding: 'utf8' });
        expect(c.status).toBe(2);
        expect(c.stderr.trim().split('\n')).toHaveLength(1);
        expect(c.stderr).toContain(`byte ${hdrByte - 8}`);
      }
    });
  }
});
