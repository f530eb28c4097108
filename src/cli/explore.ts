/**
 * `hakmem-sim explore <scenario>`: bounded model checking of one of the
 * allocator's concurrent protocols (docs/fuzzing.md). Exit 1 with a
 * counterexample, 0 when every interleaving within the bound is safe, 2 on
 * bad usage.
 */
import { explore, MAX_PREEMPTION_BOUND } from '../sim/explore/explorer.js';
import { SCENARIOS } from '../sim/explore/scenarios.js';
import { EXIT_FOUND, EXIT_OK, UsageError } from './errors.js';
import { num } from './format.js';

export interface ExploreCliOptions {
  preemptions: string;
  bfs?: boolean;
  variant?: string;
  threads?: string;
  rounds?: string;
  maxStates: string;
  json?: boolean;
}

export function exploreCommand(scenario: string, o: ExploreCliOptions): number {
  const sc = SCENARIOS[scenario];
  if (!sc) throw new UsageError(`explore: unknown scenario '${scenario}' (one of: ${Object.keys(SCENARIOS).join(', ')})`);
  if (!/^\d+$/.test(o.preemptions) || Number(o.preemptions) > MAX_PREEMPTION_BOUND) {
    throw new UsageError(`explore: --preemptions must be 0..${MAX_PREEMPTION_BOUND}, got '${o.preemptions}'`);
  }
  if (!/^\d+$/.test(o.maxStates) || Number(o.maxStates) < 1) throw new UsageError(`explore: --max-states must be a positive integer, got '${o.maxStates}'`);
  let threads: number | undefined;
  if (o.threads !== undefined) {
    if (!/^[23]$/.test(o.threads)) throw new UsageError(`explore: --threads must be 2 or 3, got '${o.threads}'`);
    threads = Number(o.threads);
  }
  if (o.variant !== undefined && !sc.variants.includes(o.variant)) {
    throw new UsageError(`explore: scenario ${scenario} has no variant '${o.variant}' (variants: ${sc.variants.join(', ') || 'none'})`);
  }
  let rounds: number | undefined;
  if (o.rounds !== undefined) {
    if (!/^\d+$/.test(o.rounds) || Number(o.rounds) < 1 || Number(o.rounds) > 8) throw new UsageError(`explore: --rounds must be 1..8, got '${o.rounds}'`);
    rounds = Number(o.rounds);
  }
  const p = sc.build({ threads, variant: o.variant ?? null, rounds });
  const r = explore(p, { preemptions: Number(o.preemptions), bfs: o.bfs === true, maxStates: Number(o.maxStates) });
  if (o.json) {
    process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
  } else {
    const lines = [
      `explore ${r.protocol}: ${r.threads} threads, preemption bound ${r.preemptionBound}, ${r.search.toUpperCase()}`,
      `states      ${num(r.statesExplored)} explored, ${num(r.distinctStates)} distinct, ${num(r.transitions)} transitions, depth ${r.maxDepth}, ${num(r.finalStates)} final`,
      `time        ${r.seconds.toFixed(3)} s (${num(r.statesPerSecond)} states/s)`,
    ];
    if (r.counterexample) {
      const c = r.counterexample;
      lines.push(`result      VIOLATION: ${c.violation}`);
      lines.push(`counterexample (${c.steps.length} steps, ${c.preemptions} preemptions${r.search === 'bfs' ? ', shortest' : ''}):`);
      c.steps.forEach((s, i) => lines.push(`  ${String(i + 1).padStart(3)}. ${s}`));
      lines.push(`  state: ${c.state}`);
    } else if (!r.complete) {
      lines.push(`result      INCOMPLETE: stopped at --max-states ${o.maxStates}; no violation so far`);
    } else {
      lines.push(`result      ok: every interleaving within ${r.preemptionBound} preemptions is safe`);
    }
    process.stdout.write(`${lines.join('\n')}\n`);
  }
  return r.counterexample ? EXIT_FOUND : EXIT_OK;
}
