/**
 * The trace-level block table of TraceChecks: every block the program holds
 * (live) and the most recently freed ones (for double-free reports), in one
 * table keyed by address.
 *
 * Why a hand-written table: fast checks cost one lookup and one insert or
 * delete per call, and a Map of objects (one LiveBlock per allocation, keys
 * boxed as doubles) made them most of the replay's time and all of its garbage.
 * This is an open-addressing hash with linear probing over parallel typed
 * arrays: no object per block, no tombstones (deletion shifts the run back),
 * and a snapshot is a copy of a few typed arrays (checkpoints for the TUI).
 *
 * An entry is live while its freeEvent is -1; freed entries keep the block's
 * history (allocated at, freed at) until the block is allocated again or
 * TraceChecks forgets it (it bounds how many freed blocks it remembers).
 */

const EMPTY = 0;
// Small to start with: the fuzzer builds an engine per case, and most cases hold a few blocks.
const MIN_BITS = 6;

export interface LiveTableSnapshot {
  bits: number;
  count: number;
  keys: Float64Array;
  size: Float64Array;
  event: Float64Array;
  freeEvent: Float64Array;
  tid: Int32Array;
  freeTid: Int32Array;
}

interface Storage {
  keys: Float64Array<ArrayBuffer>;
  size: Float64Array<ArrayBuffer>;
  event: Float64Array<ArrayBuffer>;
  freeEvent: Float64Array<ArrayBuffer>;
  tid: Int32Array<ArrayBuffer>;
  freeTid: Int32Array<ArrayBuffer>;
}

/**
 * Arrays of tables that grew out of them or were released, one set per size (by bits), for the
 * next table of that size. A replay's table grows by doubling from 64 slots, and fresh typed
 * arrays of up to a few MiB cost page faults on first touch: growing was 7-8% of a warm replay
 * of python-json.hkt (CPU profile), whose table reaches 2^17 slots, and replays one after
 * another (the bench, a campaign) grew theirs again from new memory each time. Up to
 * MAX_SPARE_BITS, so the spares hold at most about twice the largest such table.
 * Deterministic: a spare table is emptied (keys cleared) before use, and nothing reads a slot's
 * other fields while its key is empty.
 */
const spares: (Storage | undefined)[] = [];
const MAX_SPARE_BITS = 18;

function takeStorage(bits: number): Storage {
  const s = spares[bits];
  if (s !== undefined) {
    spares[bits] = undefined;
    s.keys.fill(EMPTY);
    return s;
  }
  const n = 1 << bits;
  return { keys: new Float64Array(n), size: new Float64Array(n), event: new Float64Array(n), freeEvent: new Float64Array(n), tid: new Int32Array(n), freeTid: new Int32Array(n) };
}

function giveStorage(bits: number, s: Storage): void {
  if (bits <= MAX_SPARE_BITS && spares[bits] === undefined) spares[bits] = s;
}

export class LiveTable {
  private bits = MIN_BITS;
  private mask = (1 << MIN_BITS) - 1;
  /** Entries in use (live and freed). */
  private count = 0;
  /** Addresses; 0 marks an empty slot (address 0 is never a block). */
  private keys = new Float64Array(1 << MIN_BITS);
  private size = new Float64Array(1 << MIN_BITS);
  private event = new Float64Array(1 << MIN_BITS);
  private freeEvent = new Float64Array(1 << MIN_BITS);
  private tid = new Int32Array(1 << MIN_BITS);
  private freeTid = new Int32Array(1 << MIN_BITS);

  /** Entries in use, live or freed. */
  get entries(): number {
    return this.count;
  }

  private home(addr: number): number {
    // Low and high 32 bits, exact below 2^53; blocks are 16-byte aligned, so mix before masking.
    const lo = addr >>> 0;
    const hi = (addr / 0x1_0000_0000) | 0;
    return (Math.imul(lo ^ (lo >>> 16) ^ Math.imul(hi, 0x85ebca6b), 0x9e3779b1) >>> (32 - this.bits)) & this.mask;
  }

  /** The slot holding addr, or -1. */
  find(addr: number): number {
    if (addr === EMPTY) return -1;
    const i = this.probe(addr);
    return i >= 0 ? i : -1;
  }

  /**
   * find for an insert that may follow: the slot holding addr, or, when there is none, -1 minus
   * the empty slot where its probe ended (where setLiveAt puts addr). addr is not 0.
   */
  probe(addr: number): number {
    const keys = this.keys;
    const mask = this.mask;
    let i = this.home(addr);
    for (;;) {
      const k = keys[i];
      if (k === addr) return i;
      if (k === EMPTY) return -1 - i;
      i = (i + 1) & mask;
    }
  }

  /** Whether the program holds the block at addr. */
  isLive(addr: number): boolean {
    const i = this.find(addr);
    return i >= 0 && this.freeEvent[i] === -1;
  }

  /** The slot of a live block at addr, or -1. */
  findLive(addr: number): number {
    const i = this.find(addr);
    return i >= 0 && this.freeEvent[i] === -1 ? i : -1;
  }

  /** The slot of a freed block remembered at addr, or -1. */
  findFreed(addr: number): number {
    const i = this.find(addr);
    return i >= 0 && this.freeEvent[i] !== -1 ? i : -1;
  }

  sizeAt(i: number): number {
    return this.size[i];
  }
  eventAt(i: number): number {
    return this.event[i];
  }
  tidAt(i: number): number {
    return this.tid[i];
  }
  freeEventAt(i: number): number {
    return this.freeEvent[i];
  }
  freeTidAt(i: number): number {
    return this.freeTid[i];
  }

  /** A live block at addr (replacing whatever entry was there; addr is not 0). */
  setLive(addr: number, size: number, event: number, tid: number): void {
    this.setLiveAt(this.probe(addr), addr, size, event, tid);
  }

  /**
   * setLive when the caller has just probed addr: `at` is what probe(addr) returned, with no
   * change to the table since.
   */
  setLiveAt(at: number, addr: number, size: number, event: number, tid: number): void {
    let i = at;
    if (i < 0) {
      if ((this.count + 1) * 2 > this.mask + 1) {
        this.grow();
        i = this.home(addr);
        while (this.keys[i] !== EMPTY) i = (i + 1) & this.mask;
      } else {
        i = -1 - at;
      }
      this.keys[i] = addr;
      this.count++;
    }
    this.size[i] = size;
    this.event[i] = event;
    this.tid[i] = tid;
    this.freeEvent[i] = -1;
    this.freeTid[i] = -1;
  }

  /** Mark the live block in slot i freed. */
  markFreed(i: number, event: number, tid: number): void {
    this.freeEvent[i] = event;
    this.freeTid[i] = tid;
  }

  /** Remove the entry at addr, if any. */
  delete(addr: number): void {
    const i = this.find(addr);
    if (i >= 0) this.removeAt(i);
  }

  /**
   * Remove the entry in slot i (what find returned). Backward-shift deletion: later entries of
   * the probe run move up, so no tombstones.
   */
  removeAt(i: number): void {
    const keys = this.keys;
    const mask = this.mask;
    let hole = i;
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      const k = keys[j];
      if (k === EMPTY) break;
      const h = this.home(k);
      // Move j into the hole when its home is not cyclically in (hole, j].
      if (hole <= j ? h <= hole || h > j : h <= hole && h > j) {
        this.moveSlot(j, hole);
        hole = j;
      }
    }
    keys[hole] = EMPTY;
    this.count--;
  }

  private moveSlot(from: number, to: number): void {
    this.keys[to] = this.keys[from];
    this.size[to] = this.size[from];
    this.event[to] = this.event[from];
    this.freeEvent[to] = this.freeEvent[from];
    this.tid[to] = this.tid[from];
    this.freeTid[to] = this.freeTid[from];
  }

  private grow(): void {
    const old = this.storage();
    const oldBits = this.bits;
    this.alloc(this.bits + 1);
    for (let i = 0; i < old.keys.length; i++) {
      const k = old.keys[i];
      if (k === EMPTY) continue;
      let j = this.home(k);
      while (this.keys[j] !== EMPTY) j = (j + 1) & this.mask;
      this.keys[j] = k;
      this.size[j] = old.size[i];
      this.event[j] = old.event[i];
      this.freeEvent[j] = old.freeEvent[i];
      this.tid[j] = old.tid[i];
      this.freeTid[j] = old.freeTid[i];
    }
    giveStorage(oldBits, old);
  }

  /** New (or spare) arrays of 2^bits slots, all empty. */
  private alloc(bits: number): void {
    const s = takeStorage(bits);
    this.bits = bits;
    this.mask = (1 << bits) - 1;
    this.keys = s.keys;
    this.size = s.size;
    this.event = s.event;
    this.freeEvent = s.freeEvent;
    this.tid = s.tid;
    this.freeTid = s.freeTid;
  }

  private storage(): Storage {
    return { keys: this.keys, size: this.size, event: this.event, freeEvent: this.freeEvent, tid: this.tid, freeTid: this.freeTid };
  }

  /**
   * Done with the table: its arrays go to the spares for the next table of their size, and the
   * table is left empty at the smallest size. Only for a table nothing will read again as it was
   * (replayFile's, once the replay's summary is made).
   */
  release(): void {
    const old = this.storage();
    const oldBits = this.bits;
    this.alloc(MIN_BITS);
    this.count = 0;
    giveStorage(oldBits, old);
  }

  /** A copy of the entries in use, packed (a checkpoint holds no empty slots). */
  snapshot(): LiveTableSnapshot {
    const n = this.count;
    const out: LiveTableSnapshot = {
      bits: this.bits,
      count: n,
      keys: new Float64Array(n),
      size: new Float64Array(n),
      event: new Float64Array(n),
      freeEvent: new Float64Array(n),
      tid: new Int32Array(n),
      freeTid: new Int32Array(n),
    };
    let j = 0;
    for (let i = 0; i <= this.mask; i++) {
      if (this.keys[i] === EMPTY) continue;
      out.keys[j] = this.keys[i];
      out.size[j] = this.size[i];
      out.event[j] = this.event[i];
      out.freeEvent[j] = this.freeEvent[i];
      out.tid[j] = this.tid[i];
      out.freeTid[j] = this.freeTid[i];
      j++;
    }
    return out;
  }

  /**
   * Empty. The capacity stays (a reused table does not grow again from 64 slots); only the
   * slots' positions differ from a new table's, and nothing reads those but snapshot(), which
   * packs the entries.
   */
  reset(): void {
    if (this.count !== 0) this.keys.fill(EMPTY);
    this.count = 0;
  }

  /** Back to a snapshot (it can be restored more than once). */
  restore(s: LiveTableSnapshot): void {
    const old = this.storage();
    const oldBits = this.bits;
    this.alloc(s.bits);
    giveStorage(oldBits, old);
    this.count = s.count;
    for (let j = 0; j < s.count; j++) {
      const k = s.keys[j];
      let i = this.home(k);
      while (this.keys[i] !== EMPTY) i = (i + 1) & this.mask;
      this.keys[i] = k;
      this.size[i] = s.size[j];
      this.event[i] = s.event[j];
      this.freeEvent[i] = s.freeEvent[j];
      this.tid[i] = s.tid[j];
      this.freeTid[i] = s.freeTid[j];
    }
  }
}
