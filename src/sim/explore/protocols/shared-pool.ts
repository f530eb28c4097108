/**
 * The shared pool's slab acquire and release (docs/allocator.md section 4,
 * "Shared pool"), under its one lock, on one SuperSlab of two slabs that
 * starts empty in the LRU. Each thread acquires a slab, uses it, releases it
 * (R times, R = --rounds, default 1).
 *
 *   acquire: lock; vclock += 1; m = load bitmap;
 *            if the SuperSlab is in the LRU: pop it (it becomes in use);
 *            i = lowest clear bit of m (none: a fresh SuperSlab); bitmap = m | bit i;
 *            owner[i] = t; in_use += 1; unlock
 *   release: lock; vclock += 1; m = load bitmap; bitmap = m & ~bit i; owner[i] = none;
 *            in_use -= 1; if bitmap == 0: lru_push; unlock
 *
 * Every step between lock and unlock is its own atomic step, so the lock is
 * what keeps them apart. Variant `no-lock`: the lock never blocks.
 *
 * Properties: no slab is held by two threads; when nobody holds the lock,
 * in_use equals the bits set and the SuperSlab is in the LRU exactly when its
 * bitmap is 0; at the end every slab is free and the SuperSlab is cached.
 */
import { type Protocol, type Scenario, type ScenarioOptions } from '../types.js';

const SLABS = 2;
const FRESH = 0xfe; // a slab of a freshly mapped SuperSlab
const NONE = 0xff;

// Layout.
const LOCK = 0; // 0 free, else holder + 1
const BITMAP = 1;
const IN_USE = 2;
const IN_LRU = 3;
const VCLOCK = 4;
const OWNER = 5; // SLABS words
const T = OWNER + SLABS; // per thread: pc, m, slab, rounds done
const W = 4;

const DONE = 11;

class SharedPool implements Protocol {
  readonly name: string;
  readonly size: number;

  constructor(
    readonly threads: number,
    private readonly noLock: boolean,
    /** Acquire/release rounds per thread. */
    private readonly rounds: number,
  ) {
    this.name = `shared-pool${noLock ? ' (no-lock)' : ''}`;
    this.size = T + W * threads;
  }

  initial(): Uint16Array {
    const s = new Uint16Array(this.size);
    s[IN_LRU] = 1;
    for (let i = 0; i < SLABS; i++) s[OWNER + i] = NONE;
    for (let t = 0; t < this.threads; t++) s[T + W * t + 2] = NONE;
    return s;
  }

  done(s: Uint16Array, tid: number): boolean {
    return s[T + W * tid] === DONE;
  }

  enabled(s: Uint16Array, tid: number): boolean {
    const pc = s[T + W * tid];
    if (pc === DONE) return false;
    if ((pc === 0 || pc === 5) && !this.noLock) return s[LOCK] === 0;
    return true;
  }

  step(s: Uint16Array, tid: number, describe: boolean): string {
    const at = T + W * tid;
    const pc = s[at];
    switch (pc) {
      case 0:
      case 5:
        s[LOCK] = tid + 1;
        s[at]++;
        return describe ? `${pc === 0 ? 'acquire' : 'release'}: lock` : '';
      case 1:
      case 6:
        s[VCLOCK]++;
        s[at + 1] = s[BITMAP];
        s[at]++;
        return `${pc === 1 ? 'acquire' : 'release'}: vclock += 1; m = load bitmap -> ${bits(s[at + 1])}`;
      case 2: {
        s[at] = 3;
        if (s[IN_LRU]) {
          s[IN_LRU] = 0;
          return describe ? 'acquire: lru_pop (the SuperSlab is in use again)' : '';
        }
        return describe ? 'acquire: the SuperSlab is in use' : '';
      }
      case 3: {
        const m = s[at + 1];
        let i = 0;
        while (i < SLABS && m & (1 << i)) i++;
        s[at] = 4;
        if (i === SLABS) {
          s[at + 2] = FRESH;
          return describe ? 'acquire: bitmap full: slab 0 of a new SuperSlab' : '';
        }
        s[BITMAP] = m | (1 << i);
        s[OWNER + i] = tid;
        s[IN_USE]++;
        s[at + 2] = i;
        return `acquire: bitmap = ${bits(m | (1 << i))}; owner[${i}] = t${tid}; in_use += 1`;
      }
      case 4:
        if (!this.noLock) s[LOCK] = 0;
        s[at] = 5;
        return describe ? 'acquire: unlock' : '';
      case 7: {
        const i = s[at + 2];
        s[at] = 8;
        if (i === FRESH) return describe ? 'release: (slab of the other SuperSlab)' : '';
        s[BITMAP] = s[at + 1] & ~(1 << i);
        s[OWNER + i] = NONE;
        s[IN_USE]--;
        return `release: bitmap = ${bits(s[BITMAP])}; owner[${i}] = none; in_use -= 1`;
      }
      case 8:
        s[at] = 9;
        if (s[at + 2] !== FRESH && s[BITMAP] === 0) {
          s[IN_LRU] = 1;
          return describe ? 'release: bitmap is 0: lru_push' : '';
        }
        return describe ? 'release: bitmap not 0' : '';
      case 9:
      default:
        if (!this.noLock) s[LOCK] = 0;
        s[at + 3]++;
        s[at] = s[at + 3] === this.rounds ? DONE : 0;
        s[at + 2] = NONE;
        return describe ? 'release: unlock' : '';
    }
  }

  check(s: Uint16Array): string | null {
    // Threads that hold a slab (acquired and not yet released).
    for (let a = 0; a < this.threads; a++) {
      const sa = s[T + W * a + 2];
      const pa = s[T + W * a];
      if (sa === NONE || sa === FRESH || pa < 4 || pa > 7) continue;
      for (let b = a + 1; b < this.threads; b++) {
        const pb = s[T + W * b];
        if (s[T + W * b + 2] === sa && pb >= 4 && pb <= 7) return `slab ${sa} handed to two threads (t${a} and t${b})`;
      }
      if (s[OWNER + sa] !== a) return `t${a} holds slab ${sa} but owner[${sa}] is ${s[OWNER + sa] === NONE ? 'none' : `t${s[OWNER + sa]}`}`;
    }
    if (s[LOCK] === 0 || this.noLock) {
      let pop = 0;
      for (let i = 0; i < SLABS; i++) if (s[BITMAP] & (1 << i)) pop++;
      if (this.noLock && !this.quiescent(s)) return null;
      if (s[IN_USE] !== pop) return `in_use ${s[IN_USE]} != ${pop} bits set in the bitmap ${bits(s[BITMAP])}`;
      if (s[IN_LRU] && s[BITMAP] !== 0) return `the SuperSlab is in the LRU with slabs in use (bitmap ${bits(s[BITMAP])})`;
    }
    return null;
  }

  /** No thread between its lock and unlock steps. */
  private quiescent(s: Uint16Array): boolean {
    for (let t = 0; t < this.threads; t++) {
      const pc = s[T + W * t];
      if ((pc >= 1 && pc <= 4) || (pc >= 6 && pc <= 9)) return false;
    }
    return true;
  }

  checkFinal(s: Uint16Array): string | null {
    if (s[BITMAP] !== 0 || s[IN_USE] !== 0) return `at the end slabs are still in use: bitmap ${bits(s[BITMAP])}, in_use ${s[IN_USE]}`;
    if (!s[IN_LRU]) return 'at the end the empty SuperSlab is not in the LRU (EMPTY missed)';
    return null;
  }

  show(s: Uint16Array): string {
    return `lock ${s[LOCK] ? `t${s[LOCK] - 1}` : 'free'}, bitmap ${bits(s[BITMAP])}, in_use ${s[IN_USE]}, in LRU ${s[IN_LRU] ? 'yes' : 'no'}, owners [${Array.from(
      s.subarray(OWNER, OWNER + SLABS),
      (o) => (o === NONE ? '-' : `t${o}`),
    ).join(', ')}]`;
  }
}

function bits(m: number): string {
  return `0b${m.toString(2).padStart(SLABS, '0')}`;
}

export const sharedPool: Scenario = {
  name: 'shared-pool',
  description: 'shared-pool slab acquire/release under its lock, with the SuperSlab going to and from the LRU',
  variants: ['no-lock'],
  defaultThreads: 3,
  build(o: ScenarioOptions): Protocol {
    return new SharedPool(o.threads ?? 3, o.variant === 'no-lock', o.rounds ?? 1);
  },
};
