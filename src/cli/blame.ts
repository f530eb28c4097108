import { blame, findEventPointer } from '../sim/blame.js';
import { EXIT_OK, UsageError } from './errors.js';
import { num } from './format.js';

export function blameCommand(file: string, target: string, opts: { json?: boolean }): number {
  let addr: number;
  if (/^0x[0-9a-f]+$/i.test(target)) addr = parseInt(target.slice(2), 16);
  else if (/^\d+$/.test(target)) {
    addr = findEventPointer(file, Number(target));
    if (addr < 0) throw new UsageError(`blame: ${file} has no event ${target}`);
    if (addr === 0) throw new UsageError(`blame: event ${target} names no block (not an allocation or a free of a pointer)`);
  } else throw new UsageError(`blame: '${target}' is neither a pointer (0x...) nor an event number`);
  const r = blame(file, addr);
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
    return EXIT_OK;
  }
  const lines = [`block 0x${addr.toString(16)}: ${num(r.total)} calls touched it${r.truncated ? ` (first ${num(r.steps.length)} shown)` : ''}`];
  for (const s of r.steps) {
    lines.push(`  event ${String(s.event).padStart(9)}  thread ${String(s.tid).padEnd(3)} ${s.detail}`);
    lines.push(`  ${' '.repeat(16)}  ${s.placement}; owner ${s.owner}; ${s.state}`);
  }
  if (r.total === 0) lines.push('  no call in the trace names this address');
  process.stdout.write(`${lines.join('\n')}\n`);
  return EXIT_OK;
}
