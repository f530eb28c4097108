/**
 * `hakmem-sim tui FILE`: the interactive replay. The trace is opened (and its
 * header and first event read) before anything is drawn, so a bad file is the
 * CLI's usual one-line error with exit code 2.
 */
import fs from 'node:fs';
import { UsageError, EXIT_OK } from '../cli/errors.js';
import { TuiController } from './controller.js';
import { renderScreen } from './screen.js';
import { ansi, plain } from './text.js';

export interface TuiOptions {
  /** commander's --no-color sets this false. */
  color?: boolean;
}

/** Colour unless NO_COLOR is set (to anything non-empty, https://no-color.org) or --no-color. */
export function useColor(opts: TuiOptions, env: NodeJS.ProcessEnv = process.env): boolean {
  if (opts.color === false) return false;
  return !(env.NO_COLOR !== undefined && env.NO_COLOR !== '');
}

export async function tuiCommand(file: string, opts: TuiOptions = {}): Promise<number> {
  const ctrl = TuiController.open(file); // throws TraceError for a bad file, before rendering
  if (!process.stdin.isTTY || !process.stdout.isTTY) {
    ctrl.close();
    throw new UsageError('tui needs a terminal (stdin and stdout must be a TTY); try hakmem-sim dump or replay');
  }
  const color = useColor(opts);
  const out = process.stdout;
  out.write('\x1b[?1049h\x1b[H'); // the alternate screen: the shell's screen comes back on exit
  let restored = false;
  const restore = () => {
    if (restored) return;
    restored = true;
    out.write('\x1b[?1049l');
  };
  process.once('exit', restore);
  // HAKMEM_TUI_TIMING=FILE: per frame, append "<ms since start> <ms to compute it> <ms since its key, or ->";
  // the frame drawn before ink is loaded is marked "first".
  const timing = process.env.HAKMEM_TUI_TIMING;
  // Importing ink and react takes most of a second on a slow machine: draw the first frame
  // without them (the same lines ink will draw), so the screen is up in a fraction of that.
  // Raw mode now, so keys typed meanwhile wait for ink unechoed.
  process.stdin.setRawMode?.(true);
  const first = renderScreen(ctrl, { cols: out.columns ?? 80, rows: out.rows ?? 24, color, help: false, input: null });
  out.write(first.lines.map((l) => (color ? ansi(l) : plain(l))).join('\n'));
  if (timing) fs.appendFileSync(timing, `${performance.now().toFixed(1)} first\n`);
  const [{ createElement }, { render }, { App }] = await Promise.all([import('react'), import('ink'), import('./app.js')]);
  out.write('\x1b[H'); // ink draws the same lines over it
  const onFrame = timing
    ? (ms: number, sinceKey: number | null) => fs.appendFileSync(timing, `${performance.now().toFixed(1)} ${ms.toFixed(2)} ${sinceKey === null ? '-' : sinceKey.toFixed(2)}\n`)
    : undefined;
  const app = render(createElement(App, { ctrl, color, onFrame }), { exitOnCtrlC: false, patchConsole: true, incrementalRendering: false, maxFps: 60 });
  try {
    await app.waitUntilExit();
  } finally {
    app.unmount();
    ctrl.close();
    restore();
  }
  return EXIT_OK;
}
