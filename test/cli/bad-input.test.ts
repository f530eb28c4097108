import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TraceWriter } from '../../src/sim/trace/writer.js';
import { Op } from '../../src/sim/trace/format.js';
import { runCli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';

/** One line on stderr naming the file, exit 2, no stack trace. */
function expectOneLineError(r: ReturnType<typeof runCli>, pattern: RegExp): void {
  expect(r.status).toBe(2);
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^hakmem-sim: /);
  expect(lines[0]).toMatch(pattern);
  expect(r.stderr).not.toMatch(/\n\s+at /);
}

describe('CLI bad input', () => {
  let dir: string;
  let cleanup: () => void;
  beforeAll(() => ({ dir, cleanup } = tmpDir()));
  afterAll(() => cleanup());

  it('replay of a file that is not a trace exits 2 with one line', () => {
    const f = path.join(dir, 'notes.txt');
    fs.writeFileSync(f, 'just some text\n'.repeat(1000));
    expectOneLineError(runCli(['replay', f]), /notes\.txt: byte 0: not a hakmem trace/);
  });

  it('replay of a truncated trace exits 2 with the byte offset', () => {
    const f = path.join(dir, 'trunc.hkt');
    const w = new TraceWriter(f, { config: [['slab_size_bytes', 65536n]] });
    for (let i = 0; i < 100; i++) w.event(Op.MALLOC, 0, 16, 0x1000 + i * 16);
    w.close();
    const size = fs.statSync(f).size;
    fs.truncateSync(f, size - 100);
    expectOneLineError(runCli(['replay', f]), new RegExp(`trunc\\.hkt: byte ${size - 100}: truncated`));
  });

  it('replay of a missing file, a directory and an empty file exit 2', () => {
    expectOneLineError(runCli(['replay', path.join(dir, 'nope.hkt')]), /no such file/);
    expectOneLineError(runCli(['replay', dir]), /is a directory/);
    const e = path.join(dir, 'empty.hkt');
    fs.writeFileSync(e, '');
    expectOneLineError(runCli(['replay', e]), /empty file/);
  });

  it('a trace whose header lacks a config entry the model needs exits 2', () => {
    const f = path.join(dir, 'noconf.hkt');
    const w = new TraceWriter(f, { config: [['slab_size_bytes', 65536n]] });
    w.event(Op.MALLOC, 0, 16, 0x1000);
    w.close();
    expectOneLineError(runCli(['replay', f]), /config/);
  });

  it('usage errors exit 2 with one line', () => {
    expectOneLineError(runCli(['replay']), /missing required argument/);
    expectOneLineError(runCli(['frobnicate']), /unknown command/);
    expectOneLineError(runCli(['dump', path.join(dir, 'x.hkt'), '--from', 'abc']), /--from must be a non-negative integer|no such file/);
  });

  it('--help exits 0 and lists the commands', () => {
    const r = runCli(['--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/record/);
    expect(r.stdout).toMatch(/replay/);
  });
});
