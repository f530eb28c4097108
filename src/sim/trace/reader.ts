/**
 * Streaming trace reader: reads the file in fixed chunks through one reused
 * buffer, so memory stays bounded whatever the trace's length. The cursor
 * fills one reused TraceEvent per call (no allocation per event).
 */
import fs from 'node:fs';
import os from 'node:os';
import { EXT_RANGE, EXT_SHIFT, HKT_CHUNK_SLOTS, HKT_HEADER_BYTES, HKT_SLOT_BYTES, OP_EXT, OP_MASK, OP_NAMES, slotCheck } from './format.js';
import { ChunkMerge, MergeError } from './chunks.js';
import { TraceError } from './errors.js';
import { parseHeader, type TraceHeader } from './header.js';

/** One event. Values are numbers: addresses and sizes below 2^53 are exact. */
export interface TraceEvent {
  /** Event number, from 0. */
  index: number;
  /** Index of its main slot. */
  slot: number;
  op: number;
  tid: number;
  a: number;
  b: number;
  nExt: number;
  extA: [number, number, number];
  extB: [number, number, number];
}

export function newEvent(): TraceEvent {
  return { index: 0, slot: 0, op: 0, tid: 0, a: 0, b: 0, nExt: 0, extA: [0, 0, 0], extB: [0, 0, 0] };
}

export function copyEvent(e: TraceEvent): TraceEvent {
  return { ...e, extA: [...e.extA], extB: [...e.extB] };
}

const CHUNK_SLOTS = 1 << 16; // 1 MiB per read

// The cursor reads slots through typed arrays, which use the machine's byte order.
if (os.endianness() !== 'LE') throw new Error('hakmem-sim reads traces on little-endian machines only');

export interface OpenOptions {
  /** Stop at the first corrupt slot and treat the events before it as the trace. */
  allowPrefix?: boolean;
}

export class TraceFile {
  readonly header: TraceHeader;
  /** Slots holding events: for a recovered trace, up to the last non-empty slot. */
  readonly slotLimit: number;
  readonly fileBytes: number;
  /**
   * Version 2 (a fast-mode trace left by a crash): the ordered prefix is read first, up to its
   * last non-empty slot, then the per-thread chunks from chunkBase on, merged (chunks.ts).
   * Version 1: prefixSlots = slotLimit and chunked is false.
   */
  readonly prefixSlots: number;
  readonly chunked: boolean;
  readonly chunkBase: number;

  private constructor(
    readonly path: string,
    private readonly fd: number,
    header: TraceHeader,
    fileBytes: number,
    slotLimit: number,
    prefixSlots: number,
  ) {
    this.header = header;
    this.fileBytes = fileBytes;
    this.slotLimit = slotLimit;
    this.prefixSlots = prefixSlots;
    this.chunked = header.orderedSlots !== null;
    this.chunkBase = header.orderedSlots === null ? slotLimit : Math.ceil(header.orderedSlots / HKT_CHUNK_SLOTS) * HKT_CHUNK_SLOTS;
  }

  static open(path: string): TraceFile {
    let st: fs.Stats;
    try {
      st = fs.statSync(path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new TraceError(path, 0, null, code === 'ENOENT' ? 'no such file' : `cannot open (${code ?? 'error'})`);
    }
    if (st.isDirectory()) throw new TraceError(path, 0, null, 'is a directory, not a trace file');
    if (!st.isFile()) throw new TraceError(path, 0, null, 'not a regular file');
    let fd: number;
    try {
      fd = fs.openSync(path, 'r');
    } catch (err) {
      throw new TraceError(path, 0, null, `cannot open (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    try {
      const head = Buffer.alloc(HKT_HEADER_BYTES);
      const got = fs.readSync(fd, head, 0, HKT_HEADER_BYTES, 0);
      const header = parseHeader(path, head.subarray(0, got), st.size);
      const body = st.size - HKT_HEADER_BYTES;
      let slotLimit: number;
      if (header.complete) {
        const want = HKT_HEADER_BYTES + header.slotCount * HKT_SLOT_BYTES;
        if (st.size < want) {
          throw new TraceError(path, st.size, null, `truncated: the header says ${header.slotCount} slots (${want} bytes) but the file has ${st.size} bytes`);
        }
        if (st.size > want) {
          throw new TraceError(path, want, null, `${st.size - want} unexpected bytes after the last slot`);
        }
        slotLimit = header.slotCount;
      } else {
        if (body % HKT_SLOT_BYTES !== 0) {
          throw new TraceError(path, st.size - (body % HKT_SLOT_BYTES), null, `truncated: the file ends inside a slot`);
        }
        slotLimit = lastNonEmptySlot(fd, body / HKT_SLOT_BYTES) + 1;
      }
      const ordered = header.orderedSlots;
      const prefixSlots = ordered === null ? slotLimit : lastNonEmptySlot(fd, Math.min(ordered, slotLimit)) + 1;
      return new TraceFile(path, fd, header, st.size, slotLimit, prefixSlots);
    } catch (err) {
      fs.closeSync(fd);
      throw err;
    }
  }

  close(): void {
    try {
      fs.closeSync(this.fd);
    } catch {
      /* already closed */
    }
  }

  /** A cursor over the events, from the first. */
  cursor(opts: OpenOptions = {}): TraceCursor {
    return new TraceCursor(this, this.fd, opts);
  }
}

/** Scan backwards for the last slot whose op byte is not zero. */
function lastNonEmptySlot(fd: number, slots: number): number {
  const buf = Buffer.alloc(CHUNK_SLOTS * HKT_SLOT_BYTES);
  let end = slots;
  while (end > 0) {
    const start = Math.max(0, end - CHUNK_SLOTS);
    const n = end - start;
    fs.readSync(fd, buf, 0, n * HKT_SLOT_BYTES, HKT_HEADER_BYTES + start * HKT_SLOT_BYTES);
    for (let i = n - 1; i >= 0; i--) {
      if (buf[i * HKT_SLOT_BYTES] !== 0) return start + i;
    }
    end = start;
  }
  return -1;
}

/**
 * Op bytes of events that may have no extension slot (EXT_RANGE[op] starts at 0), with none:
 * next's short path reads such an event (most of them: malloc, free, calloc, thread events)
 * without the general path's range checks.
 */
const SHORT_OP = (() => {
  const t = new Uint8Array(256);
  for (const [k, r] of Object.entries(EXT_RANGE)) if (r[0] === 0) t[Number(k)] = 1;
  return t;
})();

export class TraceCursor {
  /**
   * One read's worth of slots: CHUNK_SLOTS, or the whole trace when it is shorter (a cursor per
   * replay of a 4,000-event trace zeroed a 1 MiB buffer for 75 KiB of slots). Its own ArrayBuffer
   * (not the pool), so the typed views below start at offset 0.
   */
  private readonly buf: Buffer;
  // Typed views over buf: slot fields are naturally aligned, and typed-array reads are
  // several times cheaper than Buffer's checked read methods on this hot path.
  private readonly u16: Uint16Array;
  private readonly u32: Uint32Array;
  private bufStart = 0; // slot index of buf[0]
  private bufSlots = 0;
  private nextSlot = 0;
  private nextIndex = 0;
  /** Slots skipped because the process died while writing them (recovered traces only). */
  holes = 0;
  /** Set when allowPrefix stopped the cursor at a corrupt slot. */
  stoppedAt: TraceError | null = null;
  /** Version 2: the merge of the chunks, once the ordered prefix is read. */
  private merge: ChunkMerge | null = null;
  private prefixHoles = 0;
  /** Slots below this may take next's short path: the ordered prefix, 0 once stopped or merging. */
  private shortLimit: number;

  constructor(
    private readonly trace: TraceFile,
    private readonly fd: number,
    private readonly opts: OpenOptions,
  ) {
    this.shortLimit = trace.prefixSlots;
    this.buf = Buffer.alloc(Math.max(1, Math.min(CHUNK_SLOTS, trace.slotLimit)) * HKT_SLOT_BYTES);
    this.u16 = new Uint16Array(this.buf.buffer, this.buf.byteOffset, this.buf.length >> 1);
    this.u32 = new Uint32Array(this.buf.buffer, this.buf.byteOffset, this.buf.length >> 2);
  }

  get eventsRead(): number {
    return this.nextIndex;
  }

  /**
   * The slot the next event starts at (for checkpoints). Inside the merged chunks of a version-2
   * trace there is no such slot: the position is then past the prefix (slots consumed so far) and
   * `seek` finds it again by its index.
   */
  get position(): { slot: number; index: number } {
    if (this.merge) return { slot: Math.min(this.trace.slotLimit, this.trace.prefixSlots + 1 + this.merge.consumed), index: this.nextIndex };
    return { slot: this.nextSlot, index: this.nextIndex };
  }

  /**
   * Continue from a position taken earlier with `position` (a checkpoint). A position inside the
   * merged chunks of a version-2 trace is reached by reading from the start up to its index.
   */
  seek(pos: { slot: number; index: number }): void {
    this.stoppedAt = null;
    this.merge = null;
    this.shortLimit = this.trace.prefixSlots;
    if (!this.trace.chunked || pos.slot <= this.trace.prefixSlots) {
      this.nextSlot = pos.slot;
      this.nextIndex = pos.index;
      return;
    }
    this.nextSlot = 0;
    this.nextIndex = 0;
    this.holes = 0;
    const ev = newEvent();
    while (this.nextIndex < pos.index && this.next(ev)) {
      /* skip */
    }
  }

  /** Fill `ev` with the next event; false at the end of the trace. */
  next(ev: TraceEvent): boolean {
    // The short path: an event without extension slots, already in the buffer.
    const slot = this.nextSlot;
    if (slot < this.shortLimit) {
      const rel = slot - this.bufStart;
      if (rel >= 0 && rel < this.bufSlots) {
        const off = rel * HKT_SLOT_BYTES;
        const opByte = this.buf[off];
        if (SHORT_OP[opByte] === 1) {
          if (!this.readSlotInto(slot, off, opByte, ev)) return false;
          ev.index = this.nextIndex;
          ev.slot = slot;
          ev.op = opByte;
          ev.nExt = 0;
          this.nextSlot = slot + 1;
          this.nextIndex++;
          return true;
        }
      }
    }
    return this.nextSlow(ev);
  }

  /** next, every case: extension slots, holes, loading the buffer, the merged chunks, errors. */
  private nextSlow(ev: TraceEvent): boolean {
    const limit = this.trace.prefixSlots;
    if (this.trace.chunked && (this.merge || this.nextSlot >= limit)) return this.nextMerged(ev);
    for (;;) {
      if (this.stoppedAt) return false;
      if (this.nextSlot >= limit) return this.trace.chunked ? this.nextMerged(ev) : false;
      const slot = this.nextSlot;
      const off = this.loadSlot(slot);
      const opByte = this.buf[off];
      if (opByte === 0) {
        if (this.trace.header.complete) return this.fail(slot, 'empty slot inside a complete trace');
        this.holes++;
        this.nextSlot++;
        this.skipOrphanExt();
        continue;
      }
      const op = opByte & OP_MASK;
      if (op === OP_EXT) {
        if (!this.trace.header.complete) {
          this.holes++;
          this.nextSlot++;
          continue;
        }
        return this.fail(slot, 'extension slot where an event was due');
      }
      if (!this.readSlotInto(slot, off, opByte, ev)) return false;
      const nExt = opByte >>> EXT_SHIFT;
      const range = EXT_RANGE[op];
      if (range === undefined) return this.fail(slot, `unknown operation ${op}`);
      if (nExt < range[0] || nExt > range[1]) {
        return this.fail(slot, `${OP_NAMES[op]} with ${nExt} extension slots (expected ${range[0]}..${range[1]})`);
      }
      if (slot + nExt >= limit) return this.fail(slot, `${OP_NAMES[op]} is cut short: its extension slots are missing`);
      ev.index = this.nextIndex;
      ev.slot = slot;
      ev.op = op;
      ev.nExt = nExt;
      for (let i = 0; i < nExt; i++) {
        const s = slot + 1 + i;
        const o = this.loadSlot(s);
        const xb = this.buf[o];
        if (xb !== OP_EXT) {
          return this.fail(s, xb === 0 ? 'extension slot never completed' : 'an event where an extension slot was due');
        }
        const c = this.u16[(o >> 1) + 1];
        const w = o >> 2;
        const a = this.u32[w + 1];
        const bLo = this.u32[w + 2];
        const bHi = this.u32[w + 3];
        if (slotCheck(xb, c, a, bLo, bHi) !== this.buf[o + 1]) return this.fail(s, 'corrupt slot (check byte mismatch)');
        ev.extA[i] = a;
        ev.extB[i] = bLo + bHi * 0x1_0000_0000;
      }
      this.nextSlot = slot + 1 + nExt;
      this.nextIndex++;
      return true;
    }
  }

  private readSlotInto(slot: number, off: number, opByte: number, ev: TraceEvent): boolean {
    const c = this.u16[(off >> 1) + 1];
    const w = off >> 2;
    const a = this.u32[w + 1];
    const bLo = this.u32[w + 2];
    const bHi = this.u32[w + 3];
    if (slotCheck(opByte, c, a, bLo, bHi) !== this.buf[off + 1]) return this.fail(slot, 'corrupt slot (check byte mismatch)');
    ev.tid = c;
    ev.a = a;
    ev.b = bLo + bHi * 0x1_0000_0000;
    return true;
  }

  /** Version 2, past the ordered prefix: the next event of the merged chunks. */
  private nextMerged(ev: TraceEvent): boolean {
    if (this.stoppedAt) return false;
    try {
      if (!this.merge) {
        this.prefixHoles = this.holes;
        this.shortLimit = 0;
        this.merge = new ChunkMerge(this.fd, this.trace.slotLimit, this.trace.chunkBase);
        this.merge.begin();
      }
      const c = this.merge.peek();
      this.holes = this.prefixHoles + this.merge.holes;
      if (!c) return false;
      this.merge.take(c, ev);
      this.holes = this.prefixHoles + this.merge.holes;
    } catch (err) {
      if (err instanceof MergeError) return this.fail(err.slot, err.problem);
      throw err;
    }
    ev.index = this.nextIndex++;
    return true;
  }

  /** After a hole, extension slots of the lost event are skipped too. */
  private skipOrphanExt(): void {
    while (this.nextSlot < this.trace.prefixSlots) {
      const off = this.loadSlot(this.nextSlot);
      if (this.buf[off] !== OP_EXT) return;
      this.holes++;
      this.nextSlot++;
    }
  }

  private fail(slot: number, problem: string): false {
    const err = new TraceError(this.trace.path, HKT_HEADER_BYTES + slot * HKT_SLOT_BYTES, this.nextIndex, problem);
    if (this.opts.allowPrefix) {
      this.stoppedAt = err;
      this.shortLimit = 0;
      return false;
    }
    throw err;
  }

  /** Byte offset of `slot` in buf, reading the chunk that holds it when needed. */
  private loadSlot(slot: number): number {
    if (slot < this.bufStart || slot >= this.bufStart + this.bufSlots) {
      const n = Math.min(CHUNK_SLOTS, this.trace.slotLimit - slot);
      const want = n * HKT_SLOT_BYTES;
      const got = fs.readSync(this.fd, this.buf, 0, want, HKT_HEADER_BYTES + slot * HKT_SLOT_BYTES);
      if (got !== want) {
        throw new TraceError(this.trace.path, HKT_HEADER_BYTES + slot * HKT_SLOT_BYTES + got, this.nextIndex, 'truncated: the file ended while reading');
      }
      this.bufStart = slot;
      this.bufSlots = n;
    }
    return (slot - this.bufStart) * HKT_SLOT_BYTES;
  }
}
