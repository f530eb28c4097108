/**
 * Streaming trace writer: used for synthetic traces, minimised reproducers and
 * tests. Writes through one reused buffer; the header is finalised on close.
 */
import fs from 'node:fs';
import {
  EXT_SHIFT,
  FLAG_COMPLETE,
  HKT_CONFIG_ENTRY_BYTES,
  HKT_CONFIG_MAX_ENTRIES,
  HKT_CONFIG_OFFSET,
  HKT_HEADER_BYTES,
  HKT_MAGIC,
  HKT_SLOT_BYTES,
  HKT_VERSION,
  OP_EXT,
  headerCrc,
  slotCheck,
} from './format.js';

export interface WriterOptions {
  flags?: number;
  pid?: number;
  parentPid?: number;
  comm?: string;
  heapBase?: number;
  heapBytes?: number;
  startTimeNs?: bigint;
  config: ReadonlyMap<string, bigint> | Iterable<[string, bigint]>;
}

const FLUSH_SLOTS = 1 << 14;

export class TraceWriter {
  private readonly fd: number;
  private readonly header = Buffer.alloc(HKT_HEADER_BYTES);
  private readonly buf = Buffer.alloc(FLUSH_SLOTS * HKT_SLOT_BYTES);
  private used = 0;
  private slots = 0;
  private events = 0;
  private closed = false;

  constructor(
    readonly path: string,
    opts: WriterOptions,
  ) {
    const h = this.header;
    h.write(HKT_MAGIC, 0, 'latin1');
    h.writeUInt32LE(HKT_VERSION, 8);
    h.writeUInt32LE(HKT_HEADER_BYTES, 12);
    h.writeUInt32LE(HKT_SLOT_BYTES, 16);
    h.writeUInt32LE((opts.flags ?? 0) & ~FLAG_COMPLETE, 20);
    h.writeBigUInt64LE(BigInt(opts.pid ?? 0), 24);
    h.writeBigUInt64LE(BigInt(opts.parentPid ?? 0), 32);
    h.writeBigUInt64LE(opts.startTimeNs ?? 0n, 40);
    h.write((opts.comm ?? '').slice(0, 63), 80, 'latin1');
    h.writeBigUInt64LE(BigInt(opts.heapBase ?? 0), 144);
    h.writeBigUInt64LE(BigInt(opts.heapBytes ?? 0), 152);
    const entries = [...opts.config];
    if (entries.length > HKT_CONFIG_MAX_ENTRIES) throw new Error(`too many config entries: ${entries.length}`);
    entries.forEach(([name, value], i) => {
      const off = HKT_CONFIG_OFFSET + i * HKT_CONFIG_ENTRY_BYTES;
      if (name.length > 31) throw new Error(`config name too long: ${name}`);
      h.write(name, off, 'latin1');
      h.writeBigUInt64LE(value, off + 32);
    });
    h.writeUInt32LE(entries.length, 72);
    this.fd = fs.openSync(path, 'w');
    fs.writeSync(this.fd, h, 0, HKT_HEADER_BYTES, 0);
  }

  get eventCount(): number {
    return this.events;
  }

  /** Append one event: a main slot and up to three extension slots ([a, b] pairs). */
  event(op: number, tid: number, a: number, b: number, ext: ReadonlyArray<readonly [number, number]> = []): void {
    if (this.closed) throw new Error('writer is closed');
    this.slot((op | (ext.length << EXT_SHIFT)) & 0xff, tid, a, b);
    for (const [ea, eb] of ext) this.slot(OP_EXT, 0, ea, eb);
    this.events++;
  }

  private slot(opByte: number, c: number, a: number, b: number): void {
    if (this.used === this.buf.length) this.flush();
    const o = this.used;
    const bLo = b % 0x1_0000_0000 >>> 0;
    const bHi = Math.floor(b / 0x1_0000_0000) >>> 0;
    this.buf[o] = opByte;
    this.buf[o + 1] = slotCheck(opByte, c & 0xffff, a >>> 0, bLo, bHi);
    this.buf.writeUInt16LE(c & 0xffff, o + 2);
    this.buf.writeUInt32LE(a >>> 0, o + 4);
    this.buf.writeUInt32LE(bLo, o + 8);
    this.buf.writeUInt32LE(bHi, o + 12);
    this.used += HKT_SLOT_BYTES;
    this.slots++;
  }

  private flush(): void {
    if (this.used === 0) return;
    const pos = HKT_HEADER_BYTES + (this.slots - this.used / HKT_SLOT_BYTES) * HKT_SLOT_BYTES;
    fs.writeSync(this.fd, this.buf, 0, this.used, pos);
    this.used = 0;
  }

  /** Finish: counts, COMPLETE flag (unless `complete` is false), CRC. */
  close(opts: { complete?: boolean; endTimeNs?: bigint } = {}): void {
    if (this.closed) return;
    this.flush();
    const h = this.header;
    const complete = opts.complete ?? true;
    if (complete) h.writeUInt32LE(h.readUInt32LE(20) | FLAG_COMPLETE, 20);
    h.writeBigUInt64LE(opts.endTimeNs ?? 0n, 48);
    h.writeBigUInt64LE(BigInt(complete ? this.slots : 0), 56);
    h.writeBigUInt64LE(BigInt(complete ? this.events : 0), 64);
    h.writeUInt32LE(headerCrc(h), 76);
    fs.writeSync(this.fd, h, 0, HKT_HEADER_BYTES, 0);
    fs.closeSync(this.fd);
    this.closed = true;
  }
}
