import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TraceFile, newEvent } from '../sim/trace/reader.js';
import { UsageError } from './errors.js';
import { LIBHAKMEM } from './paths.js';
import { isNativeVariant, NATIVE_VARIANTS } from '../sim/fuzz/native.js';
import { num } from './format.js';

export interface RecordOptions {
  out: string;
  mode: 'fast' | 'exact';
  internal?: boolean;
  /** A seeded-bug build (docs/fuzzing.md): run under native/build/libhakmem-NAME.so. */
  variant?: string;
}

/** Run `cmd` under libhakmem with recording on; exit with the program's status. */
export async function recordCommand(cmd: string[], opts: RecordOptions): Promise<number> {
  if (cmd.length === 0) throw new UsageError('record: no program given (usage: hakmem-sim record --out FILE -- CMD [ARGS...])');
  if (opts.variant !== undefined && !isNativeVariant(opts.variant)) {
    throw new UsageError(`record: unknown --variant '${opts.variant}' (native variants: ${NATIVE_VARIANTS.join(', ')})`);
  }
  const lib = opts.variant === undefined ? LIBHAKMEM : LIBHAKMEM.replace(/\.so$/, `-${opts.variant}.so`);
  if (!fs.existsSync(lib)) throw new UsageError(`record: ${lib} is missing; run npm install (it builds native/)`);
  const out = path.resolve(opts.out);
  const dir = path.dirname(out);
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new UsageError(`record: ${dir}: no such directory`);
  if (fs.existsSync(out)) {
    if (fs.statSync(out).isDirectory()) throw new UsageError(`record: ${out} is a directory`);
    fs.unlinkSync(out);
  }
  const stem = out.endsWith('.hkt') ? out.slice(0, -4) : out;
  const before = new Set(siblingTraces(stem));
  const preload = [lib, process.env.LD_PRELOAD].filter(Boolean).join(':');
  const env = {
    ...process.env,
    LD_PRELOAD: preload,
    HAKMEM_TRACE: out,
    HAKMEM_TRACE_MODE: opts.mode,
    ...(opts.internal ? { HAKMEM_TRACE_INTERNAL: '1' } : {}),
  };
  const child = spawn(cmd[0], cmd.slice(1), { stdio: 'inherit', env });
  const status = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>((resolve) => {
    child.on('error', (error) => resolve({ code: null, signal: null, error }));
    child.on('exit', (code, signal) => resolve({ code, signal }));
  });
  if (status.error) {
    const e = status.error as NodeJS.ErrnoException;
    throw new UsageError(`record: cannot run ${cmd[0]}: ${e.code === 'ENOENT' ? 'command not found' : e.message}`);
  }
  const recorded = describeRecording(out);
  const others = siblingTraces(stem).filter((f) => !before.has(f));
  if (others.length) {
    const shown = others.slice(0, 3).join(', ');
    process.stderr.write(
      `hakmem-sim: forked or exec'd processes recorded ${others.length} more trace${others.length > 1 ? 's' : ''}: ${shown}${others.length > 3 ? ', ...' : ''}\n`,
    );
  }
  if (status.signal) {
    const signo = os.constants.signals[status.signal] ?? 0;
    process.stderr.write(`hakmem-sim: ${cmd[0]} was killed by ${status.signal}; ${recorded}\n`);
    return 128 + signo;
  }
  process.stderr.write(`hakmem-sim: ${cmd[0]} exited with status ${status.code}; ${recorded}\n`);
  return status.code ?? 1;
}

/** Traces written by forked children and exec'd images: STEM.PID.hkt, STEM.PID.N.hkt. */
function siblingTraces(stem: string): string[] {
  const dir = path.dirname(stem);
  const base = path.basename(stem);
  const re = new RegExp(`^${base.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.\\d+(\\.\\d+)?\\.hkt$`);
  try {
    return fs
      .readdirSync(dir)
      .filter((f) => re.test(f))
      .map((f) => path.join(dir, f))
      .sort();
  } catch {
    return [];
  }
}

function describeRecording(out: string): string {
  if (!fs.existsSync(out)) return `no trace was written to ${out}`;
  try {
    const t = TraceFile.open(out);
    try {
      let events = t.header.eventCount;
      if (!t.header.complete) {
        const c = t.cursor({ allowPrefix: true });
        const ev = newEvent();
        while (c.next(ev));
        events = c.eventsRead;
      }
      return `${num(events)} events in ${out}${t.header.complete ? '' : ' (recovered: the process was replaced by exec, or died, before closing it)'}`;
    } finally {
      t.close();
    }
  } catch (err) {
    return `the trace ${out} is unreadable: ${(err as Error).message}`;
  }
}
