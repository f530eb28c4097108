/**
 * A 10-million-event trace replays in bounded memory: the reader streams it
 * through a fixed buffer and the engine keeps only live state, so peak RSS for
 * 10 million events stays close to that for 1 million.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, ROOT } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';

let dir: string;
let cleanup: () => void;
beforeAll(() => ({ dir, cleanup } = tmpDir()));
afterAll(() => cleanup());

/** Replay in a child process (fast checks) and return its peak RSS in MiB and the events read. */
function replayPeak(trace: string): { rssMiB: number; events: number } {
  const script = `import { replayFile } from ${JSON.stringify(path.join(ROOT, 'dist', 'sim', 'replay.js'))};
const s = replayFile(${JSON.stringify(trace)}, { checks: 'fast' });
console.log(JSON.stringify({ events: s.events, violations: s.violations, disagreements: s.disagreements }));`;
  const r = spawnSync('/usr/bin/time', ['-f', '%M', process.execPath, '--input-type=module', '-e', script], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  const out = JSON.parse(r.stdout.trim()) as { events: number; violations: number; disagreements: number };
  expect(out.violations).toBe(0);
  expect(out.disagreements).toBe(0);
  const kib = Number(r.stderr.trim().split('\n').pop());
  return { rssMiB: kib / 1024, events: out.events };
}

describe('bounded memory', () => {
  it('peak RSS replaying 10 million events stays within a few MiB of 1 million', () => {
    const small = path.join(dir, 'small.hkt');
    const big = path.join(dir, 'big.hkt');
    for (const [file, n] of [
      [small, 1_000_000],
      [big, 10_000_000],
    ] as const) {
      const g = spawnSync(process.execPath, [CLI, 'gen', 'random-mixed', '--events', String(n), '--out', file], { encoding: 'utf8' });
      expect(g.status, g.stderr).toBe(0);
    }
    expect(fs.statSync(big).size).toBeGreaterThan(150e6);
    const a = replayPeak(small);
    const b = replayPeak(big);
    expect(b.events).toBeGreaterThanOrEqual(10_000_000);
    expect(b.rssMiB - a.rssMiB).toBeLessThan(32);
    expect(b.rssMiB).toBeLessThan(256);
  }, 300_000);
});
