import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  execEnv,
  rerunCase,
  roundIndex,
  roundSeed,
  runCampaign,
  type CampaignOptions,
  type CampaignResult,
} from '../../src/sim/fuzz/campaign.js';
import { executeCase } from '../../src/sim/fuzz/exec.js';
import { saveFinding } from '../../src/sim/fuzz/report.js';
import { MODEL_VARIANTS, VARIANT_INVARIANT, type ModelVariant } from '../../src/sim/fuzz/variants.js';
import { PctScheduler } from '../../src/sim/fuzz/schedule.js';
import { runCli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';

const SEED = 1;
const BUDGET = 2000;

function opts(over: Partial<CampaignOptions> = {}): CampaignOptions {
  return {
    seed: SEED,
    runs: BUDGET,
    timeSeconds: null,
    threads: 4,
    maxOps: 128,
    schedule: 'picks',
    config: 'small',
    variant: null,
    misuse: false,
    native: null,
    shardIndex: 0,
    shardCount: 1,
    workerIndex: 0,
    workerCount: 1,
    ...over,
  };
}

describe('fuzz: seeded model-level bugs are caught and shrunk', () => {
  let dir: string;
  let cleanup: () => void;
  const results = new Map<ModelVariant, CampaignResult>();
  beforeAll(() => {
    ({ dir, cleanup } = tmpDir('hakmem-fuzz-'));
    for (const v of MODEL_VARIANTS) results.set(v, runCampaign(opts({ variant: v })));
  });
  afterAll(() => cleanup());

  it.each(MODEL_VARIANTS.map((v) => [v]))('%s: found, with its invariant, shrunk to a short reproducer', (v) => {
    const r = results.get(v)!;
    expect(r.found, `${v} not found in ${BUDGET} runs`).not.toBeNull();
    const f = r.found!;
    expect(f.finding.id).toBe(VARIANT_INVARIANT[v]);
    const run = executeCase(f.case, execEnv(opts({ variant: v })), { log: true });
    expect(run.finding?.id).toBe(VARIANT_INVARIANT[v]);
    // A handful of calls; the trace up to the finding within 20 events.
    expect(run.calls).toBeLessThanOrEqual(12);
    expect(run.events).toBeLessThanOrEqual(20);
  });

  it.each(MODEL_VARIANTS.map((v) => [v]))('%s: the saved reproducer replays with exit 1 (built CLI)', (v) => {
    const f = results.get(v)!.found!;
    const saved = saveFinding(dir, f, execEnv(opts({ variant: v })), {
      threads: 4,
      maxOps: 128,
      config: 'small',
      schedule: 'picks',
      variant: v,
      misuse: false,
      });
    expect(fs.existsSync(saved.trace)).toBe(true);
    expect(fs.readFileSync(saved.text, 'utf8')).toContain(`finding     violation ${VARIANT_INVARIANT[v]}`);
    const r = runCli(['replay', saved.trace]);
    expect(r.status, r.stdout + r.stderr).toBe(1);
  });

  it('the re-run line (round seed + path) reproduces the shrunk case', () => {
    const f = results.get('no-empty')!.found!;
    const again = rerunCase(opts({ variant: 'no-empty' }), f.roundSeed, f.path);
    expect(again.found?.finding.id).toBe('I5');
    expect(again.found?.case).toEqual(f.case);
  });

  it('misuse mode: the misuse is detected (I2) and is not a finding; nothing else is found', () => {
    const r = runCampaign(opts({ misuse: true, runs: 500 }));
    expect(r.found?.finding ?? null).toBeNull();
    expect(r.misuseDetected).toBeGreaterThan(50);
  });

  it('the correct twin gives no finding on the same budget', () => {
    const r = runCampaign(opts());
    expect(r.found?.finding ?? null).toBeNull();
    expect(r.runs).toBe(BUDGET);
    expect(r.calls).toBeGreaterThan(BUDGET * 20);
  });
});

describe('fuzz: determinism and sharding', () => {
  it('the same seed gives the same result', () => {
    const a = runCampaign(opts({ variant: 'drain-loses-block', runs: 1500 }));
    const b = runCampaign(opts({ variant: 'drain-loses-block', runs: 1500 }));
    expect(a.found).not.toBeNull();
    expect(b.found?.path).toBe(a.found?.path);
    expect(b.found?.case).toEqual(a.found?.case);
    expect(b.calls).toBe(a.calls);
    const c = runCampaign(opts({ runs: 300 }));
    const d = runCampaign(opts({ runs: 300 }));
    expect(d.calls).toBe(c.calls);
    expect(d.events).toBe(c.events);
  });

  it('shards and workers split the rounds disjointly and cover them all', () => {
    const n = 3;
    const workers = 2;
    const seen = new Map<number, string>();
    for (let i = 0; i < n; i++) {
      for (let w = 0; w < workers; w++) {
        for (let k = 0; k < 20; k++) {
          const r = roundIndex(k, { shardIndex: i, shardCount: n, workerIndex: w, workerCount: workers });
          expect(seen.has(r), `round ${r} twice`).toBe(false);
          seen.set(r, `${i}/${w}`);
        }
      }
    }
    for (let r = 0; r < n * workers * 20; r++) expect(seen.has(r)).toBe(true);
    // Distinct rounds have distinct fast-check seeds.
    const seeds = new Set([...seen.keys()].map((r) => roundSeed(SEED, r)));
    expect(seeds.size).toBe(seen.size);
  });

  it('different shards run different cases', () => {
    const a = runCampaign(opts({ runs: 200, shardIndex: 0, shardCount: 2 }));
    const b = runCampaign(opts({ runs: 200, shardIndex: 1, shardCount: 2 }));
    expect(a.runs).toBe(200);
    expect(b.runs).toBe(200);
    expect(a.calls).not.toBe(b.calls);
  });

  it('PCT: same seed, same schedule; finds a seeded bug too', () => {
    const run = (seed: number) => {
      const s = new PctScheduler(seed, [0, 1, 2], 30);
      const picks: number[] = [];
      for (let step = 0; step < 30; step++) picks.push(s.next([0, 1, 2], step));
      return picks.join(',');
    };
    expect(run(7)).toBe(run(7));
    const r = runCampaign(opts({ schedule: 'pct', variant: 'double-refill' }));
    expect(r.found?.finding.id).toBe('I1');
  });
});

describe('fuzz CLI', () => {
  let dir: string;
  let cleanup: () => void;
  beforeAll(() => ({ dir, cleanup } = tmpDir('hakmem-fuzz-cli-')));
  afterAll(() => cleanup());

  it('a finding: exit 1, one replay line and one re-run line that reproduces it', () => {
    const out = path.join(dir, 'found');
    const r = runCli(['fuzz', '--seed', '1', '--runs', '1000', '--variant', 'double-refill', '--out', out]);
    expect(r.status, r.stderr).toBe(1);
    const lines = r.stdout.trimEnd().split('\n');
    const replay = lines.find((l) => l.startsWith('hakmem-sim replay '));
    const rerun = lines.find((l) => l.startsWith('hakmem-sim fuzz '));
    expect(replay).toBeDefined();
    expect(rerun).toBeDefined();
    const hkt = replay!.slice('hakmem-sim replay '.length);
    expect(runCli(['replay', hkt]).status).toBe(1);
    const again = runCli([...rerun!.slice('hakmem-sim '.length).split(' '), '--out', path.join(dir, 'again')]);
    expect(again.status).toBe(1);
    expect(again.stdout).toContain('found I1');
  });

  it('clean budget: exit 0 and --json', () => {
    const r = runCli(['fuzz', '--seed', '3', '--runs', '100', '--json', '--out', path.join(dir, 'clean')]);
    expect(r.status, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout) as { found: boolean; runs: number; calls: number };
    expect(j.found).toBe(false);
    expect(j.runs).toBe(100);
    expect(j.calls).toBeGreaterThan(0);
  });

  it('workers: the budget is shared and the result reported', () => {
    const r = runCli(['fuzz', '--seed', '3', '--runs', '400', '--workers', '2', '--json', '--out', path.join(dir, 'w')]);
    expect(r.status, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as { runs: number }).runs).toBe(400);
  });

  it('usage errors exit 2 with one line', () => {
    for (const args of [
      ['fuzz', '--native', '--variant', 'no-such-bug'],
      ['fuzz', '--native', '--misuse'],
      ['fuzz', '--threads', '9'],
      ['fuzz', '--variant', 'nope'],
      ['fuzz', '--shard', '3/3'],
      ['fuzz', '--runs', '5', '--time', '5'],
      ['fuzz', '--schedule', 'random'],
    ]) {
      const r = runCli(args);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    }
    expect(runCli(['fuzz', '--native', '--variant', 'no-such-bug']).stderr).toContain("unknown --variant 'no-such-bug' with --native");
  });
});
