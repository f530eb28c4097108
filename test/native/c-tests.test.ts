/**
 * The C tests (native/tests) run as part of npm test, once as built and once
 * under AddressSanitizer and UBSan.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/cli.js';

function make(target: string): { status: number | null; out: string } {
  const r = spawnSync('make', ['-s', '-C', path.join(ROOT, 'native'), target], {
    encoding: 'utf8',
    maxBuffer: 64 << 20,
    timeout: 300_000,
  });
  return { status: r.status, out: `${r.stdout}\n${r.stderr}` };
}

/** Every C test binary ends with a line "N passed, M failed". */
function totals(out: string): { passed: number; failed: number; binaries: number } {
  let passed = 0;
  let failed = 0;
  let binaries = 0;
  for (const m of out.matchAll(/^(\d+) passed, (\d+) failed/gm)) {
    passed += Number(m[1]);
    failed += Number(m[2]);
    binaries++;
  }
  return { passed, failed, binaries };
}

describe('native C tests', () => {
  it('make -C native test passes', () => {
    const r = make('test');
    const t = totals(r.out);
    expect(r.status, r.out.slice(-4000)).toBe(0);
    expect(t.failed).toBe(0);
    expect(t.binaries).toBeGreaterThan(0);
    expect(t.passed).toBeGreaterThan(0);
  });

  it('the same tests pass under -fsanitize=address,undefined', () => {
    const r = make('asan');
    const t = totals(r.out);
    expect(r.status, r.out.slice(-4000)).toBe(0);
    expect(r.out).not.toMatch(/ERROR: AddressSanitizer|runtime error:/);
    expect(t.failed).toBe(0);
    expect(t.passed).toBeGreaterThan(0);
  });
});
