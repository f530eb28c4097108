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

interface Node {
  s: Uint16Array;
  /** The thread that took the step into this node (threads for the root). */
  last: number;
  pre: number;
  depth: number;
  parent: Node | null;
}

function keyOf(s: Uint16Array): string {
  return String.fromCharCode.apply(null, s as unknown as number[]);
}

/** The steps from the root to n, described by replaying them from the initial state. */
function trail(p: Protocol, n: Node): string[] {
  const tids: number[] = [];
  for (let x: Node | null = n; x !== null && x.parent !== null; x = x.parent) tids.push(x.last);
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
  // Canonical state -> for each last thread L (threads = the root), 4 bits: 1 + the fewest
  // preemptions a node (state, L) was reached with, 0 if never. One map, one lookup per child.
  const seen = new Map<string, number>();
  let explored = 0;
  let transitions = 0;
  let maxDepth = 0;
  let finals = 0;
  let complete = true;
  let found: Counterexample | null = null;
  const T = p.threads;
  const en = new Uint8Array(T);

  const root: Node = { s: p.initial(), last: T, pre: 0, depth: 0, parent: null };
  const initialBad = p.check(root.s);
  const frontier: Node[] = [root];
  let head = 0; // BFS queue head
  seen.set(keyOf(root.s), 1 << (4 * T));
  if (initialBad) found = { violation: initialBad, steps: [], preemptions: 0, state: p.show(root.s) };

  while (found === null) {
    let n: Node;
    if (o.bfs) {
      if (head >= frontier.length) break;
      n = frontier[head];
      frontier[head++] = root; // let the node go
      if (head > 65536 && head * 2 > frontier.length) {
        frontier.splice(0, head);
        head = 0;
      }
    } else {
      const top = frontier.pop();
      if (top === undefined) break;
      n = top;
    }
    explored++;
    if (n.depth > maxDepth) maxDepth = n.depth;
    let any = false;
    for (let t = 0; t < T; t++) {
      en[t] = p.enabled(n.s, t) ? 1 : 0;
      if (en[t]) any = true;
    }
    const lastEnabled = n.last < T && en[n.last] === 1;
    for (let t = 0; t < T && found === null; t++) {
      if (!en[t]) continue;
      const pre = n.pre + (lastEnabled && t !== n.last ? 1 : 0);
      if (pre > bound) continue;
      const s = n.s.slice();
      p.step(s, t, false);
      transitions++;
      const k = keyOf(s);
      const was = seen.get(k);
      const shift = 4 * t;
      if (was === undefined) {
        // A new state: check it once.
        const bad = p.check(s);
        if (bad) {
          const child: Node = { s, last: t, pre, depth: n.depth + 1, parent: n };
          found = { violation: bad, steps: trail(p, child), preemptions: pre, state: p.show(s) };
          break;
        }
        if (seen.size >= maxStates) {
          complete = false;
          break;
        }
        seen.set(k, (pre + 1) << shift);
      } else {
        const prev = (was >>> shift) & 15;
        if (prev !== 0 && prev <= pre + 1) continue;
        seen.set(k, (was & ~(15 << shift)) | ((pre + 1) << shift));
      }
      frontier.push({ s, last: t, pre, depth: n.depth + 1, parent: n });
    }
    if (found !== null || !complete) break;
    if (!any) {
      let allDone = true;
      for (let t = 0; t < T; t++) if (!p.done(n.s, t)) allDone = false;
      const bad = allDone ? p.checkFinal(n.s) : 'deadlock: no thread can move and not every thread is done';
      finals++;
      if (bad) found = { violation: bad, steps: trail(p, n), preemptions: n.pre, state: p.show(n.s) };
    }
  }
  const seconds = (performance.now() - start) / 1000;
  return {
    protocol: p.name,
    threads: p.threads,
    preemptionBound: bound,
    search: o.bfs ? 'bfs' : 'dfs',
    statesExplored: explored,
    distinctStates: seen.size,
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
