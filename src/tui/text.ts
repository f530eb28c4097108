/**
 * Styled text for the TUI: a screen is a list of lines, a line a list of
 * segments. Panels build lines of an exact width (borders included), so the
 * layout is plain string arithmetic and the result never wraps.
 */

export interface Seg {
  text: string;
  color?: string;
  bg?: string;
  bold?: boolean;
  dim?: boolean;
  inverse?: boolean;
  underline?: boolean;
}

export type Line = Seg[];

export function seg(text: string, style: Omit<Seg, 'text'> = {}): Seg {
  return { text, ...style };
}

export function lineWidth(line: Line): number {
  let n = 0;
  for (const s of line) n += s.text.length;
  return n;
}

/** Cut or pad a line to exactly `width` columns. */
export function fit(line: Line, width: number): Line {
  const out: Line = [];
  let left = width;
  for (const s of line) {
    if (left <= 0) break;
    if (s.text.length <= left) {
      out.push(s);
      left -= s.text.length;
    } else {
      out.push({ ...s, text: s.text.slice(0, left) });
      left = 0;
    }
  }
  if (left > 0) out.push({ text: ' '.repeat(left) });
  return out;
}

/** Plain text of a line (for tests and NO_COLOR output). */
export function plain(line: Line): string {
  return line.map((s) => s.text).join('');
}

/** SGR codes of the colour names the panels use (chalk's names, as ink takes them). */
const SGR_COLOR: Record<string, number> = {
  black: 30,
  red: 31,
  green: 32,
  yellow: 33,
  blue: 34,
  magenta: 35,
  cyan: 36,
  white: 37,
  gray: 90,
  redBright: 91,
  greenBright: 92,
  yellowBright: 93,
  blueBright: 94,
  magentaBright: 95,
  cyanBright: 96,
  whiteBright: 97,
};

/** A line with ANSI escape codes, without ink (the first frame is drawn before ink has loaded). */
export function ansi(line: Line): string {
  let out = '';
  for (const s of line) {
    const codes: number[] = [];
    if (s.bold) codes.push(1);
    if (s.dim) codes.push(2);
    if (s.underline) codes.push(4);
    if (s.inverse) codes.push(7);
    if (s.color && SGR_COLOR[s.color] !== undefined) codes.push(SGR_COLOR[s.color]);
    if (s.bg && SGR_COLOR[s.bg] !== undefined) codes.push(SGR_COLOR[s.bg] + 10);
    out += codes.length ? `\x1b[${codes.join(';')}m${s.text}\x1b[0m` : s.text;
  }
  return out;
}

/** Fill levels from empty to full, readable without colour. */
export const FILL = ' .:-=+*#%@';

/** The fill character for used/capacity: ' ' for nothing used, '@' for full. */
export function fillChar(used: number, capacity: number): string {
  if (used <= 0 || capacity <= 0) return FILL[0];
  const level = 1 + Math.min(8, Math.floor((used / capacity) * 9));
  return FILL[level];
}

const PALETTE = ['cyan', 'green', 'yellow', 'magenta', 'blue', 'red', 'cyanBright', 'greenBright', 'yellowBright', 'magentaBright', 'blueBright', 'redBright'];

/** A colour per slab class (tiny class c, pool class 64 + j). */
export function classColor(code: number): string {
  const i = code >= 64 ? code - 64 + 5 : code;
  return PALETTE[((i % PALETTE.length) + PALETTE.length) % PALETTE.length];
}

export function bytes(n: number): string {
  const abs = Math.abs(n);
  if (abs < 1024) return `${n} B`;
  if (abs < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (abs < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

export function num(n: number): string {
  return n.toLocaleString('en-US');
}

export function hex(n: number): string {
  return `0x${n.toString(16)}`;
}

/** Base-36 digit for a thread index (0-9, a-z, then '+'). */
export function tidChar(tid: number): string {
  return tid < 36 ? tid.toString(36) : '+';
}

// ---------------------------------------------------------------- boxes

export interface BoxStyle {
  focused: boolean;
  color: boolean;
}

/**
 * A panel: a border (double when focused) around `body`, with the title in the
 * top edge. Returns exactly `height` lines of exactly `width` columns.
 */
export function box(title: string, body: Line[], width: number, height: number, st: BoxStyle): Line[] {
  const inner = Math.max(0, width - 2);
  const [h, v, tl, tr, bl, br] = st.focused ? ['═', '║', '╔', '╗', '╚', '╝'] : ['─', '│', '┌', '┐', '└', '┘'];
  const edge = st.focused && st.color ? { color: 'cyan' } : st.color ? { dim: true } : {};
  const t = ` ${title} `.slice(0, Math.max(0, inner - 2));
  const titleStyle: Omit<Seg, 'text'> = st.focused && st.color ? { bold: true, color: 'cyan' } : st.focused ? {} : {};
  const top: Line = [seg(tl + h, edge), seg(t, titleStyle), seg(h.repeat(Math.max(0, inner - 1 - t.length)) + tr, edge)];
  const out: Line[] = [fit(top, width)];
  const rows = Math.max(0, height - 2);
  for (let i = 0; i < rows; i++) {
    const l = body[i] ?? [];
    out.push([seg(v, edge), ...fit(l, inner), seg(v, edge)]);
  }
  if (height >= 2) out.push([seg(bl + h.repeat(inner) + br, edge)]);
  return out.slice(0, height);
}

/** Place blocks of lines side by side (each block's lines must have its width). */
export function hjoin(blocks: Line[][], height: number): Line[] {
  const out: Line[] = [];
  for (let i = 0; i < height; i++) {
    const l: Line = [];
    for (const b of blocks) l.push(...(b[i] ?? []));
    out.push(l);
  }
  return out;
}
