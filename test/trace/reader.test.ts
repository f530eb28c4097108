import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TraceFile, newEvent, type TraceEvent } from '../../src/sim/trace/reader.js';
import { TraceWriter } from '../../src/sim/trace/writer.js';
import { FLAG_EXACT, HKT_HEADER_BYTES, HKT_SLOT_BYTES, OP_CHUNK, OP_CLOCK, OP_EXT, Op, headerCrc, slotCheck } from '../../src/sim/trace/format.js';
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
    // Stopped for good: the events past the corrupt slot are not read.
    expect(c.next(ev)).toBe(false);
    expect(c.eventsRead).toBe(n);
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

describe('version 2 (per-thread chunks): the merge rule of docs/trace-format.md', () => {
  let dir: string;
  let cleanup: () => void;
  beforeEach(() => ({ dir, cleanup } = tmpDir()));
  afterEach(() => cleanup());

  /** A version-2 file: the writer's header, patched, then raw slots [slot, op, c, a, b]. */
  function writeV2(file: string, ordered: number, slots: [number, number, number, number, number][]): void {
    const w = new TraceWriter(file, { config: CONFIG, pid: 7, comm: 'v2' });
    w.close({ complete: false });
    const head = fs.readFileSync(file).subarray(0, HKT_HEADER_BYTES);
    head.writeUInt32LE(2, 8);
    head.writeBigUInt64LE(BigInt(ordered), 160);
    head.writeUInt32LE(headerCrc(head), 76);
    const n = Math.max(...slots.map((s) => s[0])) + 1;
    const body = Buffer.alloc(n * HKT_SLOT_BYTES);
    for (const [slot, op, c, a, b] of slots) {
      const o = slot * HKT_SLOT_BYTES;
      body[o] = op;
      body[o + 1] = slotCheck(op, c, a >>> 0, b >>> 0, Math.floor(b / 2 ** 32));
      body.writeUInt16LE(c, o + 2);
      body.writeUInt32LE(a >>> 0, o + 4);
      body.writeBigUInt64LE(BigInt(b), o + 8);
    }
    fs.writeFileSync(file, Buffer.concat([head, body]));
  }

  const REALLOC_1EXT = Op.REALLOC | (1 << 6);
  const V2: [number, number, number, number, number][] = [
    // ordered prefix (ordered_slots = 2): thread 0
    [0, Op.THREAD_START, 0, 0, 99],
    [1, Op.MALLOC, 0, 10, 0x1000],
    // chunk 0 at slot 64: thread 1, base 1000, next chunk 2
    [64, OP_CHUNK, 1, 2, 1000],
    [65, Op.MALLOC, 5, 11, 0x2000], // clock 1005
    [66, OP_CLOCK, 0, 0, 2000],
    [67, Op.FREE, 0, 0, 0x2000], // clock 2000
    // chunk 1 at slot 128: thread 2, base 1003, no next chunk
    [128, OP_CHUNK, 2, 0, 1003],
    [129, Op.MALLOC, 2, 12, 0x3000], // clock 1005: ties with thread 1's, which goes first
    [130, REALLOC_1EXT, 10, 13, 0x4000], // clock 1013
    [131, OP_EXT, 0, 0, 0x3000],
    // slot 132 empty, 133 an extension: an event the process died writing (a hole)
    [133, OP_EXT, 0, 0, 0x5000],
    // chunk 2 at slot 192: thread 1's next, base 1500 (earlier than its last clock: its order stays)
    [192, OP_CHUNK, 1, 0, 1500],
    [193, Op.MALLOC, 0, 14, 0x6000],
  ];

  it('reads the prefix, then the threads merged by (clock, thread), each in its own order, and counts the hole', () => {
    const f = path.join(dir, 'v2.hkt');
    writeV2(f, 2, V2);
    const t = TraceFile.open(f);
    expect(t.header.version).toBe(2);
    expect(t.header.complete).toBe(false);
    expect(t.chunked).toBe(true);
    expect(t.chunkBase).toBe(64);
    const c = t.cursor();
    const got: string[] = [];
    for (const ev = newEvent(); c.next(ev); ) got.push(`${ev.index} t${ev.tid} ${ev.op} ${ev.a}${ev.nExt ? ` ext ${ev.extB[0]}` : ''}`);
    expect(got).toEqual([
      `0 t0 ${Op.THREAD_START} 0`,
      `1 t0 ${Op.MALLOC} 10`,
      `2 t1 ${Op.MALLOC} 11`,
      `3 t2 ${Op.MALLOC} 12`,
      `4 t2 ${Op.REALLOC} 13 ext ${0x3000}`,
      `5 t1 ${Op.FREE} 0`,
      `6 t1 ${Op.MALLOC} 14`,
    ]);
    expect(c.holes).toBe(1);
    t.close();
  });

  it('rejects a backward chunk link and a chunk header naming another thread, at the byte', () => {
    const back = path.join(dir, 'back.hkt');
    writeV2(back, 2, V2.map((s) => (s[0] === 192 ? ([192, OP_CHUNK, 1, 1, 1500] as typeof s) : s)));
    expect(() => readAll(back)).toThrow(new RegExp(`byte ${4096 + 192 * 16}.*chunk link goes backwards`));
    const other = path.join(dir, 'other.hkt');
    writeV2(other, 2, V2.map((s) => (s[0] === 192 ? ([192, OP_CHUNK, 2, 0, 1500] as typeof s) : s)));
    expect(() => readAll(other)).toThrow(new RegExp(`byte ${4096 + 192 * 16}.*linked chunk has no header of its thread`));
  });
});
