import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TraceFile, newEvent, type TraceEvent } from '../../src/sim/trace/reader.js';
import { TraceWriter } from '../../src/sim/trace/writer.js';
import { FLAG_EXACT, HKT_HEADER_BYTES, HKT_SLOT_BYTES, Op } from '../../src/sim/trace/format.js';
import { TraceError } from '../../src/sim/trace/errors.js';
import { tmpDir } from '../helpers/tmp.js';

const CONFIG: [string, bigint][] = [
  ['superslab_size_bytes', 1048576n],
  ['slab_size_bytes', 65536n],
];

function readAll(file: string): TraceEvent[] {
  const t = TraceFile.open(file);
  try {
    const c = t.cursor();
    const out: TraceEvent[] = [];
    for (let ev = newEvent(); c.next(ev); ev = newEvent()) out.push(ev);
    return out;
  } finally {
    t.close();
  }
}

function writeSample(file: string, events: number): void {
  const w = new TraceWriter(file, { config: CONFIG, flags: FLAG_EXACT, pid: 42, comm: 'sample', heapBase: 0x7f0000000000, heapBytes: 1 << 30 });
  w.event(Op.THREAD_START, 0, 0, 1234);
  for (let i = 0; i < events; i++) {
    w.event(Op.MALLOC, i % 3, 16 + i, 0x7f0000000000 + i * 16);
    if (i % 5 === 0) w.event(Op.REALLOC, 1, 4096, 0x7f0000100000 + i, [[0, 0x7f0000000000 + i * 16]]);
    if (i % 7 === 0) w.event(Op.CALLOC, 2, 0xffffffff, 0, [[0, 2 ** 40], [0, 2 ** 30]]);
  }
  w.close();
}

describe('trace writer and reader', () => {
  let dir: string;
  let cleanup: () => void;
  beforeEach(() => ({ dir, cleanup } = tmpDir()));
  afterEach(() => cleanup());

  it('round-trips header, events and extension slots', () => {
    const f = path.join(dir, 'rt.hkt');
    writeSample(f, 200_000); // several read chunks
    const t = TraceFile.open(f);
    expect(t.header.complete).toBe(true);
    expect(t.header.exact).toBe(true);
    expect(t.header.pid).toBe(42);
    expect(t.header.comm).toBe('sample');
    expect(t.header.config.get('slab_size_bytes')).toBe(65536n);
    t.close();
    const evs = readAll(f);
    expect(evs[0]).toMatchObject({ index: 0, op: Op.THREAD_START, b: 1234 });
    const mallocs = evs.filter((e) => e.op === Op.MALLOC);
    expect(mallocs).toHaveLength(200_000);
    expect(mallocs[199_999]).toMatchObject({ tid: 199_999 % 3, a: 16 + 199_999, b: 0x7f0000000000 + 199_999 * 16 });
    const realloc = evs.find((e) => e.op === Op.REALLOC)!;
    expect(realloc.nExt).toBe(1);
    expect(realloc.extB[0]).toBe(0x7f0000000000);
    const calloc = evs.find((e) => e.op === Op.CALLOC)!;
    expect([calloc.extB[0], calloc.extB[1]]).toEqual([2 ** 40, 2 ** 30]);
    expect(evs.map((e) => e.index)).toEqual(evs.map((_, i) => i));
  });

  it('rejects an empty file, a directory, wrong magic and an unknown version', () => {
    const empty = path.join(dir, 'empty.hkt');
    fs.writeFileSync(empty, '');
    expect(() => TraceFile.open(empty)).toThrow(/empty file/);
    expect(() => TraceFile.open(dir)).toThrow(/is a directory/);
    const text = path.join(dir, 'text.hkt');
    fs.writeFileSync(text, 'hello world, not a trace\n'.repeat(300));
    expect(() => TraceFile.open(text)).toThrow(/byte 0: not a hakmem trace/);
    const f = path.join(dir, 'v.hkt');
    writeSample(f, 10);
    const buf = fs.readFileSync(f);
    buf.writeUInt32LE(99, 8);
    fs.writeFileSync(f, buf);
    expect(() => TraceFile.open(f)).toThrow(/byte 8: unsupported trace format version 99/);
  });

  it('reports a truncated complete trace with the byte offset', () => {
    const f = path.join(dir, 't.hkt');
    writeSample(f, 100);
    const size = fs.statSync(f).size;
    fs.truncateSync(f, size - 24);
    expect(() => TraceFile.open(f)).toThrow(new RegExp(`byte ${size - 24}: truncated`));
  });

  it('catches a flipped bit in any slot with its event number', () => {
    const f = path.join(dir, 'flip.hkt');
    writeSample(f, 50);
    const buf = fs.readFileSync(f);
    const slot = 20;
    const byte = HKT_HEADER_BYTES + slot * HKT_SLOT_BYTES + 11;
    buf[byte] ^= 0x10;
    fs.writeFileSync(f, buf);
    let err: unknown;
    try {
      readAll(f);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TraceError);
    expect((err as TraceError).byteOffset).toBe(HKT_HEADER_BYTES + slot * HKT_SLOT_BYTES);
    expect((err as TraceError).message).toMatch(/event \d+\): corrupt slot/);
    // The valid prefix stays usable.
    const t = TraceFile.open(f);
    const c = t.cursor({ allowPrefix: true });
    const ev = newEvent();
    let n = 0;
    while (c.next(ev)) n++;
    t.close();
    expect(n).toBeGreaterThan(0);
    expect(c.stoppedAt?.byteOffset).toBe(HKT_HEADER_BYTES + slot * HKT_SLOT_BYTES);
  });

  it('catches a corrupt header through its CRC', () => {
    const f = path.join(dir, 'h.hkt');
    writeSample(f, 5);
    const buf = fs.readFileSync(f);
    buf[300] ^= 1; // inside the config table
    fs.writeFileSync(f, buf);
    expect(() => TraceFile.open(f)).toThrow(/byte 76: header checksum mismatch/);
  });

  it('recovers an unclosed trace: trailing zeros end it, holes are skipped and counted', () => {
    const f = path.join(dir, 'crash.hkt');
    const w = new TraceWriter(f, { config: CONFIG });
    for (let i = 0; i < 10; i++) w.event(Op.MALLOC, 0, 32, 0x1000 * (i + 1));
    w.close({ complete: false });
    // Simulate a killed process: a window of zeros after the slots, and one slot never completed.
    const buf = fs.readFileSync(f);
    const grown = Buffer.concat([buf, Buffer.alloc(64 * HKT_SLOT_BYTES)]);
    grown.fill(0, HKT_HEADER_BYTES + 4 * HKT_SLOT_BYTES, HKT_HEADER_BYTES + 5 * HKT_SLOT_BYTES);
    fs.writeFileSync(f, grown);
    const t = TraceFile.open(f);
    expect(t.header.complete).toBe(false);
    const c = t.cursor();
    const ev = newEvent();
    const seen: number[] = [];
    while (c.next(ev)) seen.push(ev.b);
    t.close();
    expect(seen).toHaveLength(9);
    expect(seen).not.toContain(0x5000);
    expect(c.holes).toBe(1);
  });
});
