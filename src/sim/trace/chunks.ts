/**
 * The version-2 merge: the TypeScript twin of native/include/hakmem_trace_merge.h (the rule the
 * recorder applies when it closes a fast-mode trace, and hkt_reader.h applies to a crashed one).
 * docs/trace-format.md, "Version 2", is the contract; both sides must give the same sequence.
 *
 * Memory is bounded by the number of threads: one 64-slot chunk buffer (1 KiB) per thread, read
 * with positioned reads as the thread's chain of chunks is followed. Finding each thread's first
 * chunk reads the chunk area once through one 1 MiB buffer.
 */
import fs from 'node:fs';
import {
  EXT_RANGE,
  EXT_SHIFT,
  HKT_CHUNK_SLOTS,
  HKT_HEADER_BYTES,
  HKT_SLOT_BYTES,
  OP_CHUNK,
  OP_CLOCK,
  OP_EXT,
  OP_MASK,
  OP_NAMES,
  slotCheck,
} from './format.js';
import type { TraceEvent } from './reader.js';

const CHUNK_BYTES = HKT_CHUNK_SLOTS * HKT_SLOT_BYTES;
const SCAN_CHUNKS = 1024; // chunk headers examined per 1 MiB read while finding first chunks
const TWO32 = 0x1_0000_0000;

/** A format problem in the chunk area, at a slot. */
export class MergeError extends Error {
  constructor(
    readonly slot: number,
    readonly problem: string,
  ) {
    super(problem);
  }
}

/** One thread's position in its chain of chunks. */
export class ChainCursor {
  readonly buf = Buffer.alloc(CHUNK_BYTES);
  readonly u16 = new Uint16Array(this.buf.buffer, this.buf.byteOffset, CHUNK_BYTES >> 1);
  readonly u32 = new Uint32Array(this.buf.buffer, this.buf.byteOffset, CHUNK_BYTES >> 2);
  /** Slot of the current chunk's header. */
  chunk = 0;
  /** Chunk number of the current chunk. */
  number = 0;
  /** Next slot to look at, as an index inside the chunk (1..64). */
  pos = 1;
  /** Clock base, as two 32-bit halves; the head event's clock likewise. */
  baseHi = 0;
  baseLo = 0;
  keyHi = 0;
  keyLo = 0;
  constructor(readonly tid: number) {}

  /** Whether the slot at index i of the buffer is intact. */
  ok(i: number): boolean {
    const w = i * 4;
    return slotCheck(this.buf[i * 16], this.u16[i * 8 + 1], this.u32[w + 1], this.u32[w + 2], this.u32[w + 3]) === this.buf[i * 16 + 1];
  }
}

export class ChunkMerge {
  private readonly cur: ChainCursor[] = [];
  private readonly heap: ChainCursor[] = [];
  /** Events lost mid-write: an op-0 main slot right before written extension slots. */
  holes = 0;
  /** Chunk headers found. */
  chunks = 0;
  /** Slots handed out so far (events' main and extension slots). */
  consumed = 0;

  constructor(
    private readonly fd: number,
    /** Slots that may be read: up to the last non-empty one. */
    private readonly nSlots: number,
    /** Slot of chunk 0. */
    private readonly chunkBase: number,
  ) {}

  /** Find every thread's first chunk and its first event. */
  begin(): void {
    const seen = new Set<number>();
    const buf = Buffer.alloc(SCAN_CHUNKS * CHUNK_BYTES);
    for (let s0 = this.chunkBase; s0 < this.nSlots; s0 += SCAN_CHUNKS * HKT_CHUNK_SLOTS) {
      const slots = Math.min(SCAN_CHUNKS * HKT_CHUNK_SLOTS, this.nSlots - s0);
      this.read(buf, slots, s0);
      for (let i = 0; i < slots; i += HKT_CHUNK_SLOTS) {
        const o = i * HKT_SLOT_BYTES;
        const op = buf[o];
        if (op === 0) continue; // claimed and never written, or never claimed
        const c = buf.readUInt16LE(o + 2);
        const ok = slotCheck(op, c, buf.readUInt32LE(o + 4), buf.readUInt32LE(o + 8), buf.readUInt32LE(o + 12)) === buf[o + 1];
        if (op !== OP_CHUNK || !ok) throw new MergeError(s0 + i, 'expected a chunk header');
        this.chunks++;
        if (seen.has(c)) continue;
        seen.add(c);
        const cur = new ChainCursor(c);
        this.load(cur, s0 + i);
        cur.number = (s0 + i - this.chunkBase) / HKT_CHUNK_SLOTS;
        this.cur.push(cur);
        if (this.settle(cur)) this.push(cur);
      }
    }
  }

  /** The thread whose event comes next (its event is at cursor.pos), or null at the end. */
  peek(): ChainCursor | null {
    return this.heap.length ? this.heap[0] : null;
  }

  /** Fill ev (all but index) from the head cursor's event and move past it. */
  take(c: ChainCursor, ev: TraceEvent): void {
    const i = c.pos;
    const o = i * HKT_SLOT_BYTES;
    const opByte = c.buf[o];
    const op = opByte & OP_MASK;
    const nExt = opByte >>> EXT_SHIFT;
    const slot = c.chunk + i;
    const range = EXT_RANGE[op];
    if (range === undefined) throw new MergeError(slot, `unknown operation ${op}`);
    if (nExt < range[0] || nExt > range[1]) {
      throw new MergeError(slot, `${OP_NAMES[op]} with ${nExt} extension slots (expected ${range[0]}..${range[1]})`);
    }
    ev.slot = slot;
    ev.op = op;
    ev.tid = c.tid;
    ev.nExt = nExt;
    ev.a = c.u32[i * 4 + 1];
    ev.b = c.u32[i * 4 + 2] + c.u32[i * 4 + 3] * TWO32;
    for (let k = 1; k <= nExt; k++) {
      const x = c.buf[(i + k) * HKT_SLOT_BYTES];
      if (x !== OP_EXT) {
        throw new MergeError(slot + k, x === 0 ? 'extension slot never completed' : 'an event where an extension slot was due');
      }
      if (!c.ok(i + k)) throw new MergeError(slot + k, 'corrupt slot (check byte mismatch)');
      ev.extA[k - 1] = c.u32[(i + k) * 4 + 1];
      ev.extB[k - 1] = c.u32[(i + k) * 4 + 2] + c.u32[(i + k) * 4 + 3] * TWO32;
    }
    c.pos = i + 1 + nExt;
    this.consumed += 1 + nExt;
    if (this.settle(c)) this.siftDown(0);
    else {
      const last = this.heap.pop()!;
      if (this.heap.length) {
        this.heap[0] = last;
        this.siftDown(0);
      }
    }
  }

  /** Move c to its thread's next event; false when the thread has no more. */
  private settle(c: ChainCursor): boolean {
    for (;;) {
      if (c.pos < HKT_CHUNK_SLOTS && c.chunk + c.pos < this.nSlots) {
        const i = c.pos;
        const op = c.buf[i * HKT_SLOT_BYTES];
        if (op !== 0) {
          if (!c.ok(i)) throw new MergeError(c.chunk + i, 'corrupt slot (check byte mismatch)');
          if (op === OP_CLOCK) {
            c.baseLo = c.u32[i * 4 + 2];
            c.baseHi = c.u32[i * 4 + 3];
            c.pos++;
            continue;
          }
          if (op === OP_EXT) throw new MergeError(c.chunk + i, 'extension slot where an event was due');
          if ((op & OP_MASK) === OP_CHUNK) throw new MergeError(c.chunk + i, 'chunk header inside a chunk');
          if (i + (op >>> EXT_SHIFT) >= HKT_CHUNK_SLOTS) throw new MergeError(c.chunk + i, 'event runs past the end of its chunk');
          const lo = c.baseLo + c.u16[i * 8 + 1];
          c.keyLo = lo >>> 0;
          c.keyHi = c.baseHi + (lo >= TWO32 ? 1 : 0);
          return true;
        }
        // op 0: the chunk's events end here; extension slots right after it are a lost event's
        if (i + 1 < HKT_CHUNK_SLOTS && c.chunk + i + 1 < this.nSlots && c.buf[(i + 1) * HKT_SLOT_BYTES] === OP_EXT) this.holes++;
      }
      const next = c.u32[1];
      if (next === 0) return false;
      if (next <= c.number) throw new MergeError(c.chunk, 'chunk link goes backwards');
      const s = this.chunkBase + next * HKT_CHUNK_SLOTS;
      if (s >= this.nSlots) throw new MergeError(c.chunk, 'chunk link past the end of the file');
      this.load(c, s);
      if (c.buf[0] !== OP_CHUNK || !c.ok(0) || c.u16[1] !== c.tid) throw new MergeError(s, 'linked chunk has no header of its thread');
      c.number = next;
    }
  }

  /** Read the chunk at slot s into c (zeros past the readable slots) and start at its first slot. */
  private load(c: ChainCursor, s: number): void {
    const n = Math.min(HKT_CHUNK_SLOTS, this.nSlots - s);
    this.read(c.buf, n, s);
    if (n < HKT_CHUNK_SLOTS) c.buf.fill(0, n * HKT_SLOT_BYTES);
    c.chunk = s;
    c.pos = 1;
    c.baseLo = c.u32[2];
    c.baseHi = c.u32[3];
  }

  private read(buf: Buffer, slots: number, slot: number): void {
    const want = slots * HKT_SLOT_BYTES;
    const got = fs.readSync(this.fd, buf, 0, want, HKT_HEADER_BYTES + slot * HKT_SLOT_BYTES);
    if (got !== want) throw new MergeError(slot + Math.floor(got / HKT_SLOT_BYTES), 'truncated: the file ended while reading');
  }

  private less(a: ChainCursor, b: ChainCursor): boolean {
    if (a.keyHi !== b.keyHi) return a.keyHi < b.keyHi;
    if (a.keyLo !== b.keyLo) return a.keyLo < b.keyLo;
    return a.tid < b.tid;
  }

  private push(c: ChainCursor): void {
    const h = this.heap;
    let i = h.length;
    h.push(c);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(h[i], h[p])) return;
      [h[i], h[p]] = [h[p], h[i]];
      i = p;
    }
  }

  private siftDown(i: number): void {
    const h = this.heap;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let s = i;
      if (l < h.length && this.less(h[l], h[s])) s = l;
      if (r < h.length && this.less(h[r], h[s])) s = r;
      if (s === i) return;
      [h[i], h[s]] = [h[s], h[i]];
      i = s;
    }
  }
}
