/**
 * The whole screen: a header line, the panels laid out for the terminal's
 * size, and a footer line (key hints, the input prompt, or a message).
 *
 * Wide terminals (>= 120 x 30) show every panel; narrower ones show the
 * timeline above one other panel (the focused one; Tab cycles), and very short
 * ones only the focused panel.
 */
import path from 'node:path';
import { PANEL_TITLES, type PanelId, type TuiController } from './controller.js';
import { findingsPanel, helpPanel, lruPanel, mapPanel, panelById, slabPanel, statsPanel, threadsPanel, timelinePanel, type PanelArgs } from './panels.js';
import { fit, hjoin, num, seg, type Line } from './text.js';

export type InputKind = 'goto' | 'find';

export interface ScreenState {
  cols: number;
  rows: number;
  color: boolean;
  help: boolean;
  input: { kind: InputKind; text: string } | null;
}

export interface Screen {
  lines: Line[];
  /** Inner widths of the map and slab panels as drawn (for arrow-key geometry); 0 when hidden. */
  mapInner: number;
  slabInner: number;
  visible: PanelId[];
}

export const WIDE_COLS = 120;
export const WIDE_ROWS = 30;

export function renderScreen(ctrl: TuiController, ui: ScreenState): Screen {
  const cols = Math.max(20, ui.cols);
  const height = Math.max(4, ui.rows - 1); // one spare row: ink redraws in place instead of clearing
  const H = height - 2;
  const out: Line[] = [header(ctrl, cols)];
  let mapInner = 0;
  let slabInner = 0;
  const visible: PanelId[] = [];
  const args = (id: PanelId, width: number, h: number): PanelArgs => {
    visible.push(id);
    if (id === 'map') mapInner = width - 2;
    if (id === 'slab') slabInner = width - 2;
    return { ctrl, width, height: h, focused: ctrl.focus === id, color: ui.color };
  };
  if (ui.help) {
    out.push(...helpPanel(cols, H, ui.color));
  } else if (cols >= WIDE_COLS && height >= WIDE_ROWS - 1) {
    const L = Math.floor(cols / 2);
    const R = cols - L;
    const T = Math.floor(H * 0.55);
    const SH = 7;
    const left = [...timelinePanel(args('timeline', L, T)), ...statsPanel(args('stats', L, SH)), ...findingsPanel(args('findings', L, H - T - SH))];
    const M = Math.floor(H * 0.3);
    const S = Math.floor(H * 0.3);
    const LH = Math.min(8, Math.max(4, Math.floor((H - M - S) / 2)));
    const right = [...mapPanel(args('map', R, M)), ...slabPanel(args('slab', R, S)), ...threadsPanel(args('threads', R, H - M - S - LH)), ...lruPanel(args('lru', R, LH))];
    out.push(...hjoin([left, right], H));
  } else if (H >= 12) {
    const T = Math.max(6, Math.min(H - 6, Math.floor(H * 0.43)));
    const other = ctrl.focus === 'timeline' ? ctrl.side : ctrl.focus;
    out.push(...timelinePanel(args('timeline', cols, T)));
    out.push(...panelById(other)(args(other, cols, H - T)));
  } else {
    out.push(...panelById(ctrl.focus)(args(ctrl.focus, cols, H)));
  }
  out.push(footer(ctrl, ui, cols, visible));
  return { lines: out.map((l) => fit(l, cols)), mapInner, slabInner, visible };
}

function header(ctrl: TuiController, cols: number): Line {
  const total = ctrl.total;
  const cur = ctrl.cur;
  const sc = ctrl.scanner;
  const pos = cur < 0 ? 'start' : `event ${num(cur)}`;
  const filt = `thr ${ctrl.threadFilter === null ? 'all' : `t${ctrl.threadFilter}`}  cls ${ctrl.classFilter === null ? 'all' : ctrl.classLabel(ctrl.classFilter)}`;
  const scan = sc.done ? `findings ${num(sc.findings.length)}` : `scan ${Math.floor(sc.progress * 100)}% findings ${num(sc.findings.length)}`;
  const name = path.basename(ctrl.file);
  const wide = cols >= 100;
  const parts = [
    seg(wide ? ' hakmem-sim ' : ' hakmem ', { inverse: true, bold: true }),
    seg(` ${name}  `),
    seg(`${pos}${total !== null ? `/${num(total)}` : ''}`, { bold: true }),
    seg(`  ${filt}  `, { color: ctrl.filtered() ? 'yellow' : undefined }),
    seg(scan, { color: sc.findings.length ? 'red' : 'green' }),
  ];
  return fit(parts, cols);
}

function footer(ctrl: TuiController, ui: ScreenState, cols: number, visible: PanelId[]): Line {
  if (ui.input) {
    const prompt = ui.input.kind === 'goto' ? 'go to event: ' : 'find pointer (hex): ';
    return [seg(prompt, { bold: true }), seg(ui.input.text), seg('_', { inverse: true }), seg('  Enter ok, Esc cancel', { dim: true })];
  }
  if (ctrl.busy) {
    const b = ctrl.busy;
    const span = Math.max(1, b.target === Number.MAX_SAFE_INTEGER ? (ctrl.total ?? b.from + 1) - b.from : b.target - b.from);
    const pct = Math.min(100, Math.floor((100 * (ctrl.session.position - b.from)) / span));
    return [seg(`${b.label} to ${b.target === Number.MAX_SAFE_INTEGER ? 'the end' : `event ${num(b.target - 1)}`}: ${pct}% (event ${num(ctrl.cur)})`, { bold: true, color: 'yellow' }), seg('  Esc stops', { dim: true })];
  }
  if (ctrl.message) return [seg(ctrl.message, { color: 'yellow' })];
  const focus = `[${PANEL_TITLES[ctrl.focus]}] `;
  void visible;
  const hints = [
    '←→ step  PgUp/Dn 100  g go  / ptr  n/N finding  t/c filter  Tab panel  ? help  q quit',
    '←→ step  PgUp/Dn  g go  / ptr  n finding  t/c filter  Tab  ? help  q quit',
    '←→ step  g go  / ptr  n finding  t/c filter  Tab  ? help  q',
    '←→ PgUp/Dn g / n t c Tab  ? help  q quit',
    '? help  q quit',
  ];
  const hint = hints.find((h) => focus.length + h.length <= cols) ?? hints[hints.length - 1];
  return [seg(focus, { bold: true }), seg(hint, { dim: true })];
}

export { mapPanel, slabPanel };
