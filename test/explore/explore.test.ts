import { describe, expect, it } from 'vitest';
import { explore } from '../../src/sim/explore/explorer.js';
import { SCENARIOS } from '../../src/sim/explore/scenarios.js';
import { runCli } from '../helpers/cli.js';

const NAMES = Object.keys(SCENARIOS);

describe('explore: the correct protocols are safe', () => {
  it.each(NAMES.map((n) => [n]))('%s passes within 2 preemptions (DFS and BFS agree on the states)', (name) => {
    const p = SCENARIOS[name].build({});
    const dfs = explore(p, { preemptions: 2 });
    expect(dfs.ok, dfs.counterexample?.violation).toBe(true);
    expect(dfs.complete).toBe(true);
    expect(dfs.finalStates).toBeGreaterThan(0);
    const bfs = explore(SCENARIOS[name].build({}), { preemptions: 2, bfs: true });
    expect(bfs.ok).toBe(true);
    expect(bfs.distinctStates).toBe(dfs.distinctStates);
  });

  it.each(NAMES.map((n) => [n]))('%s passes with more rounds and preemptions', (name) => {
    const r = explore(SCENARIOS[name].build({ rounds: 2 }), { preemptions: 4 });
    expect(r.ok, r.counterexample?.violation).toBe(true);
  });

  it('state counts are deterministic', () => {
    for (const name of NAMES) {
      const a = explore(SCENARIOS[name].build({ rounds: 2 }), { preemptions: 3 });
      const b = explore(SCENARIOS[name].build({ rounds: 2 }), { preemptions: 3 });
      expect(b.statesExplored).toBe(a.statesExplored);
      expect(b.distinctStates).toBe(a.distinctStates);
      expect(b.transitions).toBe(a.transitions);
    }
    // Pinned: a change here is a change of the protocol model or of the search.
    const r = explore(SCENARIOS['remote-push'].build({}), { preemptions: 2 });
    expect([r.statesExplored, r.distinctStates, r.transitions]).toEqual([2164, 1478, 2649]);
  });

  it('a larger bound explores more', () => {
    const p0 = explore(SCENARIOS['remote-push'].build({}), { preemptions: 0 });
    const p2 = explore(SCENARIOS['remote-push'].build({}), { preemptions: 2 });
    expect(p2.distinctStates).toBeGreaterThan(p0.distinctStates);
  });
});

describe('explore: seeded protocol bugs are caught', () => {
  it('nonatomic-push: a short counterexample (BFS: shortest)', () => {
    const r = explore(SCENARIOS['remote-push'].build({ variant: 'nonatomic-push' }), { preemptions: 2, bfs: true });
    expect(r.ok).toBe(false);
    const c = r.counterexample!;
    expect(c.violation).toMatch(/duplicated block|lost block/);
    expect(c.steps.length).toBeLessThanOrEqual(8);
    expect(c.steps.some((s) => s.includes('plain store'))).toBe(true);
    expect(c.steps.some((s) => s.includes('exchange(head, NIL)'))).toBe(true);
    expect(c.preemptions).toBeLessThanOrEqual(2);
  });

  it('nonatomic-push with 2 producers and no drain race: a lost block', () => {
    const r = explore(SCENARIOS['remote-push'].build({ variant: 'nonatomic-push', rounds: 1 }), { preemptions: 1, bfs: true });
    expect(r.ok).toBe(false);
    expect(r.counterexample!.violation).toMatch(/lost block|duplicated block/);
  });

  it('no-lock variants of the shared pool and the LRU: a slab or SuperSlab handed to two threads', () => {
    const sp = explore(SCENARIOS['shared-pool'].build({ variant: 'no-lock' }), { preemptions: 2, bfs: true });
    expect(sp.counterexample?.violation).toMatch(/two threads/);
    const lru = explore(SCENARIOS.lru.build({ variant: 'no-lock' }), { preemptions: 2, bfs: true });
    expect(lru.counterexample?.violation).toMatch(/two threads/);
  });

  it('the counterexample replays: its steps are the ones the protocol takes', () => {
    const r = explore(SCENARIOS['remote-push'].build({ variant: 'nonatomic-push' }), { preemptions: 2 });
    expect(r.counterexample!.steps.every((s) => /^t\d: /.test(s))).toBe(true);
  });
});

describe('explore CLI', () => {
  it('ok: exit 0; --json has the figures', () => {
    const r = runCli(['explore', 'shared-pool', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout) as { ok: boolean; statesExplored: number; statesPerSecond: number; preemptionBound: number };
    expect(j.ok).toBe(true);
    expect(j.statesExplored).toBeGreaterThan(100);
    expect(j.preemptionBound).toBe(2);
  });

  it('nonatomic-push: exit 1 with a readable schedule', () => {
    const r = runCli(['explore', 'remote-push', '--variant', 'nonatomic-push', '--bfs']);
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('VIOLATION');
    expect(r.stdout).toMatch(/counterexample \(\d+ steps, \d preemptions, shortest\)/);
    expect(r.stdout).toMatch(/ {2}1\. t\d: /);
  });

  it('bad usage: exit 2', () => {
    expect(runCli(['explore', 'nope']).status).toBe(2);
    expect(runCli(['explore', 'lru', '--variant', 'nonatomic-push']).status).toBe(2);
    expect(runCli(['explore', 'lru', '--preemptions', 'x']).status).toBe(2);
    expect(runCli(['explore', 'lru', '--threads', '5']).status).toBe(2);
  });
});
