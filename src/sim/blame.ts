/**
 * The life of one block: every call that touched its address, where the twin
 * placed it, and its state after each step (held by the program, cached in a
 * TLS list, waiting in a remote queue, free in its slab, or gone with its slab).
 * `hakmem-sim blame FILE PTR|EVENT`.
 */
import { LIVE, NONE, slabKey } from '../model/state.js';
import type { HakmemModel } from '../model/allocator.js';
import { RegionKind, type Placement } from '../model/types.js';
import { describePlacement, ReplayEngine } from './engine.js';
import { Op, OP_NAMES, isAllocOp } from './trace/format.js';
import { TraceFile, newEvent, type TraceEvent } from './trace/reader.js';

export interface BlameStep {
  event: number;
  tid: number;
  op: string;
  detail: string;
  /** Where the twin has the block after this event. */
  placement: string;
  owner: string;
  state: string;
}

export interface BlameReport {
  address: number;
  steps: BlameStep[];
  /** Steps were cut at this many (the count goes on). */
  truncated: boolean;
  total: number;
}

const MAX_STEPS = 10_000;

/** The pointer an event names: the result of an allocating call, or the argument of a free. */
export function pointerOfEvent(ev: TraceEvent): number {
  if (ev.op === Op.FREE || ev.op === Op.USABLE_SIZE) return ev.b;
  if (isAllocOp(ev.op)) return ev.b !== 0 ? ev.b : ev.op === Op.REALLOC ? ev.extB[0] : 0;
  return 0;
}

/** Does the event touch `addr` (as result, argument, or realloc's old pointer)? */
function touches(ev: TraceEvent, addr: number): boolean {
  if (ev.op === Op.FREE || ev.op === Op.USABLE_SIZE) return ev.b === addr;
  if (ev.op === Op.REALLOC) return ev.b === addr || ev.extB[0] === addr;
  if (isAllocOp(ev.op)) return ev.b === addr;
  return false;
}

export function findEventPointer(file: string, event: number): number {
  const t = TraceFile.open(file);
  try {
    const c = t.cursor();
    const ev = newEvent();
    while (c.next(ev)) if (ev.index === event) return pointerOfEvent(ev);
    return -1;
  } finally {
    t.close();
  }
}

export function blame(file: string, addr: number): BlameReport {
  const t = TraceFile.open(file);
  try {
    const engine = new ReplayEngine(t.header, { checks: 'fast' });
    const c = t.cursor();
    const ev = newEvent();
    const steps: BlameStep[] = [];
    let total = 0;
    let last: Placement | null = null;
    while (c.next(ev)) {
      engine.apply(ev);
      if (!touches(ev, addr)) continue;
      total++;
      if (steps.length >= MAX_STEPS) continue;
      const ref = engine.addresses.resolve(addr);
      const placed = engine.model.locate(ref);
      if (placed) last = placed;
      const where = last ? describePlacement(last) : ref.kind === 'foreign' ? 'outside the heap' : 'in no mapped region';
      const st = last ? blockState(engine.model, last) : { state: ref.kind === 'foreign' ? 'foreign (another allocator\'s)' : 'not ours', owner: '-' };
      steps.push({
        event: ev.index,
        tid: ev.tid,
        op: OP_NAMES[ev.op],
        detail: describeCall(ev, addr),
        placement: where,
        owner: st.owner,
        state: st.state,
      });
    }
    return { address: addr, steps, truncated: total > steps.length, total };
  } finally {
    t.close();
  }
}

function describeCall(ev: TraceEvent, addr: number): string {
  const hex = (n: number) => `0x${n.toString(16)}`;
  switch (ev.op) {
    case Op.MALLOC:
      return `malloc(${ev.a}) = ${hex(ev.b)}`;
    case Op.CALLOC:
      return `calloc(.. ${ev.a} bytes) = ${hex(ev.b)}`;
    case Op.REALLOC:
      return ev.extB[0] === addr ? `realloc(${hex(ev.extB[0])}, ${ev.a}) = ${hex(ev.b)}: the old block` : `realloc(${hex(ev.extB[0])}, ${ev.a}) = ${hex(ev.b)}`;
    case Op.FREE:
      return `free(${hex(ev.b)}): ${['freed', 'foreign, passed on', 'invalid: not a live block', 'NULL'][ev.a] ?? `verdict ${ev.a}`}`;
    case Op.USABLE_SIZE:
      return `malloc_usable_size(${hex(ev.b)}) = ${ev.extB[0]}`;
    default:
      return `${OP_NAMES[ev.op]}(align ${ev.extB[0]}, ${ev.a}) = ${hex(ev.b)}`;
  }
}

/** Where the twin holds a block now. */
export function blockState(model: HakmemModel, p: Placement): { state: string; owner: string } {
  const st = model.state;
  const r = st.regions.get(p.regionId);
  if (!r) return { state: 'gone: its region was unmapped', owner: '-' };
  if (r.kind === RegionKind.Large) return { state: r.cached ? 'free: its mapping is kept in the large cache' : 'live (a large mapping)', owner: '-' };
  const s = r.kind === RegionKind.SuperSlab ? r.slabs[p.slabIndex] : r.page;
  const owner = s.owner === NONE ? 'no owner (orphan or free slab)' : `thread ${s.owner}`;
  if (r.kind === RegionKind.SuperSlab && r.inLru) return { state: 'free: its SuperSlab is cached in the LRU', owner: '-' };
  if (s.classIdx === NONE) return { state: 'free: its slab was released (EMPTY)', owner: '-' };
  const b = p.blockIndex;
  if (s.remote.includes(b)) return { state: `free: waiting in the remote queue for ${owner}`, owner };
  if (s.live[b] & LIVE) return { state: 'live: held by the program', owner };
  if (s.freelist.includes(b)) return { state: 'free: in its slab\'s freelist', owner };
  if (b >= s.carvedBlocks) return { state: 'free: not carved', owner };
  if (r.kind === RegionKind.SuperSlab && s.owner !== NONE) {
    const t = st.threads.get(s.owner);
    const key = slabKey(p.regionId, p.slabIndex);
    if (t && t.tlsList[s.classIdx].includes(key * model.blockSpan + b)) {
      return { state: `free: cached in thread ${s.owner}'s TLS list (class ${s.classIdx})`, owner };
    }
  }
  return { state: 'free: cached in a TLS list', owner };
}

