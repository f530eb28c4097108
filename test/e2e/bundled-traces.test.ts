/**
 * Every bundled trace (traces/*.hkt, real recordings) replays through the twin
 * with 100% agreement and no invariant violation, and the twin agrees with
 * hakmem-replay on placements, verdicts and digests.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, runCli } from '../helpers/cli.js';

const DIR = path.join(ROOT, 'traces');
const traces = fs.existsSync(DIR) ? fs.readdirSync(DIR).filter((f) => f.endsWith('.hkt')).sort() : [];

describe('bundled traces', () => {
  it('there are bundled traces, each listed in traces/README.md, within the size limits', () => {
    expect(traces.length).toBeGreaterThanOrEqual(6);
    const readme = fs.readFileSync(path.join(DIR, 'README.md'), 'utf8');
    let total = 0;
    for (const t of traces) {
      expect(readme).toContain(t);
      const size = fs.statSync(path.join(DIR, t)).size;
      expect(size).toBeLessThan(5e6);
      total += size;
    }
    expect(total).toBeLessThan(30e6);
  });

  for (const t of traces) {
    it(`${t}: the twin agrees with the recording and with hakmem-replay`, () => {
      const file = path.join(DIR, t);
      const r = runCli(['diff', file, '--native', '--json']);
      const j = JSON.parse(r.stdout) as {
        recorded: { disagreements: number; agreementPercent: number; mode: string; firstDisagreement: unknown };
        native: { disagreements: number; placements: number; digests: number; firstDisagreement: unknown };
      };
      expect(j.native.disagreements, JSON.stringify(j.native.firstDisagreement)).toBe(0);
      expect(j.native.placements).toBeGreaterThan(0);
      expect(j.native.digests).toBeGreaterThan(0);
      expect(j.recorded.disagreements, JSON.stringify(j.recorded.firstDisagreement)).toBe(0);
      const rep = runCli(['replay', file, '--json']);
      const s = JSON.parse(rep.stdout) as { violations: number; agreementPercent: number; firstViolation: unknown };
      expect(s.violations, JSON.stringify(s.firstViolation)).toBe(0);
      expect(s.agreementPercent).toBe(100);
      expect(rep.status).toBe(0);
    });
  }
});
