/**
 * The canonical state digest, docs/allocator.md section 9: FNV-1a 64 over a
 * sequence of unsigned 64-bit values, each fed as 8 little-endian bytes.
 * Computed on two 32-bit halves (exact; no BigInt in the loop).
 */
import { NONE, NONE_U16, type Heap, type SlabMeta } from './state.js';
import { RegionKind } from './types.js';

export class Fnv64 {
  private hi = 0xcbf29ce4;
  private lo = 0x84222325;

  /** Feed one unsigned 64-bit value given as a non-negative safe integer. */
  u64(v: number): void {
    const lo = v % 0x1_0000_0000;
    const hi = (v - lo) / 0x1_0000_0000;
    this.u32(lo);
    this.u32(hi);
  }

  /** Feed a 64-bit value given as its two 32-bit halves. */
  u64Halves(hi: number, lo: number): void {
    this.u32(lo >>> 0);
    this.u32(hi >>> 0);
  }

  private u32(w: number): void {
    let hi = this.hi;
    let lo = this.lo;
    for (let i = 0; i < 4; i++) {
      // h ^= byte; h *= 0x100000001b3 (= 2^40 + 0x1b3), modulo 2^64, on 32-bit halves.
      lo = (lo ^ (w & 0xff)) >>> 0;
      w >>>= 8;
      const plo = lo * 0x1b3; // < 2^41: exact
      const carry = (plo / 0x1_0000_0000) >>> 0;
      hi = (hi * 0x1b3 + carry + ((lo << 8) >>> 0)) >>> 0; // < 2^43 before the cut: exact
      lo = plo >>> 0;
    }
    this.hi = hi;
    this.lo = lo;
  }

  value(): bigint {
    return (BigInt(this.hi) << 32n) | BigInt(this.lo);
  }
}

/** Reference FNV-1a 64 over u64 words with BigInt (for tests). */
export function fnv1a64Words(words: readonly bigint[]): bigint {
  let h = 0xcbf29ce484222325n;
  const mask = (1n << 64n) - 1n;
  for (const w of words) {
    for (let i = 0n; i < 8n; i++) {
      h ^= (w >> (8n * i)) & 0xffn;
      h = (h * 0x100000001b3n) & mask;
    }
  }
  return h;
}

/** The digest words of docs/allocator.md section 9, fed to `sink`. */
export function digestWords(h: Heap, sink: (v: number) => void, bitmap: (hi: number, lo: number) => void): void {
  const st = h.st;
  sink(st.vclock);
  for (const r of st.regions.values()) {
    sink(r.regionId);
    sink(r.kind);
    if (r.kind === RegionKind.SuperSlab) {
      sink(r.inLru ? 1 : 0);
      let hi = 0;
      let lo = 0;
      for (let i = 0; i < r.slabs.length; i++) {
        if (r.slabs[i].classIdx === NONE) continue;
        if (i < 32) lo |= 1 << i;
        else hi |= 1 << (i - 32);
      }
      bitmap(hi >>> 0, lo >>> 0);
      for (let i = 0; i < r.slabs.length; i++) {
        const s = r.slabs[i];
        if (s.classIdx === NONE) continue;
        sink(i);
        slabWords(s, sink);
      }
    } else if (r.kind === RegionKind.PoolPage) {
      sink(r.onFreeStack ? 1 : 0);
      slabWords(r.page, sink);
    } else {
      sink(r.cached ? 1 : 0);
      sink(r.sizeBytes);
    }
  }
  const tids: number[] = [];
  for (const t of st.threads.values()) if (t.registered) tids.push(t.tid);
  tids.sort((a, b) => a - b);
  for (const tid of tids) {
    const t = st.threads.get(tid)!;
    sink(tid);
    for (let c = 0; c < h.cfg.tinyClassCount; c++) sink(t.tlsList[c].length);
  }
}

function slabWords(s: SlabMeta, sink: (v: number) => void): void {
  sink(s.classIdx === NONE ? NONE_U16 : s.classIdx);
  sink(s.owner === NONE ? NONE_U16 : s.owner);
  sink(s.usedBlocks);
  sink(s.carvedBlocks);
  sink(s.freelist.length);
  sink(s.remote.length);
}

export function digest(h: Heap): bigint {
  const f = new Fnv64();
  digestWords(
    h,
    (v) => f.u64(v),
    (hi, lo) => f.u64Halves(hi, lo),
  );
  return f.value();
}
