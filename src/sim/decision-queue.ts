/**
 * A FIFO of decisions (region events and recorded internal decisions) waiting for their
 * counterpart from the other side, recorded or predicted: the engine pairs them in order.
 *
 * Why not an array of objects: a trace with many large blocks records a region event for
 * about one call in eight (git-pack-objects.hkt), and an object per decision on each side plus
 * the arrays' splice at every match was a fifth of that trace's fast-checks replay (A/B in one
 * process). Here a decision is a row of typed columns in a ring, and nothing is allocated
 * unless the ring grows (by doubling; the engine keeps it under MAX_PENDING entries between
 * calls, and a call adds the few its events make).
 */
export interface Decision {
  event: number;
  tid: number;
  op: number;
  a: number;
  b: number;
  c: number;
}

const MIN_CAPACITY = 16;

export class DecisionQueue {
  private head = 0;
  private count = 0;
  private mask = MIN_CAPACITY - 1;
  private event = new Float64Array(MIN_CAPACITY);
  private tid = new Int32Array(MIN_CAPACITY);
  private op = new Int32Array(MIN_CAPACITY);
  private a = new Float64Array(MIN_CAPACITY);
  private b = new Float64Array(MIN_CAPACITY);
  private c = new Float64Array(MIN_CAPACITY);

  get length(): number {
    return this.count;
  }

  push(event: number, tid: number, op: number, a: number, b: number, c: number): void {
    if (this.count > this.mask) this.grow();
    const i = (this.head + this.count) & this.mask;
    this.event[i] = event;
    this.tid[i] = tid;
    this.op[i] = op;
    this.a[i] = a;
    this.b[i] = b;
    this.c[i] = c;
    this.count++;
  }

  /** Fields of the k-th decision from the head (k < length). */
  eventAt(k: number): number {
    return this.event[(this.head + k) & this.mask];
  }
  tidAt(k: number): number {
    return this.tid[(this.head + k) & this.mask];
  }
  opAt(k: number): number {
    return this.op[(this.head + k) & this.mask];
  }
  aAt(k: number): number {
    return this.a[(this.head + k) & this.mask];
  }
  bAt(k: number): number {
    return this.b[(this.head + k) & this.mask];
  }
  cAt(k: number): number {
    return this.c[(this.head + k) & this.mask];
  }

  /** The k-th decision from the head as an object (for reports and snapshots). */
  get(k: number): Decision {
    const i = (this.head + k) & this.mask;
    return { event: this.event[i], tid: this.tid[i], op: this.op[i], a: this.a[i], b: this.b[i], c: this.c[i] };
  }

  /** Remove n decisions from the head (n <= length). */
  drop(n: number): void {
    this.head = (this.head + n) & this.mask;
    this.count -= n;
    if (this.count === 0) this.head = 0;
  }

  clear(): void {
    this.head = 0;
    this.count = 0;
  }

  toArray(): Decision[] {
    const out: Decision[] = [];
    for (let k = 0; k < this.count; k++) out.push(this.get(k));
    return out;
  }

  /** Replace the contents with `ds`, oldest first. */
  load(ds: readonly Decision[]): void {
    this.clear();
    for (const d of ds) this.push(d.event, d.tid, d.op, d.a, d.b, d.c);
  }

  private grow(): void {
    const n = (this.mask + 1) * 2;
    const event = new Float64Array(n);
    const tid = new Int32Array(n);
    const op = new Int32Array(n);
    const a = new Float64Array(n);
    const b = new Float64Array(n);
    const c = new Float64Array(n);
    for (let k = 0; k < this.count; k++) {
      const i = (this.head + k) & this.mask;
      event[k] = this.event[i];
      tid[k] = this.tid[i];
      op[k] = this.op[i];
      a[k] = this.a[i];
      b[k] = this.b[i];
      c[k] = this.c[i];
    }
    this.event = event;
    this.tid = tid;
    this.op = op;
    this.a = a;
    this.b = b;
    this.c = c;
    this.head = 0;
    this.mask = n - 1;
  }
}
