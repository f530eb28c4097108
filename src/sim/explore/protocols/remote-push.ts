/**
 * The remote-free queue of one slab (docs/allocator.md section 4): producers
 * (threads that do not own the slab) push freed blocks onto a lock-free LIFO;
 * the owner drains it by exchanging the head with NIL and walking the chain
 * into its freelist.
 *
 *   push(b):  loop { h = load head; next[b] = h; if CAS(head, h, b) break }
 *   drain():  x = exchange(head, NIL); while x != NIL { freelist += x; used -= 1; x = next[x] }
 *
 * Thread 0 is the owner and drains R times; threads 1..P each free R blocks
 * remotely (R = --rounds, default 2). Every load, store, CAS and exchange is one atomic step, and so is
 * each step of the owner's walk.
 *
 * Variant `nonatomic-push`: the push publishes with a plain store
 * (`head = b`) instead of the CAS, so a push racing with another push or with
 * the drain's exchange loses or duplicates a block.
 *
 * Properties: a block is never in two places at once (the queue, the owner's
 * private chain, the freelist); the queue has no cycle; `used` equals the
 * blocks not drained yet; at the end every block is in exactly one place.
 */
import { NIL, type Protocol, type Scenario, type ScenarioOptions } from '../types.js';

export const DEFAULT_ROUNDS = 2;

// Layout.
const HEAD = 0;
const USED = 1;
const PC0 = 2;
const X = 3;
const DRAINS_LEFT = 4;
const PROD = 5; // per producer: pc, h, k
const OWNER_DONE = 2;
const PROD_DONE = 3;

class RemotePush implements Protocol {
  readonly name: string;
  readonly size: number;
  private readonly producers: number;
  private readonly blocks: number;
  private readonly nextAt: number;
  private readonly drainedAt: number;
  private readonly count: Int32Array;
  private readonly inQueue: Int32Array;
  private readonly inChain: Int32Array;

  private readonly perProducer: number;

  constructor(
    readonly threads: number,
    private readonly nonatomic: boolean,
    /** Blocks each producer frees, and drains the owner makes. */
    private readonly rounds: number,
  ) {
    this.name = `remote-push${nonatomic ? ' (nonatomic-push)' : ''}`;
    this.producers = threads - 1;
    this.perProducer = rounds;
    this.blocks = this.producers * rounds;
    this.nextAt = PROD + 3 * this.producers;
    this.drainedAt = this.nextAt + this.blocks;
    this.size = this.drainedAt + this.blocks;
    this.count = new Int32Array(this.blocks);
    this.inQueue = new Int32Array(this.blocks);
    this.inChain = new Int32Array(this.blocks);
  }

  initial(): Uint16Array {
    const s = new Uint16Array(this.size);
    s[HEAD] = NIL;
    s[USED] = this.blocks;
    s[PC0] = 0;
    s[X] = NIL;
    s[DRAINS_LEFT] = this.rounds;
    for (let b = 0; b < this.blocks; b++) s[this.nextAt + b] = NIL;
    return s;
  }

  done(s: Uint16Array, tid: number): boolean {
    return tid === 0 ? s[PC0] === OWNER_DONE : s[PROD + 3 * (tid - 1)] === PROD_DONE;
  }

  enabled(s: Uint16Array, tid: number): boolean {
    return !this.done(s, tid);
  }

  private block(tid: number, k: number): number {
    return (tid - 1) * this.perProducer + k;
  }

  step(s: Uint16Array, tid: number, describe: boolean): string {
    if (tid === 0) {
      if (s[PC0] === 0) {
        const x = s[HEAD];
        s[HEAD] = NIL;
        s[X] = x;
        if (x === NIL) this.endDrain(s);
        else s[PC0] = 1;
        return describe ? `drain: exchange(head, NIL) -> ${name(x)}` : '';
      }
      const x = s[X];
      s[this.drainedAt + x]++;
      s[USED]--;
      const nx = s[this.nextAt + x];
      s[X] = nx;
      if (nx === NIL) this.endDrain(s);
      return describe ? `drain: freelist += b${x}, used -= 1, x = next[b${x}] = ${name(nx)}` : '';
    }
    const at = PROD + 3 * (tid - 1);
    const b = this.block(tid, s[at + 2]);
    switch (s[at]) {
      case 0:
        s[at + 1] = s[HEAD];
        s[at] = 1;
        return describe ? `push b${b}: h = load head -> ${name(s[at + 1])}` : '';
      case 1:
        s[this.nextAt + b] = s[at + 1];
        s[at] = 2;
        return describe ? `push b${b}: store next[b${b}] = ${name(s[at + 1])}` : '';
      default: {
        const h = s[at + 1];
        if (this.nonatomic) {
          s[HEAD] = b;
          this.pushed(s, at);
          return describe ? `push b${b}: store head = b${b} (plain store)` : '';
        }
        if (s[HEAD] === h) {
          s[HEAD] = b;
          this.pushed(s, at);
          return describe ? `push b${b}: CAS(head, ${name(h)}, b${b}) succeeds` : '';
        }
        s[at] = 0;
        return describe ? `push b${b}: CAS(head, ${name(h)}, b${b}) fails (head is ${name(s[HEAD])}), retry` : '';
      }
    }
  }

  private endDrain(s: Uint16Array): void {
    s[DRAINS_LEFT]--;
    s[PC0] = s[DRAINS_LEFT] === 0 ? OWNER_DONE : 0;
  }

  private pushed(s: Uint16Array, at: number): void {
    s[at + 2]++;
    s[at] = s[at + 2] === this.perProducer ? PROD_DONE : 0;
  }

  /** Count each block's places: freelist (drained), queue, owner's chain. Returns a problem or null. */
  private places(s: Uint16Array): string | null {
    const c = this.count;
    const q = this.inQueue;
    const ch = this.inChain;
    let drained = 0;
    for (let b = 0; b < this.blocks; b++) {
      q[b] = 0;
      ch[b] = 0;
      drained += s[this.drainedAt + b];
    }
    let x = s[HEAD];
    for (let i = 0; x !== NIL; i++) {
      if (i > this.blocks) return 'cycle in the remote queue';
      q[x]++;
      x = s[this.nextAt + x];
    }
    x = s[PC0] === 1 ? s[X] : NIL;
    for (let i = 0; x !== NIL; i++) {
      if (i > this.blocks) return "cycle in the owner's drained chain";
      ch[x]++;
      x = s[this.nextAt + x];
    }
    for (let b = 0; b < this.blocks; b++) {
      const f = s[this.drainedAt + b];
      c[b] = f + q[b] + ch[b];
      if (c[b] > 1) {
        const where = [f ? `the freelist${f > 1 ? ` (${f} times)` : ''}` : '', q[b] ? 'the remote queue' : '', ch[b] ? "the owner's drained chain" : '']
          .filter((w) => w !== '')
          .join(' and ');
        return `duplicated block: b${b} is in ${where} at once`;
      }
    }
    if (s[USED] !== this.blocks - drained) return `used count ${s[USED]} != ${this.blocks - drained} blocks not yet drained`;
    return null;
  }

  check(s: Uint16Array): string | null {
    return this.places(s);
  }

  checkFinal(s: Uint16Array): string | null {
    const bad = this.places(s);
    if (bad) return bad;
    for (let b = 0; b < this.blocks; b++) if (this.count[b] === 0) return `lost block: b${b} was freed but is neither in the queue nor drained`;
    return null;
  }

  show(s: Uint16Array): string {
    const q: string[] = [];
    for (let x = s[HEAD], i = 0; x !== NIL && i <= this.blocks; x = s[this.nextAt + x], i++) q.push(`b${x}`);
    const fl: string[] = [];
    for (let b = 0; b < this.blocks; b++) for (let i = 0; i < s[this.drainedAt + b]; i++) fl.push(`b${b}`);
    return `queue [${q.join(' -> ')}], freelist {${fl.join(', ')}}, used ${s[USED]}`;
  }
}

function name(v: number): string {
  return v === NIL ? 'NIL' : `b${v}`;
}

export const remotePush: Scenario = {
  name: 'remote-push',
  description: 'remote-free push (load head; store next; CAS head) racing with the owner\'s drain (exchange head, walk)',
  variants: ['nonatomic-push'],
  defaultThreads: 3,
  build(o: ScenarioOptions): Protocol {
    return new RemotePush(o.threads ?? 3, o.variant === 'nonatomic-push', o.rounds ?? DEFAULT_ROUNDS);
  },
};
