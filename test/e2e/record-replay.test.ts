/**
 * The walking skeleton end to end: a real program recorded under LD_PRELOAD,
 * replayed by the TypeScript twin, with every placement agreeing.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';

interface Summary {
  events: number;
  calls: number;
  threads: number;
  agreementPercent: number;
  disagreements: number;
  agreement: { allocations: number; allocationsAgreed: number; frees: number; freesAgreed: number; regionEvents: number };
  firstDisagreement: unknown;
}

describe('record a real program, replay it through the twin', () => {
  let dir: string;
  let cleanup: () => void;
  beforeAll(() => ({ dir, cleanup } = tmpDir()));
  afterAll(() => cleanup());

  it('ls -R /usr/share: the program runs normally and every placement agrees', () => {
    const trace = path.join(dir, 'ls.hkt');
    const rec = runCli(['record', '--out', trace, '--', 'ls', '-lR', '/usr/share']);
    expect(rec.status, rec.stderr).toBe(0);
    expect(rec.stdout.length).toBeGreaterThan(100_000); // ls really listed the tree
    expect(rec.stderr).toMatch(/exited with status 0; [\d,]+ events in /);
    const plain = runCli(['info', trace, '--json']);
    expect(plain.status, plain.stderr).toBe(0);
    const info = JSON.parse(plain.stdout) as { events: number; complete: boolean };
    expect(info.complete).toBe(true);
    expect(info.events).toBeGreaterThan(10_000);

    const r = runCli(['replay', trace, '--json']);
    expect(r.stderr).toBe('');
    const s = JSON.parse(r.stdout) as Summary;
    expect(s.firstDisagreement).toBeNull();
    expect(r.status).toBe(0);
    expect(s.events).toBe(info.events);
    expect(s.agreement.allocations).toBeGreaterThan(5_000);
    expect(s.agreement.allocationsAgreed).toBe(s.agreement.allocations);
    expect(s.agreement.freesAgreed).toBe(s.agreement.frees);
    expect(s.agreement.regionEvents).toBeGreaterThan(0);
    expect(s.agreementPercent).toBe(100);

    const text = runCli(['replay', trace]);
    expect(text.status).toBe(0);
    expect(text.stdout).toMatch(/agreement\s+100\.00%/);
  });

  it('the recorded program prints the same output as without the allocator', () => {
    const trace = path.join(dir, 'ls2.hkt');
    const rec = runCli(['record', '--out', trace, '--', 'ls', '-lR', '/usr/share/doc']);
    const plain = spawnSync('ls', ['-lR', '/usr/share/doc'], { encoding: 'utf8', maxBuffer: 64 << 20 });
    expect(rec.stdout).toBe(plain.stdout);
  });

  it('record returns the program status and says when it was killed by a signal', () => {
    const trace = path.join(dir, 'sh.hkt');
    const r = runCli(['record', '--out', trace, '--', 'sh', '-c', 'exit 7']);
    expect(r.status).toBe(7);
    const k = runCli(['record', '--out', path.join(dir, 'k.hkt'), '--', 'sh', '-c', 'kill -SEGV $$']);
    expect(k.status).toBe(128 + 11);
    expect(k.stderr).toMatch(/killed by SIGSEGV/);
    expect(fs.existsSync(path.join(dir, 'k.hkt'))).toBe(true);
  });
});
