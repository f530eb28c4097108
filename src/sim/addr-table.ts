/**
 * A map keyed by 64-bit addresses (as exact doubles below 2^53) that never
 * boxes its keys: an address splits into a 16 MiB chunk number and an offset
 * in the chunk, both small integers, so V8 looks them up as Smis. A plain Map
 * keyed by 47-bit addresses allocates a HeapNumber per lookup, which was the
 * replay's main cost with checks on.
 */
const CHUNK = 0x100_0000;

export class AddrTable<V> {
  private readonly chunks = new Map<number, Map<number, V>>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  // hi * CHUNK is exact, so `addr - hi * CHUNK` is the remainder without a slow double fmod.
  get(addr: number): V | undefined {
    const hi = Math.floor(addr / CHUNK);
    const c = this.chunks.get(hi);
    return c === undefined ? undefined : c.get(addr - hi * CHUNK);
  }

  has(addr: number): boolean {
    return this.get(addr) !== undefined;
  }

  set(addr: number, v: V): void {
    const hi = Math.floor(addr / CHUNK);
    let c = this.chunks.get(hi);
    if (c === undefined) {
      c = new Map();
      this.chunks.set(hi, c);
    }
    const before = c.size;
    c.set(addr - hi * CHUNK, v);
    if (c.size !== before) this.count++;
  }

  delete(addr: number): boolean {
    const hi = Math.floor(addr / CHUNK);
    const c = this.chunks.get(hi);
    if (c === undefined || !c.delete(addr - hi * CHUNK)) return false;
    this.count--;
    if (c.size === 0) this.chunks.delete(hi);
    return true;
  }

  clear(): void {
    this.chunks.clear();
    this.count = 0;
  }

  *entries(): IterableIterator<[number, V]> {
    for (const [hi, c] of this.chunks) for (const [lo, v] of c) yield [hi * CHUNK + lo, v];
  }

  /** Some entry (the oldest-inserted chunk's first), for bounded eviction. */
  firstKey(): number | undefined {
    for (const [hi, c] of this.chunks) for (const lo of c.keys()) return hi * CHUNK + lo;
    return undefined;
  }

  copy(): AddrTable<V> {
    const t = new AddrTable<V>();
    for (const [hi, c] of this.chunks) t.chunks.set(hi, new Map(c));
    t.count = this.count;
    return t;
  }
}
