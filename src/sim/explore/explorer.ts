/**
 * An explicit-state bounded model checker: every interleaving of a
 * protocol's threads up to a preemption bound (a switch away from a thread
 * that could have gone on counts as one preemption; CHESS / loom style),
 * depth-first (default) or breadth-first (the first counterexample found is a
 * shortest one), with a visited set keyed by the canonical state (the state
 * words as a string) plus the last thread, remembering the fewest preemptions
 * a node was reached with so that a cheaper path re-explores it.
 */
import type { Protocol } from './types.js';

export interface ExploreOptions {
  preemptions: number;
  bfs?: boolean;
  /** Stop (incomplete) after this many distinct nodes. */
  maxStates?: number;
}

export interface Counterexample {
  /** Which property, as the protocol words it. */
  violation: string;
  /** The steps, in order: "t1: load head -> 3". */
  steps: string[];
  preemptions: number;
  /** The state at the end. */
  state: string;
}

export interface ExploreResult {
  protocol: string;
  threads: number;
  preemptionBound: number;
  search: 'dfs' | 'bfs';
  /** Nodes expanded (state + last thread + preemptions so far). */
  statesExplored: number;
  /** Distinct protocol states reached. */
  distinctStates: number;
  transitions: number;
  maxDepth: number;
  /** Final states (every thread done). */
  finalStates: number;
  seconds: number;
  statesPerSecond: number;
  complete: boolean;
  ok: boolean;
  counterexample: Counterexample | null;
}

/**
 * The visited set: every distinct state stored once in one Uint16Array arena,
 * found through an open-addressing hash table (no string keys, no per-state
 * objects, exact comparison). For each state, 4 bits per last thread: 1 + the
 * fewest preemptions a node (state, last thread) was reached with, 0 if never.
 */
class StateStore {
  arena: Uint16Array;
  count = 0;
  private table: Int32Array;
  private mask: number;
  info: Uint32Array;

  constructor(private readonly size: number) {
    this.arena = new Uint16Array(size * 1024);
    this.info = new Uint32Array(1024);
    this.table = new Int32Array(1 << 12);
    this.mask = this.table.length - 1;
  }

  private hash(s: Uint16Array): number {
    let h = 0x811c9dc5;
    for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s[i], 0x01000193);
    h ^= h >>> 15;
    return Math.imul(h, 0x2c1b3c6d) >>> 0;
  }

  /** The index of s, or -1. */
  find(s: Uint16Array): number {
    const n = this.size;
    const a = this.arena;
    for (let i = this.hash(s) & this.mask; ; i = (i + 1) & this.mask) {
      const e = this.table[i];
      if (e === 0) return -1;
      const base = (e - 1) * n;
      let j = 0;
      while (j < n && a[base + j] === s[j]) j++;
      if (j === n) return e - 1;
    }
  }

  /** Add s (not present); returns its index. */
  add(s: Uint16Array): number {
    if ((this.count + 1) * 2 > this.table.length) this.rehash();
    if ((this.count + 1) * this.size > this.arena.length) {
      const a = new Uint16Array(this.arena.length * 2);
      a.set(this.arena);
      this.arena = a;
      const inf = new Uint32Array(this.info.length * 2);
      inf.set(this.info);
      this.info = inf;
    }
    const idx = this.count++;
    this.arena.set(s, idx * this.size);
    this.info[idx] = 0;
    this.insert(idx, this.hash(s));
    return idx;
  }

  private insert(idx: number, h: number): void {
    let i = h & this.mask;
    while (this.table[i] !== 0) i = (i + 1) & this.mask;
    this.table[i] = idx + 1;
  }

  private rehash(): void {
    this.table = new Int32Array(this.table.length * 2);
    this.mask = this.table.length - 1;
    for (let idx = 0; idx < this.count; idx++) this.insert(idx, this.hash(this.arena.subarray(idx * this.size, (idx + 1) * this.size)));
  }

  state(idx: number): Uint16Array {
    return this.arena.subarray(idx * this.size, (idx + 1) * this.size);
  }
}

/** A growable Int32Array. */
class IntVec {
  a = new Int32Array(1024);
  length = 0;
  push(v: number): void {
    if (this.length === this.a.length) {
      const b = new Int32Array(this.a.length * 2);
      b.set(this.a);
      this.a = b;
    }
    this.a[this.length++] = v;
  }
}

/** The steps from the root to node n, described by replaying them from the initial state. */
function trail(p: Protocol, nodeLast: IntVec, nodeParent: IntVec, n: number): string[] {
  const tids: number[] = [];
  for (let x = n; x > 0; x = nodeParent.a[x]) tids.push(nodeLast.a[x]);
  tids.reverse();
  const s = p.initial();
  return tids.map((t) => `t${t}: ${p.step(s, t, true)}`);
}

/** Preemption bounds above this are not tracked exactly (4 bits per last thread). */
export const MAX_PREEMPTION_BOUND = 14;

export function explore(p: Protocol, o: ExploreOptions): ExploreResult {
  const start = performance.now();
  const bound = Math.min(o.preemptions, MAX_PREEMPTION_BOUND);
  const maxStates = o.maxStates ?? 5_000_000;
  if (p.threads > 7) throw new Error('explore: at most 7 threads');
  const T = p.threads;
  const store = new StateStore(p.size);
  // Nodes: (state, last thread, preemptions, depth, parent node). Node 0 is the root.
  const nState = new IntVec();
  const nLast = new IntVec();
  const nPre = new IntVec();
  const nDepth = new IntVec();
  const nParent = new IntVec();
  const frontier = new IntVec();
  let head = 0; // BFS queue head
  let explored = 0;
  let transitions = 0;
  let maxDepth = 0;
  let finals = 0;
  let complete = true;
  let found: Counterexample | null = null;
  const en = new Uint8Array(T);
  const cur = new Uint16Array(p.size);
  const child = new Uint16Array(p.size);

  const addNode = (state: number, last: number, pre: number, depth: number, parent: number): number => {
    const id = nState.length;
    nState.push(state);
    nLast.push(last);
    nPre.push(pre);
    nDepth.push(depth);
    nParent.push(parent);
    return id;
  };

  const init = p.initial();
  const initialBad = p.check(init);
  const rootState = store.add(init);
  store.info[rootState] = 1 << (4 * T);
  frontier.push(addNode(rootState, T, 0, 0, 0));
  if (initialBad) found = { violation: initialBad, steps: [], preemptions: 0, state: p.show(init) };

  while (found === null) {
    let n: number;
    if (o.bfs) {
      if (head >= frontier.length) break;
      n = frontier.a[head++];
    } else {
      if (frontier.length === 0) break;
      n = frontier.a[--frontier.length];
    }
    explored++;
    const depth = nDepth.a[n];
    if (depth > maxDepth) maxDepth = depth;
    cur.set(store.state(nState.a[n]));
    const last = nLast.a[n];
    const npre = nPre.a[n];
    let any = false;
    for (let t = 0; t < T; t++) {
      en[t] = p.enabled(cur, t) ? 1 : 0;
      if (en[t]) any = true;
    }
    const lastEnabled = last < T && en[last] === 1;
    for (let t = 0; t < T; t++) {
      if (!en[t]) continue;
      const pre = npre + (lastEnabled && t !== last ? 1 : 0);
      if (pre > bound) continue;
      child.set(cur);
      p.step(child, t, false);
      transitions++;
      const shift = 4 * t;
      let idx = store.find(child);
      if (idx < 0) {
        // A new state: check it once.
        const bad = p.check(child);
        if (bad) {
          const id = addNode(-1, t, pre, depth + 1, n);
          found = { violation: bad, steps: trail(p, nLast, nParent, id), preemptions: pre, state: p.show(child) };
          break;
        }
        if (store.count >= maxStates) {
          complete = false;
          break;
        }
        idx = store.add(child);
        store.info[idx] = (pre + 1) << shift;
      } else {
        const was = store.info[idx];
        const prev = (was >>> shift) & 15;
        if (prev !== 0 && prev <= pre + 1) continue;
        store.info[idx] = (was & ~(15 << shift)) | ((pre + 1) << shift);
      }
      frontier.push(addNode(idx, t, pre, depth + 1, n));
    }
    if (found !== null || !complete) break;
    if (!any) {
      let allDone = true;
      for (let t = 0; t < T; t++) if (!p.done(cur, t)) allDone = false;
      const bad = allDone ? p.checkFinal(cur) : 'deadlock: no thread can move and not every thread is done';
      finals++;
      if (bad) found = { violation: bad, steps: trail(p, nLast, nParent, n), preemptions: npre, state: p.show(cur) };
    }
  }
  const seconds = (performance.now() - start) / 1000;
  return {
    protocol: p.name,
    threads: p.threads,
    preemptionBound: bound,
    search: o.bfs ? 'bfs' : 'dfs',
    statesExplored: explored,
    distinctStates: store.count,
    transitions,
    maxDepth,
    finalStates: finals,
    seconds,
    statesPerSecond: Math.round(explored / Math.max(seconds, 1e-9)),
    complete,
    ok: found === null && complete,
    counterexample: found,
  };
}
