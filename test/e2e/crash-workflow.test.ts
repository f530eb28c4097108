/**
 * The crash-reproduction workflow of docs/reproducing-crashes.md, end to end
 * on each fixture in test/fixtures: record (the trace survives the crash),
 * replay (pinpoints the misuse, exit 1), blame (the life of the block),
 * hakmem-replay (reproduces the native failure deterministically), minimize.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, runCli, CLI } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';

const FIX = path.join(ROOT, 'test', 'fixtures', 'build');
const REPLAY = path.join(ROOT, 'native', 'build', 'hakmem-replay');
const ABORT = { HAKMEM_ABORT_ON_ERROR: '1' };

let dir: string;
let cleanup: () => void;
beforeAll(() => ({ dir, cleanup } = tmpDir()));
afterAll(() => cleanup());

function recordFixture(name: string, env: NodeJS.ProcessEnv = ABORT): { trace: string; status: number | null; stderr: string } {
  const trace = path.join(dir, `${name}.hkt`);
  const r = runCli(['record', '--out', trace, '--', path.join(FIX, name)], { env });
  return { trace, status: r.status, stderr: r.stderr };
}

interface ReplayJson {
  violations: number;
  firstViolation: { id: string; event: number; message: string; history: string[] } | null;
  disagreements: number;
  complete: boolean;
}

function replayJson(trace: string): { status: number | null; s: ReplayJson } {
  const r = runCli(['replay', trace, '--json']);
  return { status: r.status, s: JSON.parse(r.stdout) as ReplayJson };
}

describe('a double free', () => {
  let trace = '';
  it('record: the program dies of SIGABRT, the command exits 134 and the trace survives', () => {
    const r = recordFixture('double_free');
    trace = r.trace;
    expect(r.status).toBe(134);
    expect(r.stderr).toMatch(/killed by SIGABRT; \d+ events in .*recovered/);
  });

  it('replay: names the double free, where the block was allocated and first freed; exit 1', () => {
    const { status, s } = replayJson(trace);
    expect(status).toBe(1);
    expect(s.firstViolation!.id).toBe('I2');
    expect(s.firstViolation!.message).toMatch(/double free: free of a block allocated at event \d+ by thread 0 and first freed at event \d+ by thread 0/);
    const text = runCli(['replay', trace]).stdout;
    expect(text).toMatch(/first violation I2 at event \d+ \(thread 0\): double free/);
  });

  it('blame: the three calls that touched the block, with its state after each', () => {
    const { s } = replayJson(trace);
    const r = runCli(['blame', trace, String(s.firstViolation!.event), '--json']);
    expect(r.status, r.stderr).toBe(0);
    const b = JSON.parse(r.stdout) as { total: number; steps: { op: string; state: string }[] };
    expect(b.steps.map((x) => x.op)).toEqual(['malloc', 'free', 'free']);
    expect(b.steps[0].state).toMatch(/live/);
    expect(b.steps[1].state).toMatch(/free/);
  });

  it('hakmem-replay reproduces the native abort at the event the twin names, every time', () => {
    const { s } = replayJson(trace);
    const runs = [0, 1, 2].map(() => spawnSync(REPLAY, ['--quiet', trace], { encoding: 'utf8', env: { ...process.env, ...ABORT } }));
    for (const r of runs) {
      expect(r.signal).toBe('SIGABRT');
      expect(r.stderr).toMatch(/hakmem: free of invalid pointer/);
      expect(r.stderr).toContain(`hakmem-replay: died of signal 6 at event ${s.firstViolation!.event} (thread 0, free)`);
    }
  });

  it('minimize: a reproducer of a few events that fails with the same invariant', () => {
    const out = path.join(dir, 'df-min.hkt');
    const r = runCli(['minimize', trace, '--out', out, '--json']);
    expect(r.status).toBe(1);
    const m = JSON.parse(r.stdout) as { failure: { what: string }; events: number; originalEvents: number };
    expect(m.failure.what).toBe('I2');
    expect(m.events).toBeLessThan(m.originalEvents);
    expect(m.events).toBeLessThanOrEqual(8);
    const again = replayJson(out);
    expect(again.status).toBe(1);
    expect(again.s.firstViolation!.id).toBe('I2');
  });
});

interface Case {
  name: string;
  what: string;
  env: NodeJS.ProcessEnv;
  /** record's exit status (the program's). */
  status: number;
  /** The first violation replay must report; null: the replay is clean. */
  violation: RegExp | null;
  /** The signal hakmem-replay must die of (at the violation's event); null: it replays cleanly. */
  nativeSignal: NodeJS.Signals | null;
}

// The five steps on every case (the double free above walks through them one by one).
const CASES: Case[] = [
  { name: 'interior_free', what: 'a free of a pointer 16 bytes inside a live block', env: ABORT, status: 134, violation: /interior pointer: free of an address 16 bytes inside a live 64-byte block/, nativeSignal: 'SIGABRT' },
  // A static buffer's address exists in no replay process: hakmem-replay reports the free and skips it.
  { name: 'foreign_free', what: 'a free of a pointer no allocator returned (glibc aborts on it)', env: {}, status: 134, violation: /outside the heap that no allocator in this process returned/, nativeSignal: null },
  { name: 'realloc_freed', what: 'realloc of a freed block', env: ABORT, status: 134, violation: /realloc of a pointer the allocator never returned|double free: realloc/, nativeSignal: 'SIGABRT' },
  { name: 'cross_thread_exit', what: 'a cross-thread free after the owning thread exited (legal)', env: {}, status: 0, violation: null, nativeSignal: null },
  { name: 'wild_write', what: 'a crash the allocator did not cause', env: {}, status: 139, violation: null, nativeSignal: null },
];

for (const c of CASES) {
  describe(`${c.name}: ${c.what}`, () => {
    let trace = '';
    let event = -1;
    it('1. record: the trace survives and record exits with the program status', () => {
      const r = recordFixture(c.name, c.env);
      trace = r.trace;
      expect(r.status, r.stderr).toBe(c.status);
      if (c.status > 128) expect(r.stderr).toMatch(/killed by SIG/);
    });

    it(`2. replay: ${c.violation ? 'pinpoints the misuse, exit 1' : 'clean, exit 0'}`, () => {
      const { status, s } = replayJson(trace);
      if (c.violation) {
        expect(status).toBe(1);
        expect(s.firstViolation!.id).toBe('I2');
        expect(s.firstViolation!.message).toMatch(c.violation);
        event = s.firstViolation!.event;
      } else {
        expect(s.violations).toBe(0);
        expect(s.disagreements).toBe(0);
        expect(status).toBe(0);
        if (c.status > 128) expect(runCli(['replay', trace]).stdout).toMatch(/the trace shows no allocator-level cause/);
      }
    });

    it('3. blame: the life of the block (or of the first block) as a list of calls', () => {
      const dump = runCli(['dump', trace, '--jsonl']).stdout.trim().split('\n').map((l) => JSON.parse(l) as { event: number; op: string });
      const target = event >= 0 ? event : dump.find((e) => e.op === 'malloc')!.event;
      const r = runCli(['blame', trace, String(target), '--json']);
      expect(r.status, r.stderr).toBe(0);
      const b = JSON.parse(r.stdout) as { total: number; steps: { event: number; state: string }[] };
      expect(b.total).toBeGreaterThanOrEqual(1);
      expect(b.steps.map((x) => x.event)).toContain(target);
    });

    it(`4. hakmem-replay: ${c.nativeSignal ? `dies of ${c.nativeSignal} at the same event, every time` : 'replays without failing'}`, () => {
      for (let i = 0; i < 2; i++) {
        const r = spawnSync(REPLAY, ['--quiet', trace], { encoding: 'utf8', env: { ...process.env, ...c.env } });
        if (c.nativeSignal) {
          expect(r.signal).toBe(c.nativeSignal);
          expect(r.stderr).toMatch(new RegExp(`hakmem-replay: died of signal \\d+ at event ${event} \\(thread \\d+, (free|realloc)\\)`));
        } else {
          expect(r.signal, r.stderr).toBeNull();
          expect([0, 1]).toContain(r.status);
        }
      }
    });

    it(`5. minimize: ${c.violation ? 'a few events that fail the same way' : 'nothing to minimise'}`, () => {
      const out = path.join(dir, `${c.name}-min.hkt`);
      const r = runCli(['minimize', trace, '--out', out, '--json']);
      const m = JSON.parse(r.stdout) as { minimized: boolean; events?: number; failure?: { what: string } };
      if (c.violation) {
        expect(r.status).toBe(1);
        expect(m.failure!.what).toBe('I2');
        expect(m.events!).toBeLessThanOrEqual(10);
        expect(replayJson(out).s.firstViolation!.message).toMatch(c.violation);
      } else {
        expect(r.status).toBe(0);
        expect(m.minimized).toBe(false);
      }
    });
  });
}

describe('a crash caused by a seeded allocator bug (the double-refill build, docs/fuzzing.md)', () => {
  const variant = 'double-refill';
  let trace = '';
  let event = -1;
  let firstAt = -1;

  it('1. record: intact under the correct build; under the variant the program dies of SIGSEGV and the trace survives', () => {
    const ok = recordFixture('seeded_bug', {});
    expect(ok.status, ok.stderr).toBe(0);
    trace = path.join(dir, 'seeded_bug-variant.hkt');
    const r = runCli(['record', '--variant', variant, '--out', trace, '--', path.join(FIX, 'seeded_bug')]);
    expect(r.status, r.stderr).toBe(139);
    expect(r.stderr).toMatch(/killed by SIGSEGV; \d+ events in .*recovered/);
  });

  it('2. replay: the allocator handed out a live block (I1), at the event the bug fired; exit 1', () => {
    const { status, s } = replayJson(trace);
    expect(status).toBe(1);
    expect(s.firstViolation!.id).toBe('I1');
    expect(s.firstViolation!.message).toMatch(/the allocator returned a block that is still live/);
    const m = /allocated at event (\d+) by thread 0/.exec(s.firstViolation!.history.join(' '));
    expect(m).not.toBeNull();
    event = s.firstViolation!.event;
    firstAt = Number(m![1]);
    expect(firstAt).toBeLessThan(event);
  });

  it('3. blame: the block was returned by two mallocs and never freed in between', () => {
    const r = runCli(['blame', trace, String(event), '--json']);
    expect(r.status, r.stderr).toBe(0);
    const b = JSON.parse(r.stdout) as { steps: { event: number; op: string }[] };
    expect(b.steps.map((x) => [x.event, x.op])).toEqual([
      [firstAt, 'malloc'],
      [event, 'malloc'],
    ]);
  });

  it('4. hakmem-replay-double-refill aborts at that event, every time; the correct build does not', () => {
    const bin = path.join(ROOT, 'native', 'build', `hakmem-replay-${variant}`);
    for (let i = 0; i < 2; i++) {
      const r = spawnSync(bin, ['--quiet', trace], { encoding: 'utf8', env: { ...process.env, ...ABORT } });
      expect(r.signal).toBe('SIGABRT');
      expect(r.stderr).toMatch(new RegExp(`event ${event} \\(thread 0, malloc\\): the allocator returned 0x[0-9a-f]+, which is still live \\(returned at event ${firstAt}\\)`));
      expect(r.stderr).toContain(`hakmem-replay: died of signal 6 at event ${event} (thread 0, malloc)`);
    }
    const plain = spawnSync(bin, ['--quiet', trace], { encoding: 'utf8' });
    expect(plain.signal).toBeNull();
    expect(plain.status).toBe(1);
    const correct = spawnSync(REPLAY, ['--quiet', trace], { encoding: 'utf8', env: { ...process.env, ...ABORT } });
    expect(correct.signal).toBeNull();
    expect(correct.stderr).not.toMatch(/still live/);
  });

  it('5. minimize: on the twin (I1) and on the variant build (SIGABRT), a reproducer of a few events', () => {
    const out = path.join(dir, 'seeded-min.hkt');
    const r = runCli(['minimize', trace, '--out', out, '--json']);
    expect(r.status, r.stderr).toBe(1);
    const m = JSON.parse(r.stdout) as { failure: { what: string }; events: number; originalEvents: number; mode: string };
    expect(m.failure.what).toBe('I1');
    // Re-executed on the (correct) twin the bug goes away, so the recorded results are kept.
    expect(m.mode).toBe('recorded');
    expect(m.originalEvents).toBeGreaterThan(40);
    expect(m.events).toBeLessThanOrEqual(6);
    expect(replayJson(out).s.firstViolation!.id).toBe('I1');
    const nout = path.join(dir, 'seeded-native-min.hkt');
    const n = runCli(['minimize', trace, '--native', '--variant', variant, '--out', nout, '--json'], { env: ABORT });
    expect(n.status, n.stderr).toBe(1);
    const nm = JSON.parse(n.stdout) as { failure: { kind: string; what: string }; events: number };
    expect(nm.failure).toMatchObject({ kind: 'native-signal', what: 'SIGABRT' });
    expect(nm.events).toBeLessThanOrEqual(6);
    const again = runCli(['minimize', trace, '--native', '--variant', 'no-such-bug', '--out', nout]);
    expect(again.status).toBe(2);
    expect(again.stderr.trim().split('\n')).toHaveLength(1);
  });
});

describe('a long-running multi-threaded program killed with SIGKILL', () => {
  it('leaves a recovered trace that replays with every placement agreeing', async () => {
    const trace = path.join(dir, 'long.hkt');
    const child = spawn(process.execPath, [CLI, 'record', '--mode', 'exact', '--out', trace, '--', path.join(FIX, 'long_running')], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    // Let it run, then kill the program itself (the recorder's child), not the CLI.
    await new Promise((r) => setTimeout(r, 1500));
    const pg = spawnSync('pgrep', ['-f', path.join(FIX, 'long_running')], { encoding: 'utf8' });
    const pids = pg.stdout.trim().split('\n').filter(Boolean).map(Number).filter((p) => p !== child.pid);
    expect(pids.length).toBeGreaterThan(0);
    for (const p of pids) process.kill(p, 'SIGKILL');
    const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    expect(code).toBe(128 + 9);
    expect(stderr).toMatch(/killed by SIGKILL/);
    expect(fs.statSync(trace).size).toBeGreaterThan(4096 + 16 * 1000);
    const { status, s } = replayJson(trace);
    expect(s.complete).toBe(false);
    expect(s.violations).toBe(0);
    expect(s.disagreements).toBe(0);
    expect(status).toBe(0);
  });
});
