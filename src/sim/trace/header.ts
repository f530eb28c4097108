import {
  FLAG_COMPLETE,
  FLAG_EXACT,
  FLAG_FORKED,
  FLAG_INTERNAL,
  HKT_CONFIG_ENTRY_BYTES,
  HKT_CONFIG_MAX_ENTRIES,
  HKT_CONFIG_OFFSET,
  HKT_HEADER_BYTES,
  HKT_MAGIC,
  HKT_SLOT_BYTES,
  HKT_CHUNK_SLOTS,
  HKT_ORDERED_OFFSET,
  HKT_VERSION,
  HKT_VERSION_CHUNKED,
  headerCrc,
} from './format.js';
import { TraceError } from './errors.js';

export interface TraceHeader {
  version: number;
  flags: number;
  complete: boolean;
  exact: boolean;
  internal: boolean;
  forked: boolean;
  pid: number;
  parentPid: number;
  startTimeNs: bigint;
  endTimeNs: bigint;
  slotCount: number;
  eventCount: number;
  comm: string;
  heapBase: number;
  heapBytes: number;
  /**
   * Version 2 only: slots before this are in global order and the chunk area starts at it
   * rounded up to 64; null when the whole body is in order (version 1, or no chunk yet).
   */
  orderedSlots: number | null;
  /** The allocator's configuration, by name, in header order. */
  config: Map<string, bigint>;
}

function u64(view: DataView, off: number): bigint {
  return view.getBigUint64(off, true);
}

/** Numbers up to 2^53 exactly; anything a trace holds as a count or address fits. */
export function u64n(view: DataView, off: number): number {
  return view.getUint32(off, true) + view.getUint32(off + 4, true) * 0x1_0000_0000;
}

function cstr(bytes: Uint8Array): string {
  const end = bytes.indexOf(0);
  return Buffer.from(end < 0 ? bytes : bytes.subarray(0, end)).toString('latin1');
}

export function parseHeader(file: string, buf: Uint8Array, fileBytes: number): TraceHeader {
  if (fileBytes === 0) throw new TraceError(file, 0, null, 'empty file, not a trace');
  const magic = Buffer.from(buf.subarray(0, Math.min(8, buf.length))).toString('latin1');
  if (magic !== HKT_MAGIC.slice(0, magic.length)) {
    throw new TraceError(file, 0, null, `not a hakmem trace (magic is not ${HKT_MAGIC})`);
  }
  if (fileBytes < HKT_HEADER_BYTES) {
    throw new TraceError(file, fileBytes, null, `truncated header: ${fileBytes} of ${HKT_HEADER_BYTES} bytes`);
  }
  const view = new DataView(buf.buffer, buf.byteOffset, HKT_HEADER_BYTES);
  const version = view.getUint32(8, true);
  if (version !== HKT_VERSION && version !== HKT_VERSION_CHUNKED) {
    throw new TraceError(file, 8, null, `unsupported trace format version ${version} (this reader knows ${HKT_VERSION} and ${HKT_VERSION_CHUNKED})`);
  }
  const headerBytes = view.getUint32(12, true);
  const slotBytes = view.getUint32(16, true);
  if (headerBytes !== HKT_HEADER_BYTES || slotBytes !== HKT_SLOT_BYTES) {
    throw new TraceError(file, 12, null, `bad geometry: header ${headerBytes} bytes, slot ${slotBytes} bytes`);
  }
  const crc = view.getUint32(76, true);
  const want = headerCrc(buf);
  if (crc !== want) {
    throw new TraceError(file, 76, null, `header checksum mismatch (stored ${hex32(crc)}, computed ${hex32(want)}): the header is corrupt`);
  }
  // A version-2 file was never closed (closing merges it into version 1): always recovered.
  const flags = version === HKT_VERSION_CHUNKED ? view.getUint32(20, true) & ~FLAG_COMPLETE : view.getUint32(20, true);
  let orderedSlots: number | null = null;
  if (version === HKT_VERSION_CHUNKED) {
    const ordered = u64(view, HKT_ORDERED_OFFSET);
    if (ordered !== 0xffff_ffff_ffff_ffffn) {
      if (ordered > BigInt(Number.MAX_SAFE_INTEGER - HKT_CHUNK_SLOTS)) {
        throw new TraceError(file, HKT_ORDERED_OFFSET, null, `ordered_slots ${ordered} is out of range`);
      }
      orderedSlots = Number(ordered);
    }
  }
  const configCount = view.getUint32(72, true);
  if (configCount > HKT_CONFIG_MAX_ENTRIES) {
    throw new TraceError(file, 72, null, `config table claims ${configCount} entries (at most ${HKT_CONFIG_MAX_ENTRIES})`);
  }
  const config = new Map<string, bigint>();
  for (let i = 0; i < configCount; i++) {
    const off = HKT_CONFIG_OFFSET + i * HKT_CONFIG_ENTRY_BYTES;
    const name = cstr(buf.subarray(off, off + 32));
    if (!/^[a-z][a-z0-9_]*$/.test(name)) {
      throw new TraceError(file, off, null, `config entry ${i} has an invalid name`);
    }
    config.set(name, u64(view, off + 32));
  }
  return {
    version,
    flags,
    complete: (flags & FLAG_COMPLETE) !== 0,
    exact: (flags & FLAG_EXACT) !== 0,
    internal: (flags & FLAG_INTERNAL) !== 0,
    forked: (flags & FLAG_FORKED) !== 0,
    pid: u64n(view, 24),
    parentPid: u64n(view, 32),
    startTimeNs: u64(view, 40),
    endTimeNs: u64(view, 48),
    slotCount: u64n(view, 56),
    eventCount: u64n(view, 64),
    comm: cstr(buf.subarray(80, 144)),
    heapBase: u64n(view, 144),
    heapBytes: u64n(view, 152),
    orderedSlots,
    config,
  };
}

function hex32(n: number): string {
  return `0x${n.toString(16).padStart(8, '0')}`;
}

export function describeFlags(h: TraceHeader): string {
  const parts = [h.exact ? 'exact' : 'fast'];
  if (h.internal) parts.push('internal');
  if (h.forked) parts.push('forked');
  parts.push(h.complete ? 'complete' : 'recovered');
  return parts.join(', ');
}

export const _flags = { FLAG_COMPLETE, FLAG_EXACT, FLAG_INTERNAL, FLAG_FORKED };
