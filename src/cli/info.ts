import { TraceFile, newEvent } from '../sim/trace/reader.js';
import { OP_NAMES } from '../sim/trace/format.js';
import { describeFlags } from '../sim/trace/header.js';
import { UsageError, EXIT_OK } from './errors.js';
import { num, ptr } from './format.js';

export function infoCommand(file: string, opts: { json?: boolean }): number {
  const t = TraceFile.open(file);
  try {
    const h = t.header;
    const byOp = new Map<string, number>();
    const byThread = new Map<number, number>();
    const c = t.cursor();
    const ev = newEvent();
    while (c.next(ev)) {
      const name = OP_NAMES[ev.op] ?? String(ev.op);
      byOp.set(name, (byOp.get(name) ?? 0) + 1);
      byThread.set(ev.tid, (byThread.get(ev.tid) ?? 0) + 1);
    }
    const durationNs = h.complete && h.endTimeNs >= h.startTimeNs ? Number(h.endTimeNs - h.startTimeNs) : null;
    const info = {
      file,
      version: h.version,
      mode: h.exact ? 'exact' : 'fast',
      complete: h.complete,
      recovered: !h.complete,
      forked: h.forked,
      internal: h.internal,
      pid: h.pid,
      parentPid: h.parentPid,
      comm: h.comm,
      startTimeNs: h.startTimeNs.toString(),
      durationNs,
      events: c.eventsRead,
      slots: t.slotLimit,
      holes: c.holes,
      bytesPerEvent: c.eventsRead ? (t.fileBytes - 4096) / c.eventsRead : 0,
      threads: byThread.size,
      byOp: Object.fromEntries([...byOp].sort((x, y) => y[1] - x[1])),
      byThread: Object.fromEntries([...byThread].sort((x, y) => x[0] - y[0])),
      heapBase: h.heapBase,
      heapBytes: h.heapBytes,
      config: Object.fromEntries([...h.config].map(([k, v]) => [k, Number(v)])),
    };
    if (opts.json) {
      process.stdout.write(`${JSON.stringify(info, null, 2)}\n`);
      return EXIT_OK;
    }
    const lines = [
      `trace      ${file}`,
      `format     version ${h.version}, ${describeFlags(h)}${c.holes ? `, ${c.holes} incomplete slots skipped` : ''}`,
      `program    ${h.comm || '?'} (pid ${h.pid}, parent ${h.parentPid})`,
      `duration   ${durationNs === null ? 'unknown (not closed cleanly)' : `${(durationNs / 1e6).toFixed(1)} ms`}`,
      `events     ${num(c.eventsRead)} in ${num(t.slotLimit)} slots (${info.bytesPerEvent.toFixed(1)} bytes/event)`,
      `threads    ${byThread.size}`,
      `heap       ${ptr(h.heapBase)} + ${num(h.heapBytes)} bytes`,
      'by op',
      ...[...byOp].sort((x, y) => y[1] - x[1]).map(([k, v]) => `  ${k.padEnd(16)} ${num(v)}`),
      'by thread',
      ...[...byThread].sort((x, y) => x[0] - y[0]).map(([k, v]) => `  ${String(k).padEnd(16)} ${num(v)}`),
      'config',
      ...[...h.config].map(([k, v]) => `  ${k.padEnd(28)} ${v}`),
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
    return EXIT_OK;
  } finally {
    t.close();
  }
}

export function dumpCommand(file: string, opts: { from: string; count?: string; jsonl?: boolean }): number {
  const from = parseCount(opts.from, '--from');
  const count = opts.count === undefined ? Infinity : parseCount(opts.count, '--count');
  const t = TraceFile.open(file);
  try {
    const c = t.cursor();
    const ev = newEvent();
    let printed = 0;
    const out: string[] = [];
    const flush = () => {
      if (out.length) process.stdout.write(`${out.join('\n')}\n`);
      out.length = 0;
    };
    while (printed < count && c.next(ev)) {
      if (ev.index < from) continue;
      const name = OP_NAMES[ev.op] ?? String(ev.op);
      const ext = Array.from({ length: ev.nExt }, (_, i) => [ev.extA[i], ev.extB[i]]);
      if (opts.jsonl) {
        out.push(JSON.stringify({ event: ev.index, tid: ev.tid, op: name, a: ev.a, b: ev.b, ext }));
      } else {
        const extText = ext.map(([a, b]) => ` [${a} ${ptr(b)}]`).join('');
        out.push(`${String(ev.index).padStart(8)}  t${String(ev.tid).padEnd(3)} ${name.padEnd(15)} a=${ev.a} b=${ptr(ev.b)}${extText}`);
      }
      printed++;
      if (out.length >= 4096) flush();
    }
    flush();
    return EXIT_OK;
  } finally {
    t.close();
  }
}

function parseCount(s: string, name: string): number {
  if (!/^\d+$/.test(s)) throw new UsageError(`${name} must be a non-negative integer, got '${s}'`);
  return Number(s);
}
