/**
 * The panels, as plain functions from the controller's state to lines of an
 * exact size. Each computes only what it shows: the SuperSlab map lists region
 * ids (cheap) and reads slab metadata for the visible page only.
 */
import { OP_NAMES, Op, isAllocOp } from '../sim/trace/format.js';
import type { TraceEvent } from '../sim/trace/reader.js';
import { RegionKind } from '../model/types.js';
import { ROUTE_POOL } from '../model/route.js';
import { IN_REMOTE, LIVE, NONE, type SlabMeta } from '../model/state.js';
import { VERDICT_NAMES } from '../sim/engine.js';
import { CLASS_LARGE, CLASS_NONE } from './scanner.js';
import { PANEL_TITLES, type PanelId, type TuiController } from './controller.js';
import { FILL, box, bytes, classColor, fillChar, fit, hex, hjoin, num, seg, tidChar, type Line, type Seg } from './text.js';

export interface PanelArgs {
  ctrl: TuiController;
  width: number;
  height: number;
  focused: boolean;
  color: boolean;
}

// ------------------------------------------------------------------ timeline

const OP_W = 14;

export function timelinePanel(a: PanelArgs): Line[] {
  const { ctrl } = a;
  const inner = a.width - 2;
  const rows = Math.max(1, a.height - 3);
  const body: Line[] = [[seg(`${'  event'.padStart(10)} thr  ${'op'.padEnd(OP_W)}${'size'.padStart(9)} ${'pointer'.padEnd(15)} placement`, { dim: true })]];
  const cur = ctrl.cur;
  const before = Math.floor((rows - 1) / 2);
  const after = rows - 1 - before;
  if (cur < 0) {
    body.push([seg('>', { bold: true }), seg(' start: no event applied yet (press → to apply event 0)', { inverse: true })]);
    const { events } = ctrl.filtered() ? ctrl.timelineEvents(0, rows - 1) : { events: ctrl.peek(0, rows - 1) };
    for (const e of events.slice(0, rows - 1)) body.push(eventLine(ctrl, e, false));
  } else {
    const { events, cursorRow } = ctrl.timelineEvents(before, after);
    // Keep the cursor row where it belongs when there are fewer events before it.
    for (let i = 0; i < events.length && body.length <= rows; i++) body.push(eventLine(ctrl, events[i], i === cursorRow && events[i].index === cur));
    if (cursorRow < 0 || events[cursorRow]?.index !== cur) {
      body.splice(1, 0, [seg(`> event ${cur} (hidden by the filter)`, { inverse: true })]);
    }
  }
  const total = ctrl.total;
  const title = `${PANEL_TITLES.timeline} ${cur < 0 ? 'start' : `event ${num(cur)}`}${total !== null ? ` of ${num(total)}` : ''}`;
  return box(title, body.slice(0, rows + 1).map((l) => fit(l, inner)), a.width, a.height, a);
}

function eventLine(ctrl: TuiController, e: TraceEvent, isCursor: boolean): Line {
  const mark = ctrl.scanner.marks.get(e.index);
  const d = describeEvent(ctrl, e);
  const searched = ctrl.search !== null && (e.b === ctrl.search.ptr || (e.op === Op.REALLOC && e.extB[0] === ctrl.search.ptr));
  const text = `${String(e.index).padStart(8)} t${String(e.tid).padEnd(3)} ${d.op.padEnd(OP_W)}${d.size.padStart(9)} ${d.ptr.padEnd(15)} ${d.place}`;
  const style: Omit<Seg, 'text'> = isCursor ? { inverse: true } : searched ? { underline: true } : {};
  return [
    seg(mark ?? ' ', mark === '!' ? { color: 'red', bold: true } : mark ? { color: 'yellow', bold: true } : {}),
    seg(isCursor ? '>' : searched ? '~' : ' '),
    seg(text, style),
  ];
}

export interface EventText {
  op: string;
  size: string;
  ptr: string;
  place: string;
}

export function describeEvent(ctrl: TuiController, e: TraceEvent): EventText {
  const op = OP_NAMES[e.op] ?? `op ${e.op}`;
  let size = '';
  let ptr = '';
  let place = '';
  const cls = (): string => {
    const c = ctrl.eventClass(e);
    return c === CLASS_NONE || c === CLASS_LARGE ? '' : ` ${c >= ROUTE_POOL ? `p${c - ROUTE_POOL}` : `c${c}`}`;
  };
  const where = (): string => {
    const s = ctrl.placementOf(e);
    if (!s) {
      const eng = ctrl.session.engine;
      const ref = eng.addresses.resolve(e.b);
      if (ref.kind === 'region') {
        // No slab of the twin's to name (a large block, or a region the twin maps only when a
        // later event is applied): the region, by the kind the trace mapped it as.
        const kind = eng.addresses.regions.get(ref.regionId)?.kind;
        return `${kind === RegionKind.SuperSlab ? 'ss' : kind === RegionKind.PoolPage ? 'pool' : 'large'} ${ref.regionId}`;
      }
      // Not mapped at the cursor (a later or an earlier region): unknown from here.
      return ref.kind === 'foreign' ? 'foreign' : ref.kind === 'null' ? '' : '?';
    }
    const r = ctrl.session.engine.model.state.regions.get(s.regionId);
    // The class from the scan, else the slab's class at the cursor.
    let c = cls();
    if (c === '' && r?.kind === RegionKind.PoolPage && r.page.classIdx !== NONE) c = ` p${r.page.classIdx}`;
    if (c === '' && r?.kind === RegionKind.SuperSlab && r.slabs[s.slabIndex]?.classIdx !== NONE) c = ` c${r.slabs[s.slabIndex].classIdx}`;
    if (r?.kind === RegionKind.PoolPage) return `pool ${s.regionId} b${s.block}${c}`;
    return `ss ${s.regionId} s${s.slabIndex} b${s.block}${c}`;
  };
  if (isAllocOp(e.op)) {
    size = String(e.op === Op.CALLOC && e.nExt === 2 ? e.extB[0] * e.extB[1] : e.op === Op.REALLOC && e.nExt === 2 ? e.extB[1] : e.a);
    ptr = e.b ? hex(e.b) : 'NULL';
    place = e.b ? where() : 'failed';
    if (e.op === Op.REALLOC && e.extB[0]) place += ` (from ${hex(e.extB[0])})`;
    else if (e.op >= Op.POSIX_MEMALIGN && e.op <= Op.PVALLOC) place += ` align ${e.extB[0]}`;
  } else if (e.op === Op.FREE) {
    ptr = e.b ? hex(e.b) : 'NULL';
    place = e.b === 0 ? '' : e.a === 0 ? where() : VERDICT_NAMES[e.a] ?? `verdict ${e.a}`;
  } else if (e.op === Op.USABLE_SIZE) {
    size = String(e.extB[0]);
    ptr = hex(e.b);
  } else if (e.op === Op.REGION_MAP) {
    ptr = hex(e.b);
    place = `region ${e.a} ${['superslab', 'pool page', 'large'][e.extA[0]] ?? '?'} ${bytes(e.extB[0])}`;
  } else if (e.op === Op.REGION_REMAP) {
    ptr = hex(e.b);
    place = `region ${e.a} to ${bytes(e.extB[0])}`;
  } else if (e.op === Op.REGION_UNMAP || e.op === Op.REGION_REUSE) {
    ptr = e.b ? hex(e.b) : '';
    place = `region ${e.a}`;
  } else if (e.op === Op.REFILL || e.op === Op.SPILL) {
    place = `class ${e.a}, ${e.b} blocks`;
  } else if (e.op === Op.DRAIN) {
    place = `ss ${e.a} s${Math.floor(e.b / 0x1_0000_0000)}, ${e.b % 0x1_0000_0000} blocks`;
  } else if (e.op === Op.SLAB_EMPTY) {
    place = `ss ${e.a} s${e.b}`;
  } else if (e.op >= Op.LRU_PUSH && e.op <= Op.LRU_EVICT) {
    place = `ss ${e.a} vclock ${e.b}`;
  } else if (e.op === Op.THREAD_START) {
    place = e.b ? `os tid ${e.b}` : '';
  }
  return { op, size, ptr, place };
}

// ----------------------------------------------------------- superslab map

export interface MapGeometry {
  ssIds: number[];
  poolIds: number[];
  largeCount: number;
  largeBytes: number;
  /** Of them, mappings kept in the large cache. */
  largeCached: number;
  lruCount: number;
  freePages: number;
  labelW: number;
  perRow: number;
  poolPerRow: number;
  ssRows: number;
  rows: number;
}

export function mapGeometry(ctrl: TuiController, inner: number): MapGeometry {
  const ssIds: number[] = [];
  const poolIds: number[] = [];
  let largeCount = 0;
  let largeBytes = 0;
  let largeCached = 0;
  let lruCount = 0;
  let freePages = 0;
  let maxId = 1;
  for (const r of ctrl.session.engine.model.state.regions.values()) {
    if (r.kind === RegionKind.SuperSlab) {
      ssIds.push(r.regionId);
      if (r.inLru) lruCount++;
      if (r.regionId > maxId) maxId = r.regionId;
    } else if (r.kind === RegionKind.PoolPage) {
      poolIds.push(r.regionId);
      if (r.onFreeStack) freePages++;
    } else {
      largeCount++;
      largeBytes += r.sizeBytes;
      if (r.cached) largeCached++;
    }
  }
  const nSlabs = ctrl.cfg.superslabSizeBytes / ctrl.cfg.slabSizeBytes;
  const labelW = String(maxId).length;
  const itemW = 1 + labelW + 1 + 1 + nSlabs + 1 + 1;
  const perRow = Math.max(1, Math.floor((inner + 1) / itemW));
  const poolPerRow = Math.max(1, inner - 6);
  const ssRows = Math.ceil(ssIds.length / perRow);
  const rows = ssRows + Math.ceil(poolIds.length / poolPerRow);
  return { ssIds, poolIds, largeCount, largeBytes, largeCached, lruCount, freePages, labelW, perRow, poolPerRow, ssRows, rows };
}

function selectedRow(ctrl: TuiController, g: MapGeometry): number {
  const s = ctrl.selection;
  if (!s) return 0;
  const i = g.ssIds.indexOf(s.regionId);
  if (i >= 0) return Math.floor(i / g.perRow);
  const j = g.poolIds.indexOf(s.regionId);
  if (j >= 0) return g.ssRows + Math.floor(j / g.poolPerRow);
  return 0;
}

function slabDimmed(ctrl: TuiController, s: SlabMeta, code: number): boolean {
  if (ctrl.classFilter !== null && code !== ctrl.classFilter) return true;
  if (ctrl.threadFilter !== null && s.owner !== ctrl.threadFilter) return true;
  return false;
}

export function mapPanel(a: PanelArgs): Line[] {
  const { ctrl } = a;
  const inner = a.width - 2;
  const g = mapGeometry(ctrl, inner);
  const legend = a.height >= 9;
  const avail = Math.max(1, a.height - 3 - (legend ? 1 : 0));
  const selRow = selectedRow(ctrl, g);
  const page = Math.floor(selRow / avail);
  const pages = Math.max(1, Math.ceil(g.rows / avail));
  const body: Line[] = [
    [
      seg(
        `SS ${g.ssIds.length}${g.lruCount ? ` (${g.lruCount} in LRU)` : ''}  pool pages ${g.poolIds.length}${g.freePages ? ` (${g.freePages} free)` : ''}  large ${g.largeCount}${g.largeCount ? ` (${bytes(g.largeBytes)}${g.largeCached ? `, ${g.largeCached} cached` : ''})` : ''}` +
          (pages > 1 ? `  page ${page + 1}/${pages}` : ''),
        { dim: true },
      ),
    ],
  ];
  const regions = ctrl.session.engine.model.state.regions;
  const sel = ctrl.selection;
  for (let row = page * avail; row < Math.min(g.rows, (page + 1) * avail); row++) {
    const line: Line = [];
    if (row < g.ssRows) {
      for (let k = 0; k < g.perRow; k++) {
        const id = g.ssIds[row * g.perRow + k];
        if (id === undefined) break;
        const r = regions.get(id);
        if (!r || r.kind !== RegionKind.SuperSlab) continue;
        const isSel = sel !== null && sel.regionId === id;
        if (k > 0) line.push(seg(' '));
        line.push(seg(isSel ? '>' : ' ', { bold: true }));
        line.push(seg(String(id).padStart(g.labelW), r.inLru ? { dim: true } : isSel ? { bold: true } : {}));
        line.push(seg(r.inLru ? 'L' : ' ', { color: 'blue' }));
        line.push(seg('[', { dim: true }));
        r.slabs.forEach((s, i) => {
          const cellSel = isSel && sel.slabIndex === i;
          if (s.classIdx === NONE) {
            line.push(seg('_', cellSel ? { inverse: true } : { dim: true }));
            return;
          }
          const dim = slabDimmed(ctrl, s, s.classIdx);
          const ch = dim ? ',' : fillChar(s.usedBlocks, s.capacityBlocks);
          line.push(seg(ch, { color: dim ? undefined : classColor(s.classIdx), dim, inverse: cellSel, bg: undefined }));
        });
        line.push(seg(']', { dim: true }));
      }
    } else {
      const first = (row - g.ssRows) * g.poolPerRow;
      line.push(seg(row === g.ssRows ? ' pool ' : '      ', { dim: true }));
      for (let k = 0; k < g.poolPerRow; k++) {
        const id = g.poolIds[first + k];
        if (id === undefined) break;
        const r = regions.get(id);
        if (!r || r.kind !== RegionKind.PoolPage) continue;
        const cellSel = sel !== null && sel.regionId === id;
        const s = r.page;
        if (r.onFreeStack || s.classIdx === NONE) {
          line.push(seg('_', cellSel ? { inverse: true } : { dim: true }));
          continue;
        }
        const code = ROUTE_POOL + s.classIdx;
        const dim = slabDimmed(ctrl, s, code);
        line.push(seg(dim ? ',' : fillChar(s.usedBlocks, s.capacityBlocks), { color: dim ? undefined : classColor(code), dim, inverse: cellSel }));
      }
    }
    body.push(line);
  }
  if (g.rows === 0) body.push([seg(' no SuperSlab or pool page mapped yet', { dim: true })]);
  while (legend && body.length < a.height - 3) body.push([]);
  if (legend) body.push([seg(`fill '${FILL}' by used/capacity, _ free slab, L LRU-cached, , filtered out`, { dim: true })]);
  const title = `${PANEL_TITLES.map}${sel ? `: ${describeSel(ctrl)}` : ''}`;
  return box(title, body, a.width, a.height, a);
}

function describeSel(ctrl: TuiController): string {
  const s = ctrl.selection;
  if (!s) return '';
  const r = ctrl.session.engine.model.state.regions.get(s.regionId);
  if (r?.kind === RegionKind.PoolPage) return `pool page ${s.regionId}`;
  return `ss ${s.regionId} slab ${s.slabIndex}`;
}

/** Arrow keys in the focused map: move the selected slab (dx) or row (dy). */
export function moveMapSelection(ctrl: TuiController, inner: number, dx: number, dy: number): void {
  const g = mapGeometry(ctrl, inner);
  const nSlabs = ctrl.cfg.superslabSizeBytes / ctrl.cfg.slabSizeBytes;
  // Flat cells: every SuperSlab's slabs, then every pool page.
  const totalCells = g.ssIds.length * nSlabs + g.poolIds.length;
  if (totalCells === 0) return;
  const s = ctrl.selection;
  let flat = 0;
  if (s) {
    const i = g.ssIds.indexOf(s.regionId);
    const j = g.poolIds.indexOf(s.regionId);
    if (i >= 0) flat = i * nSlabs + s.slabIndex;
    else if (j >= 0) flat = g.ssIds.length * nSlabs + j;
  }
  const ssCells = g.ssIds.length * nSlabs;
  if (dx) flat += dx;
  if (dy) {
    if (flat < ssCells) {
      const target = flat + dy * g.perRow * nSlabs;
      if (target >= ssCells && dy > 0) flat = g.poolIds.length ? ssCells : flat;
      else flat = target < 0 ? flat : target;
    } else {
      const target = flat + dy * g.poolPerRow;
      flat = target < ssCells ? (dy < 0 && ssCells > 0 ? ssCells - nSlabs : flat) : target;
    }
  }
  flat = Math.max(0, Math.min(totalCells - 1, flat));
  if (flat < ssCells) {
    const id = g.ssIds[Math.floor(flat / nSlabs)];
    ctrl.selection = { regionId: id, slabIndex: flat % nSlabs, block: 0 };
  } else {
    ctrl.selection = { regionId: g.poolIds[flat - ssCells], slabIndex: 0, block: 0 };
  }
}

// ------------------------------------------------------------ slab detail

const enum B {
  Uncarved = 0,
  Free = 1,
  Live = 2,
  Tls = 3,
  Remote = 4,
  Other = 5,
}

interface SlabBlocks {
  meta: SlabMeta;
  state: Uint8Array;
  tlsTid: Int32Array;
  counts: number[];
}

function slabMeta(ctrl: TuiController): { meta: SlabMeta | null; note: string } {
  const s = ctrl.selection;
  if (!s) return { meta: null, note: 'no slab selected: step to an allocation, or pick one in the map (Tab, arrows)' };
  const r = ctrl.session.engine.model.state.regions.get(s.regionId);
  if (!r) return { meta: null, note: `region ${s.regionId} is not mapped at this event` };
  if (r.kind === RegionKind.Large) return { meta: null, note: `region ${s.regionId} is a large mapping (${bytes(r.sizeBytes)}${r.cached ? ', kept in the large cache' : ''})` };
  if (r.kind === RegionKind.PoolPage) {
    if (r.onFreeStack || r.page.classIdx === NONE) return { meta: null, note: `pool page ${s.regionId} is free (on the free-page stack)` };
    return { meta: r.page, note: '' };
  }
  if (r.inLru) return { meta: null, note: `SuperSlab ${s.regionId} is cached in the LRU (pushed at vclock ${r.pushedAt})` };
  const m = r.slabs[s.slabIndex];
  if (!m || m.classIdx === NONE) return { meta: null, note: `slab ${s.slabIndex} of SuperSlab ${s.regionId} is free (bitmap bit clear)` };
  return { meta: m, note: '' };
}

function slabBlocks(ctrl: TuiController, m: SlabMeta, isPool: boolean): SlabBlocks {
  const cap = m.capacityBlocks;
  const state = new Uint8Array(cap);
  const tlsTid = new Int32Array(cap).fill(-1);
  for (let b = 0; b < Math.min(cap, m.carvedBlocks); b++) state[b] = B.Other;
  for (const b of m.freelist) state[b] = B.Free;
  if (!isPool) {
    const st = ctrl.session.engine.model.state;
    const span = ctrl.session.engine.model.blockSpan;
    const key = m.regionId * 64 + m.slabIndex;
    for (const t of st.threads.values()) {
      const list = t.tlsList[m.classIdx];
      if (!list) continue;
      for (const k of list) {
        if (Math.floor(k / span) !== key) continue;
        const b = k - key * span;
        state[b] = B.Tls;
        tlsTid[b] = t.tid;
      }
    }
  }
  for (let b = 0; b < Math.min(cap, m.carvedBlocks); b++) {
    if (state[b] !== B.Other) continue;
    const bits = m.live[b] ?? 0;
    if (bits & IN_REMOTE) state[b] = B.Remote;
    else if (bits & LIVE) state[b] = B.Live;
  }
  for (const b of m.remote) state[b] = B.Remote;
  const counts = [0, 0, 0, 0, 0, 0];
  for (let b = 0; b < cap; b++) counts[state[b]]++;
  return { meta: m, state, tlsTid, counts };
}

const BLOCK_CHAR = ['_', '.', '#', '?', 'r', '?'];
const BLOCK_STYLE: Omit<Seg, 'text'>[] = [{ dim: true }, { color: 'gray' }, { color: 'green' }, { color: 'cyan', bold: true }, { color: 'yellow', bold: true }, { color: 'red' }];
const BLOCK_NAME = ['uncarved', 'free in the slab', 'live (held by the program)', 'in a TLS list', 'waiting in the remote queue', 'unaccounted'];

export function slabGeometry(inner: number): { perRow: number } {
  const room = Math.max(8, inner - 6);
  return { perRow: room >= 16 ? Math.floor(room / 16) * 16 : room };
}

export function slabPanel(a: PanelArgs): Line[] {
  const { ctrl } = a;
  const inner = a.width - 2;
  const { meta, note } = slabMeta(ctrl);
  const sel = ctrl.selection;
  if (!meta || !sel) return box(PANEL_TITLES.slab, [[seg(note, { dim: true })]], a.width, a.height, a);
  const isPool = ctrl.session.engine.model.state.regions.get(meta.regionId)?.kind === RegionKind.PoolPage;
  const blocks = slabBlocks(ctrl, meta, isPool);
  const code = isPool ? ROUTE_POOL + meta.classIdx : meta.classIdx;
  const where = isPool ? `pool page ${meta.regionId}` : `ss ${meta.regionId} slab ${meta.slabIndex}`;
  const owner = meta.owner === NONE ? 'orphan (no owner)' : `owner t${meta.owner}`;
  const body: Line[] = [
    [
      seg(`${ctrl.classLabel(code)}`, { color: classColor(code), bold: true }),
      seg(`  ${owner}  used ${meta.usedBlocks}/${meta.capacityBlocks}  carved ${meta.carvedBlocks}  freelist ${meta.freelist.length}  remote ${meta.remote.length}`),
    ],
    [
      seg('#', BLOCK_STYLE[B.Live]),
      seg(` live ${blocks.counts[B.Live]}  `),
      seg('.', BLOCK_STYLE[B.Free]),
      seg(` free ${blocks.counts[B.Free]}  `),
      seg('0-9', BLOCK_STYLE[B.Tls]),
      seg(` TLS (thread) ${blocks.counts[B.Tls]}  `),
      seg('r', BLOCK_STYLE[B.Remote]),
      seg(` remote ${blocks.counts[B.Remote]}  `),
      seg('_', BLOCK_STYLE[B.Uncarved]),
      seg(` uncarved ${blocks.counts[B.Uncarved]}`),
      ...(blocks.counts[B.Other] ? [seg(`  ? ${blocks.counts[B.Other]}`, BLOCK_STYLE[B.Other])] : []),
    ],
  ];
  const { perRow } = slabGeometry(inner);
  const cap = meta.capacityBlocks;
  const selBlock = Math.max(0, Math.min(cap - 1, sel.block));
  const gridRows = Math.max(1, a.height - 2 - body.length - 1);
  const totalRows = Math.ceil(cap / perRow);
  const selRow = Math.floor(selBlock / perRow);
  const first = Math.floor(selRow / gridRows) * gridRows;
  for (let row = first; row < Math.min(totalRows, first + gridRows); row++) {
    const line: Line = [seg(String(row * perRow).padStart(5) + ' ', { dim: true })];
    let run: Seg | null = null;
    for (let b = row * perRow; b < Math.min(cap, (row + 1) * perRow); b++) {
      const st = blocks.state[b];
      const ch = st === B.Tls ? tidChar(blocks.tlsTid[b]) : BLOCK_CHAR[st];
      const isSel = b === selBlock;
      if (!isSel && run && run.inverse === undefined && sameStyle(run, BLOCK_STYLE[st])) {
        run.text += ch;
        continue;
      }
      run = isSel ? { text: ch, ...BLOCK_STYLE[st], inverse: true } : { text: ch, ...BLOCK_STYLE[st] };
      line.push(run);
      if (isSel) run = null;
    }
    body.push(line);
  }
  while (body.length < a.height - 3) body.push([]);
  const st = blocks.state[selBlock];
  const base = ctrl.session.engine.addresses.regions.get(meta.regionId)?.base;
  const addr = base === undefined ? '' : ` @ ${hex(base + (isPool ? 0 : meta.slabIndex * ctrl.cfg.slabSizeBytes) + selBlock * meta.classSize)}`;
  const holder = st === B.Tls ? ` of t${blocks.tlsTid[selBlock]}` : '';
  body.push([seg(`block ${selBlock}${addr}: ${BLOCK_NAME[st]}${holder}`, { bold: true })]);
  return box(`${PANEL_TITLES.slab}: ${where}`, body.map((l) => fit(l, inner)), a.width, a.height, a);
}

function sameStyle(a: Omit<Seg, 'text'>, b: Omit<Seg, 'text'>): boolean {
  return a.color === b.color && a.dim === b.dim && a.bold === b.bold;
}

/** Arrow keys in the focused slab detail: move the selected block. */
export function moveBlockSelection(ctrl: TuiController, inner: number, dx: number, dy: number): void {
  const { meta } = slabMeta(ctrl);
  const sel = ctrl.selection;
  if (!meta || !sel) return;
  const { perRow } = slabGeometry(inner);
  const b = sel.block + dx + dy * perRow;
  sel.block = Math.max(0, Math.min(meta.capacityBlocks - 1, b));
}

// ------------------------------------------------------------------ threads

export function threadsPanel(a: PanelArgs): Line[] {
  const { ctrl } = a;
  const st = ctrl.session.engine.model.state;
  const rows = Math.max(1, a.height - 3);
  const tids = [...st.threads.keys()].filter((t) => ctrl.threadFilter === null || t === ctrl.threadFilter).sort((x, y) => x - y);
  const cf = ctrl.classFilter;
  const body: Line[] = [[seg(`thread  TLS list lengths by class${cf !== null ? ` (${ctrl.classLabel(cf)})` : ''} | pool pages by class`, { dim: true })]];
  ctrl.threadRow = Math.max(0, Math.min(ctrl.threadRow, Math.max(0, tids.length - rows)));
  for (const tid of tids.slice(ctrl.threadRow, ctrl.threadRow + rows)) {
    const t = st.threads.get(tid)!;
    const line: Line = [seg(`t${String(tid).padEnd(4)}`, { bold: true }), seg(t.registered ? '  ' : 'x ', { dim: true })];
    let cached = 0;
    t.tlsList.forEach((list, c) => {
      if (list.length === 0 || (cf !== null && cf !== c)) return;
      cached += list.length;
      line.push(seg(`c${c}:`, { color: classColor(c) }), seg(`${list.length} `));
    });
    if (cached === 0) line.push(seg('- ', { dim: true }));
    line.push(seg('| ', { dim: true }));
    let pages = 0;
    t.ownedPages.forEach((ids, j) => {
      if (ids.length === 0 || (cf !== null && cf !== ROUTE_POOL + j)) return;
      pages += ids.length;
      line.push(seg(`p${j}:`, { color: classColor(ROUTE_POOL + j) }), seg(`${ids.length} `));
    });
    if (pages === 0) line.push(seg('-', { dim: true }));
    body.push(line);
  }
  if (tids.length === 0) body.push([seg(ctrl.threadFilter !== null ? `thread ${ctrl.threadFilter} has no state at this event` : 'no thread has called yet', { dim: true })]);
  const more = tids.length > rows ? ` ${ctrl.threadRow + 1}-${Math.min(tids.length, ctrl.threadRow + rows)} of ${tids.length}` : ` (${tids.length})`;
  return box(`${PANEL_TITLES.threads}${more}`, body, a.width, a.height, a);
}

// ---------------------------------------------------------------------- LRU

export function lruPanel(a: PanelArgs): Line[] {
  const { ctrl } = a;
  const cfg = ctrl.cfg;
  const st = ctrl.session.engine.model.state;
  const rows = Math.max(1, a.height - 3);
  const vclock = st.vclock;
  const ids = [...st.lru].reverse(); // front (most recent) first
  const body: Line[] = [
    [seg(`${ids.length}/${cfg.lruMaxCount} cached, ${bytes(ids.length * cfg.superslabSizeBytes)}/${bytes(cfg.lruMaxBytes)}, ttl ${cfg.lruTtlTicks}, vclock ${vclock}`, { dim: true })],
  ];
  ctrl.lruRow = Math.max(0, Math.min(ctrl.lruRow, Math.max(0, ids.length - rows)));
  for (const id of ids.slice(ctrl.lruRow, ctrl.lruRow + rows)) {
    const r = st.regions.get(id);
    const pushed = r && r.kind === RegionKind.SuperSlab ? r.pushedAt : 0;
    const age = vclock - pushed;
    const barW = 10;
    const filled = Math.min(barW, Math.round((age / Math.max(1, cfg.lruTtlTicks)) * barW));
    body.push([
      seg(`ss ${String(id).padEnd(6)} pushed @${String(pushed).padEnd(7)} age ${String(age).padStart(6)} `),
      seg('[', { dim: true }),
      seg('='.repeat(filled), { color: age > cfg.lruTtlTicks * 0.75 ? 'red' : 'green' }),
      seg(' '.repeat(barW - filled)),
      seg(']', { dim: true }),
    ]);
  }
  if (ids.length === 0) body.push([seg('empty: no SuperSlab is cached', { dim: true })]);
  return box(PANEL_TITLES.lru, body, a.width, a.height, a);
}

// -------------------------------------------------------------------- stats

export function statsLines(ctrl: TuiController): Line[] {
  const eng = ctrl.session.engine;
  const s = eng.stats;
  const frag = s.mappedBytes > 0 ? (100 * (s.mappedBytes - s.liveBytes)) / s.mappedBytes : 0;
  const c = eng.counts;
  const compared = c.allocations + c.frees + c.regionEvents;
  const agreed = c.allocationsAgreed + c.freesAgreed + c.regionEventsAgreed;
  return [
    [seg('mapped  ', { dim: true }), seg(bytes(s.mappedBytes), { bold: true }), seg(`  (${num(s.maps)} maps, ${num(s.unmaps)} unmaps, ${num(s.remaps)} remaps, ${num(s.reuses)} reuses)`)],
    [seg('live    ', { dim: true }), seg(bytes(s.liveBytes), { bold: true }), seg(` in ${num(s.liveBlocks)} blocks`)],
    [seg('frag    ', { dim: true }), seg(`${frag.toFixed(1)}%`, { bold: true, color: frag > 75 ? 'red' : frag > 50 ? 'yellow' : 'green' }), seg(' of mapped bytes not live')],
    [seg('calls   ', { dim: true }), seg(`${num(eng.calls)}  threads ${eng.threads.size}  vclock ${eng.model.state.vclock}`)],
    [
      seg('agree   ', { dim: true }),
      seg(compared === 0 ? '-' : `${((100 * agreed) / compared).toFixed(2)}%`, { bold: true }),
      seg(` so far (${num(eng.disagreementCount)} disagreements, ${num(eng.violationCount)} violations)`),
    ],
  ];
}

export function statsPanel(a: PanelArgs): Line[] {
  return box(PANEL_TITLES.stats, statsLines(a.ctrl), a.width, a.height, a);
}

// ----------------------------------------------------------------- findings

export function findingsPanel(a: PanelArgs): Line[] {
  const { ctrl } = a;
  const sc = ctrl.scanner;
  const fs = ctrl.findings();
  const rows = Math.max(1, a.height - 3);
  const pct = Math.floor(sc.progress * 100);
  const head = sc.done
    ? `scan done: ${num(sc.violationCount)} violations, ${num(sc.disagreementCount)} disagreements${sc.error ? ` (trace ends early: ${sc.error})` : ''}`
    : `scanning ${pct}% (${num(sc.eventsScanned)} events): ${num(fs.length)} findings so far`;
  const body: Line[] = [[seg(head, { dim: !sc.done, bold: sc.done && fs.length > 0 })]];
  ctrl.findingRow = Math.max(0, Math.min(ctrl.findingRow, fs.length - 1));
  const first = Math.max(0, Math.min(ctrl.findingRow - Math.floor(rows / 2), fs.length - rows));
  const cur = ctrl.cur;
  for (let i = first; i < Math.min(fs.length, first + rows); i++) {
    const f = fs[i];
    const isSel = a.focused && i === ctrl.findingRow;
    const here = f.event === cur;
    body.push([
      seg(f.kind === 'disagreement' ? '*' : '!', { color: f.kind === 'disagreement' ? 'yellow' : 'red', bold: true }),
      seg(here ? '>' : ' '),
      seg(`${String(f.event).padStart(8)} ${f.id} t${f.tid} ${f.text}`, isSel ? { inverse: true } : {}),
    ]);
  }
  if (fs.length === 0) body.push([seg(sc.done ? 'none: every invariant holds and the twin agrees on every event' : 'none yet', { dim: true })]);
  return box(`${PANEL_TITLES.findings} (${num(fs.length)})`, body, a.width, a.height, a);
}

// --------------------------------------------------------------------- help

export const HELP: [string, string][] = [
  ['→ ← (↓ ↑)', 'next / previous event (in the timeline)'],
  ['PgDn PgUp', '100 events forward / back'],
  ['Home End', 'first / last event'],
  ['g', 'go to an event number'],
  ['n N', 'next / previous finding (or pointer hit after /)'],
  ['/', 'find a pointer (hex): its allocation, then n: its free'],
  ['Esc', 'clear the pointer search, close this help'],
  ['t T', 'cycle the thread filter'],
  ['c C', 'cycle the class filter'],
  ['Tab S-Tab', 'focus the next / previous panel'],
  ['arrows', 'in the map / slab detail: move the selection'],
  ['Enter', 'in the findings: jump to the selected finding'],
  ['?', 'this help'],
  ['q', 'quit'],
];

export function helpPanel(width: number, height: number, color: boolean): Line[] {
  const body: Line[] = HELP.map(([k, v]) => [seg(` ${k.padEnd(11)}`, { bold: true, color: 'cyan' }), seg(v)]);
  body.push([]);
  body.push([seg(' markers: ! an invariant breaks here, * the twin disagrees with the real allocator', { dim: true })]);
  body.push([seg(` map: fill '${FILL}' = slab used/capacity, _ free slab, L LRU-cached`, { dim: true })]);
  body.push([seg(' slab: # live  . free  0-9 in that thread\'s TLS list  r remote queue  _ uncarved', { dim: true })]);
  return box('Help (press ? or Esc to close)', body, width, height, { focused: true, color });
}

export function panelById(id: PanelId): (a: PanelArgs) => Line[] {
  switch (id) {
    case 'timeline':
      return timelinePanel;
    case 'map':
      return mapPanel;
    case 'slab':
      return slabPanel;
    case 'threads':
      return threadsPanel;
    case 'lru':
      return lruPanel;
    case 'stats':
      return statsPanel;
    case 'findings':
      return findingsPanel;
  }
}

export { hjoin };
