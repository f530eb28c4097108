/**
 * The LRU cache of empty SuperSlabs (docs/allocator.md section 4: lru_push,
 * lru_expire, lru_evict, and acquire's step 3), under the shared pool's lock.
 * Thread t starts holding SuperSlab t; it releases it (lru_push) and then
 * acquires one (lru_pop, or a new mapping when the LRU is empty), R times
 * (R = --rounds, default 1). The pop reads the front, then takes it out.
 *
 *   push:    lock; vclock += 1; expire; list.front = ss (pushed_at = vclock);
 *            while count > max: evict back (unmap); unlock
 *   acquire: lock; vclock += 1; expire; ss = pop front, or map a new one; unlock
 *   expire:  while count > 0 and vclock - back.pushed_at > ttl: evict back
 *
 * Each bracketed piece (tick and expire, the push, one eviction, the pop) is
 * one atomic step. Variant `no-lock`: the lock never blocks.
 *
 * Properties, whenever no thread is inside the lock: count <= lru_max_count,
 * no entry older than lru_ttl_ticks, every SuperSlab in exactly one place
 * (held by one thread, cached once, or unmapped), and no SuperSlab held by two
 * threads at any time.
 */
import { type Protocol, type Scenario, type ScenarioOptions } from '../types.js';

const MAX = 1;
const TTL = 2;
const NONE = 0xff;
const IN_USE = 0;
const CACHED = 1;
const UNMAPPED = 2;

// Layout: globals, then per SuperSlab (place, owner, pushedAt), then the list, then per thread (pc, my).
const LOCK = 0;
const VCLOCK = 1;
const COUNT = 2;
const NEXT_ID = 3;
const SS = 4;
const DONE = 10;
/** Per thread: pc, held SuperSlab, rounds done, the front read by a pop. */
const W = 4;

class Lru implements Protocol {
  readonly name: string;
  readonly size: number;
  private readonly ids: number;
  private readonly listAt: number;
  private readonly thAt: number;
  private readonly inList: Uint8Array;

  constructor(
    readonly threads: number,
    private readonly noLock: boolean,
    /** Release/acquire rounds per thread. */
    private readonly rounds: number,
  ) {
    this.name = `lru${noLock ? ' (no-lock)' : ''}`;
    this.ids = threads * (rounds + 1); // t initial ones + at most one fresh mapping per acquire
    this.listAt = SS + 3 * this.ids;
    this.thAt = this.listAt + this.ids;
    this.size = this.thAt + W * threads;
    this.inList = new Uint8Array(this.ids);
  }

  initial(): Uint16Array {
    const s = new Uint16Array(this.size);
    s[NEXT_ID] = this.threads;
    for (let i = 0; i < this.ids; i++) {
      s[SS + 3 * i] = i < this.threads ? IN_USE : UNMAPPED;
      s[SS + 3 * i + 1] = i < this.threads ? i : NONE;
    }
    for (let i = 0; i < this.ids; i++) s[this.listAt + i] = NONE;
    for (let t = 0; t < this.threads; t++) {
      s[this.thAt + W * t + 1] = t;
      s[this.thAt + W * t + 3] = NONE;
    }
    return s;
  }

  done(s: Uint16Array, tid: number): boolean {
    return s[this.thAt + W * tid] === DONE;
  }

  enabled(s: Uint16Array, tid: number): boolean {
    const pc = s[this.thAt + W * tid];
    if (pc === DONE) return false;
    if ((pc === 0 || pc === 5) && !this.noLock) return s[LOCK] === 0;
    return true;
  }

  private evictBack(s: Uint16Array): number {
    const id = s[this.listAt];
    for (let i = 1; i < s[COUNT]; i++) s[this.listAt + i - 1] = s[this.listAt + i];
    s[COUNT]--;
    s[this.listAt + s[COUNT]] = NONE;
    s[SS + 3 * id] = UNMAPPED;
    s[SS + 3 * id + 2] = 0;
    return id;
  }

  private expire(s: Uint16Array, describe: boolean): string {
    s[VCLOCK]++;
    const ev: number[] = [];
    while (s[COUNT] > 0 && s[VCLOCK] - s[SS + 3 * s[this.listAt] + 2] > TTL) ev.push(this.evictBack(s));
    if (!describe) return '';
    return `vclock = ${s[VCLOCK]}; expire${ev.length ? `: evict ${ev.map((i) => `ss${i}`).join(', ')}` : ''}`;
  }

  step(s: Uint16Array, tid: number, describe: boolean): string {
    const at = this.thAt + W * tid;
    const pc = s[at];
    switch (pc) {
      case 0:
      case 5:
        s[LOCK] = tid + 1;
        s[at]++;
        return describe ? `${pc === 0 ? 'push' : 'acquire'}: lock` : '';
      case 1:
      case 6:
        s[at]++;
        const what = this.expire(s, describe);
        return describe ? `${pc === 1 ? 'push' : 'acquire'}: ${what}` : '';
      case 2: {
        const id = s[at + 1];
        s[this.listAt + s[COUNT]] = id;
        s[COUNT]++;
        s[SS + 3 * id] = CACHED;
        s[SS + 3 * id + 1] = NONE;
        s[SS + 3 * id + 2] = s[VCLOCK];
        s[at + 1] = NONE;
        s[at] = 3;
        return describe ? `push: ss${id} to the front (pushed_at ${s[VCLOCK]}), count ${s[COUNT]}` : '';
      }
      case 3:
        if (s[COUNT] > MAX) {
          const id = this.evictBack(s);
          return describe ? `push: count > ${MAX}: evict ss${id}` : '';
        }
        s[at] = 4;
        return describe ? 'push: within bounds' : '';
      case 4:
        if (!this.noLock) s[LOCK] = 0;
        s[at] = 5;
        return describe ? 'push: unlock' : '';
      case 7:
        s[at] = 8;
        s[at + 3] = s[COUNT] > 0 ? s[this.listAt + s[COUNT] - 1] : NONE;
        return describe ? `acquire: read the front -> ${s[at + 3] === NONE ? 'none (LRU empty)' : `ss${s[at + 3]}`}` : '';
      case 8: {
        s[at] = 9;
        const id = s[at + 3];
        if (id !== NONE) {
          // Take the entry read at pc 7 out of the list (wherever it is now).
          let i = 0;
          while (i < s[COUNT] && s[this.listAt + i] !== id) i++;
          if (i < s[COUNT]) {
            for (let j = i + 1; j < s[COUNT]; j++) s[this.listAt + j - 1] = s[this.listAt + j];
            s[COUNT]--;
            s[this.listAt + s[COUNT]] = NONE;
          }
          s[SS + 3 * id] = IN_USE;
          s[SS + 3 * id + 1] = tid;
          s[at + 1] = id;
          return describe ? `acquire: lru_pop ss${id}` : '';
        }
        const fresh = s[NEXT_ID]++;
        s[SS + 3 * fresh] = IN_USE;
        s[SS + 3 * fresh + 1] = tid;
        s[at + 1] = fresh;
        return describe ? `acquire: LRU empty: map ss${fresh}` : '';
      }
      case 9:
      default:
        if (!this.noLock) s[LOCK] = 0;
        s[at + 2]++;
        s[at + 3] = NONE;
        s[at] = s[at + 2] === this.rounds ? DONE : 0;
        return describe ? 'acquire: unlock' : '';
    }
  }

  private inside(s: Uint16Array): boolean {
    for (let t = 0; t < this.threads; t++) {
      const pc = s[this.thAt + W * t];
      if ((pc >= 1 && pc <= 4) || (pc >= 6 && pc <= 9)) return true;
    }
    return false;
  }

  check(s: Uint16Array): string | null {
    for (let a = 0; a < this.threads; a++) {
      const ma = s[this.thAt + W * a + 1];
      if (ma === NONE) continue;
      for (let b = a + 1; b < this.threads; b++) if (s[this.thAt + W * b + 1] === ma) return `ss${ma} held by two threads (t${a} and t${b})`;
    }
    if (this.inside(s)) return null;
    if (s[COUNT] > MAX) return `the LRU holds ${s[COUNT]} SuperSlabs (max ${MAX})`;
    const inList = this.inList;
    inList.fill(0);
    for (let i = 0; i < s[COUNT]; i++) {
      const id = s[this.listAt + i];
      if (id === NONE) return `hole in the LRU at ${i}`;
      if (inList[id]++) return `ss${id} is in the LRU twice`;
      if (s[VCLOCK] - s[SS + 3 * id + 2] > TTL) return `ss${id} cached for ${s[VCLOCK] - s[SS + 3 * id + 2]} ticks (ttl ${TTL})`;
    }
    for (let id = 0; id < this.ids; id++) {
      const place = s[SS + 3 * id];
      if ((place === CACHED) !== (inList[id] === 1)) return `ss${id} is ${place === CACHED ? 'marked cached but not in the LRU' : 'in the LRU but not marked cached'}`;
      if (place === IN_USE) {
        const o = s[SS + 3 * id + 1];
        if (o === NONE || s[this.thAt + W * o + 1] !== id) return `ss${id} is in use but no thread holds it`;
      }
    }
    return null;
  }

  checkFinal(s: Uint16Array): string | null {
    return this.check(s);
  }

  show(s: Uint16Array): string {
    const list: string[] = [];
    for (let i = 0; i < s[COUNT]; i++) list.push(`ss${s[this.listAt + i]}`);
    const held: string[] = [];
    for (let t = 0; t < this.threads; t++) {
      const m = s[this.thAt + W * t + 1];
      held.push(`t${t}: ${m === NONE ? '-' : `ss${m}`}`);
    }
    return `vclock ${s[VCLOCK]}, LRU back..front [${list.join(', ')}], held {${held.join(', ')}}, lock ${s[LOCK] ? `t${s[LOCK] - 1}` : 'free'}`;
  }
}

export const lru: Scenario = {
  name: 'lru',
  description: 'LRU push (expire, push front, evict to the bounds) and pop, under the shared pool lock',
  variants: ['no-lock'],
  defaultThreads: 3,
  build(o: ScenarioOptions): Protocol {
    return new Lru(o.threads ?? 3, o.variant === 'no-lock', o.rounds ?? 1);
  },
};
