/**
 * The fast checks' block table against a Map, including a table whose arrays come from a
 * released one (LiveTable.release hands them to the next table of the same size).
 */
import { describe, expect, it } from 'vitest';
import { LiveTable } from '../../src/sim/invariants/live-table.js';

/** A deterministic walk of inserts, frees and deletes, checked against a Map at every step. */
function exercise(t: LiveTable, seed: number, steps: number): void {
  const ref = new Map<number, { size: number; freed: boolean }>();
  let x = seed;
  const rnd = () => (x = (Math.imul(x, 1103515245) + 12345) >>> 0);
  for (let n = 0; n < steps; n++) {
    const addr = 0x7f00_0000_0000 + (rnd() % 5000) * 16;
    const r = rnd() % 3;
    if (r === 0) {
      t.setLive(addr, n, n, 1);
      ref.set(addr, { size: n, freed: false });
    } else if (r === 1) {
      const i = t.findLive(addr);
      if (i >= 0) t.markFreed(i, n, 2);
      const e = ref.get(addr);
      if (e) e.freed = true;
    } else {
      t.delete(addr);
      ref.delete(addr);
    }
  }
  expect(t.entries).toBe(ref.size);
  for (let k = 0; k < 5000; k++) {
    const addr = 0x7f00_0000_0000 + k * 16;
    const e = ref.get(addr);
    expect(t.isLive(addr)).toBe(e !== undefined && !e.freed);
    const i = t.find(addr);
    expect(i >= 0).toBe(e !== undefined);
    if (e) expect(t.sizeAt(i)).toBe(e.size);
  }
}

describe('LiveTable', () => {
  it('answers as a Map does, new and on the arrays of a released table', () => {
    const a = new LiveTable();
    exercise(a, 1, 20000);
    // a grew through 2^7 slots and more: the next table to grow to 2^7 gets a's old arrays, with
    // a's entries of then still in them, and must see none of them.
    const b = new LiveTable();
    for (let k = 0; k < 40; k++) b.setLive(0x5000_0000 + k * 16, 1, 1, 1);
    let stale = 0;
    for (let k = 0; k < 5000; k++) if (b.find(0x7f00_0000_0000 + k * 16) >= 0) stale++;
    expect(stale).toBe(0);
    for (let k = 0; k < 40; k++) b.delete(0x5000_0000 + k * 16);
    exercise(b, 2, 20000);
    // Released: empty at the smallest size, usable again; its arrays go to the next tables.
    a.release();
    expect(a.entries).toBe(0);
    exercise(a, 3, 5000);
    const c = new LiveTable();
    exercise(c, 4, 20000);
  });
});
