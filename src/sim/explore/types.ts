/**
 * A concurrent protocol as a small state machine for the explorer: a state is
 * a flat Uint16Array (program counters, locals, shared memory), each thread's
 * next atomic operation is one `step`, and safety properties are checked on
 * every state reached. Values are 0..0xFFFE; NIL (0xFFFF) is the null pointer.
 */
export const NIL = 0xffff;

export interface Protocol {
  readonly name: string;
  readonly threads: number;
  /** Words of state. */
  readonly size: number;
  initial(): Uint16Array;
  /** Thread `tid` has a next step and can take it now (not finished, not blocked on a lock). */
  enabled(s: Uint16Array, tid: number): boolean;
  /** Thread `tid` has finished its program. */
  done(s: Uint16Array, tid: number): boolean;
  /**
   * Take thread `tid`'s next atomic step, in place. With `describe`, return a
   * one-line description of it (only wanted for counterexamples: the search
   * itself passes false and the protocol returns '').
   */
  step(s: Uint16Array, tid: number, describe: boolean): string;
  /** A safety property broken in this state, or null. */
  check(s: Uint16Array): string | null;
  /** A property of a final state (every thread done), or null. */
  checkFinal(s: Uint16Array): string | null;
  /** A readable summary of the state (for counterexamples). */
  show(s: Uint16Array): string;
}

export interface ScenarioOptions {
  threads?: number;
  variant?: string | null;
  /** Scale: blocks per producer and drains (remote-push), acquire/release rounds per thread (shared-pool, lru). */
  rounds?: number;
}

export interface Scenario {
  name: string;
  description: string;
  variants: readonly string[];
  defaultThreads: number;
  build(o: ScenarioOptions): Protocol;
}
