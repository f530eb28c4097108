/**
 * Real programs under LD_PRELOAD=libhakmem.so give byte-identical output to the
 * same runs without it (native/tests/real_programs.sh: ls -R /usr, sort
 * --parallel=2 of a multi-megabyte file, python3, git log, gcc, node, a bash
 * pipeline that forks and execs, ...), and seed 002's 4-thread larson case
 * with cross-thread frees completes 20 runs out of 20.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/cli.js';

const LIB = path.join(ROOT, 'native', 'build', 'libhakmem.so');

describe('real programs under LD_PRELOAD', () => {
  it('every program prints the same bytes and exits with the same status as without hakmem', () => {
    const r = spawnSync('bash', [path.join(ROOT, 'native', 'tests', 'real_programs.sh'), LIB], {
      encoding: 'utf8',
      maxBuffer: 16 << 20,
      timeout: 300_000,
    });
    const m = r.stdout.match(/^(\d+) passed, (\d+) failed/m);
    expect(m, r.stdout + r.stderr).not.toBeNull();
    expect(Number(m![2]), r.stdout).toBe(0);
    expect(Number(m![1])).toBeGreaterThanOrEqual(8);
    expect(r.status).toBe(0);
  }, 300_000);

  it("seed 002's 4-thread high-contention larson case completes 20 runs out of 20", () => {
    const larson = path.join(ROOT, 'bench', 'build', 'workloads', 'larson');
    let ok = 0;
    for (let i = 0; i < 20; i++) {
      const r = spawnSync(larson, ['4', '1024', '8', '128', '20000', '3', String(12345 + i)], {
        encoding: 'utf8',
        env: { ...process.env, LD_PRELOAD: LIB, HAKMEM_ABORT_ON_ERROR: '1' },
        timeout: 60_000,
      });
      if (r.status === 0 && /ops\/s/.test(r.stdout)) ok++;
    }
    expect(ok).toBe(20);
  }, 300_000);
});
