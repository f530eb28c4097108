/**
 * Thread schedulers for a fuzz case. Both answer one question at every step:
 * which runnable thread issues its next call.
 *
 * - `picks` (default): the schedule is data, an array of thread picks. Step i
 *   runs runnable[picks[i] % runnable.length]; past the end of the array the
 *   current thread keeps running until it is done (then the lowest runnable
 *   one). An empty array is the serial program, so fast-check's shrinking
 *   (shorter arrays, smaller picks) moves toward fewer context switches.
 * - `pct`: Probabilistic Concurrency Testing (Burckhardt et al., ASPLOS 2010):
 *   random distinct thread priorities, d - 1 random change points among the k
 *   steps; the highest-priority runnable thread runs; at the i-th change point
 *   the running thread drops to priority i (below every initial priority).
 *   Finds a bug of depth d with probability >= 1 / (n k^(d-1)). Seeded with
 *   seedrandom from the case's pctSeed, so it is replayable.
 */
import seedrandom from 'seedrandom';

export type ScheduleMode = 'picks' | 'pct';

export interface Scheduler {
  /** Index into `runnable` (thread ids ascending) of the thread to run at this step. */
  next(runnable: readonly number[], step: number): number;
}

export class PickScheduler implements Scheduler {
  private current = -1;
  constructor(private readonly picks: readonly number[]) {}

  next(runnable: readonly number[], step: number): number {
    let i: number;
    if (step < this.picks.length) i = this.picks[step] % runnable.length;
    else {
      i = runnable.indexOf(this.current);
      if (i < 0) i = 0;
    }
    this.current = runnable[i];
    return i;
  }
}

export const PCT_DEPTH = 3;

export class PctScheduler implements Scheduler {
  private readonly prio = new Map<number, number>();
  private readonly changeAt = new Map<number, number>();

  constructor(seed: number, threadIds: readonly number[], totalSteps: number, depth = PCT_DEPTH) {
    const rng = seedrandom(`pct:${seed}`);
    // Distinct initial priorities depth .. depth + n - 1, in a random order (Fisher-Yates).
    const order = threadIds.slice();
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(rng() * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
    order.forEach((t, i) => this.prio.set(t, depth + i));
    for (let i = 1; i < depth; i++) this.changeAt.set(Math.floor(rng() * Math.max(1, totalSteps)), depth - i);
  }

  next(runnable: readonly number[], step: number): number {
    let best = 0;
    for (let i = 1; i < runnable.length; i++) {
      if ((this.prio.get(runnable[i]) ?? 0) > (this.prio.get(runnable[best]) ?? 0)) best = i;
    }
    const drop = this.changeAt.get(step);
    if (drop !== undefined) {
      this.prio.set(runnable[best], drop);
      best = 0;
      for (let i = 1; i < runnable.length; i++) {
        if ((this.prio.get(runnable[i]) ?? 0) > (this.prio.get(runnable[best]) ?? 0)) best = i;
      }
    }
    return best;
  }
}
