import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { caseArbitrary, execEnv } from '../../src/sim/fuzz/campaign.js';
import { executeCase } from '../../src/sim/fuzz/exec.js';
import type { ConfigPreset } from '../../src/sim/fuzz/program.js';
import type { ScheduleMode } from '../../src/sim/fuzz/schedule.js';
import { tmpDir } from '../helpers/tmp.js';

// The fuzzer runs every case of a campaign on one engine and recorder, reset between cases
// (exec.ts). A case must come out exactly as on a new engine, whatever the case before it left.
const { dir, cleanup } = tmpDir('fuzz-reuse-');
afterAll(cleanup);

describe('fuzz: cases on a reused engine', () => {
  const combos: { config: ConfigPreset; misuse: boolean; schedule: ScheduleMode }[] = [
    { config: 'small', misuse: false, schedule: 'picks' },
    { config: 'tight', misuse: true, schedule: 'picks' },
    { config: 'small', misuse: true, schedule: 'pct' },
  ];
  for (const o of combos) {
    it(`gives what a new engine gives (${o.config}, misuse ${o.misuse}, ${o.schedule})`, () => {
      const opts = { ...o, variant: null };
      const shared = execEnv(opts);
      const cases = fc.sample(caseArbitrary(4, o.misuse, shared.sizes, 32, o.schedule), { seed: 7, numRuns: 80 });
      let findings = 0;
      let reused = 0;
      cases.forEach((c, i) => {
        const a = executeCase(c, shared, { log: true, tracePath: path.join(dir, 'a.hkt') });
        if (shared.twin) reused++;
        const b = executeCase(c, execEnv(opts), { log: true, tracePath: path.join(dir, 'b.hkt') });
        expect(a, `case ${i}`).toEqual(b);
        expect(fs.readFileSync(path.join(dir, 'a.hkt')).equals(fs.readFileSync(path.join(dir, 'b.hkt'))), `case ${i} trace`).toBe(true);
        if (a.finding !== null || a.misuseDetected > 0) findings++;
      });
      expect(reused).toBe(cases.length);
      // Misuse cases leave violations behind in the engine: the next case must not see them.
      if (o.misuse) expect(findings).toBeGreaterThan(0);
    });
  }
});
