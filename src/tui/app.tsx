/**
 * The ink component: keys in, lines out. All state lives in the
 * TuiController; this component only holds what the keyboard is doing (help,
 * a typed input) and the terminal's size, and redraws.
 */
import { useEffect, useReducer, useRef, useState, type JSX } from 'react';
import { Box, Text, useApp, useInput, useStdout, type Key } from 'ink';
import { PANELS, type PanelId, type TuiController } from './controller.js';
import { moveBlockSelection, moveMapSelection } from './panels.js';
import { renderScreen, type InputKind } from './screen.js';
import { plain, type Line, type Seg } from './text.js';

export interface AppProps {
  ctrl: TuiController;
  /** Fixed size (tests); else the terminal's, following 'resize'. */
  size?: { cols: number; rows: number };
  /** False for NO_COLOR: no escape codes for colour or style at all. */
  color?: boolean;
  /** Called with the time each frame took to compute, and the time since the key that caused it (ms). */
  onFrame?: (frameMs: number, sinceKeyMs: number | null) => void;
}

/** Redraws caused by the background scan, at most this often. */
const IDLE_REDRAW_MS = 150;

export function App({ ctrl, size, color = true, onFrame }: AppProps) {
  const { exit } = useApp();
  const { stdout } = useStdout();
  const [, force] = useReducer((x: number) => x + 1, 0);
  const [dims, setDims] = useState(() => ({ cols: size?.cols ?? stdout.columns ?? 80, rows: size?.rows ?? stdout.rows ?? 24 }));
  // Keyboard modes live in refs: keys can arrive faster than React re-renders.
  const helpRef = useRef(false);
  const inputRef = useRef<{ kind: InputKind; text: string } | null>(null);
  const setHelp = (v: boolean) => {
    helpRef.current = v;
    force();
  };
  const setInput = (v: { kind: InputKind; text: string } | null) => {
    inputRef.current = v;
    force();
  };
  const geo = useRef({ mapInner: 0, slabInner: 0 });
  const lastDraw = useRef(0);
  const pending = useRef<NodeJS.Timeout | null>(null);
  const keyAt = useRef<number | null>(null);

  useEffect(() => {
    ctrl.subscribe(() => {
      if (pending.current) return;
      const wait = Math.max(0, IDLE_REDRAW_MS - (Date.now() - lastDraw.current));
      pending.current = setTimeout(() => {
        pending.current = null;
        force();
      }, wait);
    });
    return () => {
      ctrl.subscribe(() => {});
      if (pending.current) clearTimeout(pending.current);
    };
  }, [ctrl]);

  useEffect(() => {
    if (size) {
      setDims({ cols: size.cols, rows: size.rows });
      return;
    }
    const onResize = () => setDims({ cols: stdout.columns ?? 80, rows: stdout.rows ?? 24 });
    stdout.on('resize', onResize);
    return () => {
      stdout.off('resize', onResize);
    };
  }, [stdout, size?.cols, size?.rows]);

  useInput((ch, key) => {
    // Keys typed faster than the terminal is read arrive as one chunk: take them one at a time.
    if (ch.length > 1 && !inputRef.current && !key.ctrl && !key.meta) {
      for (const c of ch) onKey(c, { ...key, tab: c === '\t', return: c === '\r', shift: /[A-Z]/.test(c) });
      return;
    }
    onKey(ch, key);
  });

  function onKey(ch: string, key: Key): void {
    keyAt.current = performance.now();
    if (key.ctrl && ch === 'c') {
      exit();
      return;
    }
    const input = inputRef.current;
    if (input) {
      if (key.escape) setInput(null);
      else if (key.return) {
        setInput(null);
        if (input.kind === 'goto') {
          const t = input.text.replace(/[,_\s]/g, '');
          if (/^\d+$/.test(t)) ctrl.goTo(Number(t));
          else if (t !== '') ctrl.message = `not an event number: '${input.text}'`;
        } else if (input.text.trim() === '') {
          if (ctrl.search) ctrl.searchNext(1);
        } else {
          ctrl.findPointer(input.text);
        }
      } else if (key.backspace || key.delete) setInput({ ...input, text: input.text.slice(0, -1) });
      else if (ch && !key.ctrl && !key.meta && /^[0-9a-zA-Zx,_]+$/.test(ch)) setInput({ ...input, text: (input.text + ch).slice(0, 24) });
      force();
      return;
    }
    if (ctrl.busy) {
      if (key.escape || ch === 'q') ctrl.cancelBusy();
      force();
      return;
    }
    if (helpRef.current) {
      if (key.escape || ch === '?' || ch === 'q' || key.return) setHelp(false);
      return;
    }
    const focus = ctrl.focus;
    const inMap = focus === 'map' && geo.current.mapInner > 0;
    const inSlab = focus === 'slab' && geo.current.slabInner > 0;
    if (ch === 'q') {
      exit();
      return;
    }
    if (ch === '?') setHelp(true);
    else if (key.tab) cycleFocus(ctrl, key.shift ? -1 : 1);
    else if (inMap && (key.leftArrow || key.rightArrow || key.upArrow || key.downArrow)) {
      moveMapSelection(ctrl, geo.current.mapInner, key.leftArrow ? -1 : key.rightArrow ? 1 : 0, key.upArrow ? -1 : key.downArrow ? 1 : 0);
    } else if (inSlab && (key.leftArrow || key.rightArrow || key.upArrow || key.downArrow)) {
      moveBlockSelection(ctrl, geo.current.slabInner, key.leftArrow ? -1 : key.rightArrow ? 1 : 0, key.upArrow ? -1 : key.downArrow ? 1 : 0);
    } else if (key.upArrow || key.downArrow) {
      const d = key.upArrow ? -1 : 1;
      if (focus === 'findings') ctrl.findingRow = Math.max(0, ctrl.findingRow + d);
      else if (focus === 'threads') ctrl.threadRow = Math.max(0, ctrl.threadRow + d);
      else if (focus === 'lru') ctrl.lruRow = Math.max(0, ctrl.lruRow + d);
      else ctrl.step(d);
    } else if (key.rightArrow) ctrl.step(1);
    else if (key.leftArrow) ctrl.step(-1);
    else if (key.pageDown) ctrl.step(100);
    else if (key.pageUp) ctrl.step(-100);
    else if (key.home) ctrl.home();
    else if (key.end) ctrl.end();
    else if (key.return && focus === 'findings') ctrl.jumpToFinding(ctrl.findingRow);
    else if (key.escape) {
      ctrl.clearSearch();
      ctrl.message = '';
    } else if (ch === 'g') setInput({ kind: 'goto', text: '' });
    else if (ch === '/') setInput({ kind: 'find', text: '' });
    else if (ch === 'n') ctrl.search ? ctrl.searchNext(1) : ctrl.nextFinding(1);
    else if (ch === 'N') ctrl.search ? ctrl.searchNext(-1) : ctrl.nextFinding(-1);
    else if (ch === 't') ctrl.cycleThread(1);
    else if (ch === 'T') ctrl.cycleThread(-1);
    else if (ch === 'c') ctrl.cycleClass(1);
    else if (ch === 'C') ctrl.cycleClass(-1);
    else return;
    force();
  }

  const t0 = performance.now();
  const screen = renderScreen(ctrl, { cols: dims.cols, rows: dims.rows, color, help: helpRef.current, input: inputRef.current });
  geo.current = { mapInner: screen.mapInner, slabInner: screen.slabInner };
  lastDraw.current = Date.now();
  const body = screen.lines.map((l, i) => <Text key={i}>{color ? styled(l) : plain(l)}</Text>);
  const now = performance.now();
  onFrame?.(now - t0, keyAt.current === null ? null : now - keyAt.current);
  keyAt.current = null;
  return <Box flexDirection="column">{body}</Box>;
}

function cycleFocus(ctrl: TuiController, dir: 1 | -1): void {
  const i = PANELS.indexOf(ctrl.focus);
  const next: PanelId = PANELS[(i + dir + PANELS.length) % PANELS.length];
  ctrl.focus = next;
  if (next !== 'timeline') ctrl.side = next;
}

/** Segments as nested <Text>, merging neighbours of the same style. */
function styled(line: Line): JSX.Element[] {
  const merged: Seg[] = [];
  for (const s of line) {
    const last = merged[merged.length - 1];
    if (last && sameStyle(last, s)) last.text += s.text;
    else merged.push({ ...s });
  }
  return merged.map((s, j) =>
    s.color || s.bg || s.bold || s.dim || s.inverse || s.underline ? (
      <Text key={j} color={s.color} backgroundColor={s.bg} bold={s.bold} dimColor={s.dim} inverse={s.inverse} underline={s.underline}>
        {s.text}
      </Text>
    ) : (
      <Text key={j}>{s.text}</Text>
    ),
  );
}

function sameStyle(a: Seg, b: Seg): boolean {
  return a.color === b.color && a.bg === b.bg && !!a.bold === !!b.bold && !!a.dim === !!b.dim && !!a.inverse === !!b.inverse && !!a.underline === !!b.underline;
}
