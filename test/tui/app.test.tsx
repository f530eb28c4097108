import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { render } from 'ink-testing-library';
import { App } from '../../src/tui/app.js';
import { TuiController } from '../../src/tui/controller.js';
import { useColor, tuiCommand } from '../../src/tui/command.js';
import { renderScreen } from '../../src/tui/screen.js';
import { ansi, plain, seg } from '../../src/tui/text.js';
import { TraceError } from '../../src/sim/trace/errors.js';
import { Op, isAllocOp } from '../../src/sim/trace/format.js';
import { TraceFile, newEvent } from '../../src/sim/trace/reader.js';
import { tmpDir } from '../helpers/tmp.js';
import { KEYS, delay, doubleFreeTrace, larsonTrace } from './helpers.js';

let dir: string;
let cleanup: () => void;
let larson: string;
let doubleFree: { file: string; ptr: number };
let total: number;

beforeAll(() => {
  ({ dir, cleanup } = tmpDir('hakmem-tui-'));
  larson = larsonTrace(dir);
  doubleFree = doubleFreeTrace(dir);
  const t = TraceFile.open(larson);
  total = t.header.eventCount;
  t.close();
});
afterAll(() => cleanup());

interface Harness {
  ctrl: TuiController;
  frame: () => string;
  press: (...keys: string[]) => Promise<void>;
  type: (text: string) => Promise<void>;
  until: (cond: () => boolean, ms?: number) => Promise<void>;
  done: () => void;
}

const open: Harness[] = [];
afterEach(() => {
  for (const h of open.splice(0)) h.done();
});

async function mount(file: string, cols = 80, rows = 24): Promise<Harness> {
  const ctrl = TuiController.open(file);
  const r = render(<App ctrl={ctrl} size={{ cols, rows }} color={false} />);
  const h: Harness = {
    ctrl,
    frame: () => r.lastFrame() ?? '',
    // A key changes the controller at once; its frame follows: wait for it (or give up after a second).
    press: async (...keys) => {
      for (const k of keys) {
        const before = r.frames.length;
        r.stdin.write(k);
        const t0 = Date.now();
        while (r.frames.length === before && Date.now() - t0 < 1000) await delay(5);
      }
      await delay(10);
    },
    type: async (text) => {
      for (const ch of text) await h.press(ch);
    },
    until: async (cond, ms = 10_000) => {
      const t0 = Date.now();
      while (!cond()) {
        if (Date.now() - t0 > ms) throw new Error('timed out');
        await delay(20);
      }
      await delay(200); // let the throttled redraw land
    },
    done: () => {
      r.unmount();
      ctrl.close();
    },
  };
  open.push(h);
  await delay(50); // useInput subscribes after the first render
  return h;
}

function lines(frame: string): string[] {
  return frame.split('\n');
}

describe('tui: navigation', () => {
  it('steps, pages, jumps to the ends and goes to an event number', async () => {
    const h = await mount(larson);
    expect(h.frame()).toContain('Timeline start');
    expect(h.ctrl.cur).toBe(-1);
    await h.press(KEYS.right);
    expect(h.ctrl.cur).toBe(0);
    expect(h.frame()).toContain('event 0/');
    await h.press(KEYS.right, KEYS.right, KEYS.right);
    expect(h.ctrl.cur).toBe(3);
    await h.press(KEYS.left);
    expect(h.ctrl.cur).toBe(2);
    expect(h.frame()).toMatch(/[║│] >\s+2 t0/);
    await h.press(KEYS.pageDown);
    expect(h.ctrl.cur).toBe(102);
    expect(h.frame()).toContain('event 102/');
    await h.press(KEYS.pageUp);
    expect(h.ctrl.cur).toBe(2);
    await h.press(KEYS.end);
    await h.until(() => h.ctrl.busy === null);
    expect(h.ctrl.cur).toBe(total - 1);
    expect(h.frame()).toContain(`event ${(total - 1).toLocaleString('en-US')}/`);
    await h.press(KEYS.left);
    expect(h.ctrl.cur).toBe(total - 2);
    await h.press(KEYS.home);
    expect(h.ctrl.cur).toBe(0);
    await h.press(KEYS.left);
    expect(h.ctrl.cur).toBe(-1);
    await h.press('g');
    expect(h.frame()).toContain('go to event:');
    await h.type('1234');
    expect(h.frame()).toContain('go to event: 1234');
    await h.press(KEYS.enter);
    expect(h.ctrl.cur).toBe(1234);
    expect(h.frame()).toContain('event 1,234/');
    expect(h.frame()).toMatch(/[║│] >\s+1234 t\d/);
  });

  it('seeks far ahead in slices, and steps back instantly from there', async () => {
    const h = await mount(larson);
    await h.press('g');
    await h.type('15000');
    await h.press(KEYS.enter);
    await h.until(() => h.ctrl.busy === null);
    expect(h.ctrl.cur).toBe(15000);
    expect(h.frame()).toContain('event 15,000/');
    const t0 = performance.now();
    await h.press(KEYS.left);
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(h.ctrl.cur).toBe(14999);
    // The state matches a fresh replay to the same point.
    const fresh = TuiController.open(larson, { scanInBackground: false });
    fresh.session.seek(15000);
    expect(h.ctrl.session.engine.model.digest()).toBe(fresh.session.engine.model.digest());
    fresh.close();
  });

  it('moves the selection with the arrows when the map or the slab detail is focused', async () => {
    const h = await mount(larson);
    await h.press('g');
    await h.type('5000');
    await h.press(KEYS.enter);
    const before = { ...h.ctrl.selection! };
    expect(before).toBeTruthy();
    await h.press(KEYS.tab); // map
    expect(h.frame()).toContain('╔═ SuperSlab map');
    await h.press(KEYS.right);
    expect(h.ctrl.cur).toBe(5000); // arrows move the selection, not the event
    const sel = h.ctrl.selection!;
    expect(sel.regionId * 16 + sel.slabIndex).toBe(before.regionId * 16 + before.slabIndex + 1);
    await h.press(KEYS.tab); // slab detail
    expect(h.frame()).toContain('╔═ Slab detail');
    const b = h.ctrl.selection!.block;
    await h.press(KEYS.right);
    expect(h.ctrl.selection!.block).toBe(b + 1);
    expect(h.frame()).toMatch(new RegExp(`block ${b + 1}( @ 0x[0-9a-f]+)?: `));
    await h.press(KEYS.pageDown); // paging still moves events
    expect(h.ctrl.cur).toBe(5100);
  });
});

describe('tui: filters, search, findings, help', () => {
  it('t filters the timeline and the steps by thread, c by class', async () => {
    const h = await mount(larson);
    await h.press('g');
    await h.type('3000');
    await h.press(KEYS.enter);
    await h.press('t');
    expect(h.ctrl.threadFilter).toBe(0);
    await h.press('t');
    const tid = h.ctrl.threadFilter!;
    expect(tid).toBe(1);
    expect(h.frame()).toContain(`thr t${tid}`);
    await h.press(KEYS.right);
    expect(h.ctrl.currentEvent()!.tid).toBe(tid);
    const rows = lines(h.frame()).filter((l) => /^.[ >]\s+\d+ t\d+ /.test(l.slice(1)));
    expect(rows.length).toBeGreaterThan(2);
    for (const r of rows) expect(r).toMatch(new RegExp(`\\d+ t${tid} `));
    // back to all threads
    while (h.ctrl.threadFilter !== null) await h.press('t');
    await h.press('c', 'c', 'c'); // class 2
    expect(h.ctrl.classFilter).toBe(2);
    expect(h.frame()).toContain('cls c2 48B');
    await h.press(KEYS.right);
    const e = h.ctrl.currentEvent()!;
    expect(h.ctrl.eventClass(e)).toBe(2);
    await h.press(KEYS.right);
    expect(h.ctrl.eventClass(h.ctrl.currentEvent()!)).toBe(2);
  });

  it('/ finds a pointer: its allocation, then n its free', async () => {
    // A pointer whose first allocation is freed later on.
    const t = TraceFile.open(larson);
    const c = t.cursor();
    const e = newEvent();
    const allocAt = new Map<number, number>();
    let found: { ptr: number; alloc: number; free: number } | null = null;
    while (!found && c.next(e)) {
      if (isAllocOp(e.op) && e.b && e.index > 2000 && !allocAt.has(e.b)) allocAt.set(e.b, e.index);
      else if (e.op === Op.FREE && allocAt.has(e.b)) found = { ptr: e.b, alloc: allocAt.get(e.b)!, free: e.index };
    }
    t.close();
    expect(found).not.toBeNull();
    const h = await mount(larson);
    await h.press('g');
    await h.type(String(found!.alloc - 1));
    await h.press(KEYS.enter);
    await h.press('/');
    expect(h.frame()).toContain('find pointer (hex):');
    await h.type(found!.ptr.toString(16));
    await h.press(KEYS.enter);
    expect(h.ctrl.cur).toBe(found!.alloc);
    expect(h.frame()).toContain(`0x${found!.ptr.toString(16)}: allocated at event ${found!.alloc}`);
    await h.press('n');
    expect(h.ctrl.cur).toBe(found!.free);
    expect(h.frame()).toContain(`freed at event ${found!.free}`);
    await h.press('N');
    expect(h.ctrl.cur).toBe(found!.alloc);
    // '/' then Enter with nothing typed goes on to the next hit
    await h.press('/', KEYS.enter);
    expect(h.ctrl.cur).toBe(found!.free);
  });

  it('scans for findings in the background and n jumps to them', async () => {
    const h = await mount(doubleFree.file);
    await h.until(() => h.ctrl.scanner.done);
    const fs = h.ctrl.findings();
    expect(fs.length).toBeGreaterThan(0);
    const i2 = fs.find((f) => f.id === 'I2')!;
    expect(i2).toBeTruthy();
    expect(h.frame()).toMatch(/findings [1-9]/);
    await h.press('n');
    expect(h.ctrl.cur).toBe(fs[0].event);
    expect(h.frame()).toContain(`finding 1/${fs.length}`);
    // The timeline marks the event.
    expect(h.frame()).toMatch(new RegExp(`[║│][!*]>\\s+${fs[0].event} t0 +free`));
    // The findings panel lists it; Enter there jumps too.
    while (h.ctrl.focus !== 'findings') await h.press(KEYS.tab);
    expect(h.frame()).toContain('Findings (');
    expect(h.frame()).toContain('I2');
    await h.press(KEYS.home, KEYS.enter);
    expect(h.ctrl.cur).toBe(fs[0].event);
  });

  it('? shows the help, and ? closes it', async () => {
    const h = await mount(larson);
    await h.press('?');
    expect(h.frame()).toContain('Help');
    expect(h.frame()).toContain('find a pointer');
    await h.press(KEYS.right); // ignored while the help is up
    expect(h.ctrl.cur).toBe(-1);
    await h.press('?');
    expect(h.frame()).not.toContain('find a pointer');
    expect(h.frame()).toContain('Timeline');
  });
});

describe('tui: layout', () => {
  const fits = (frame: string, cols: number, rows: number) => {
    const ls = lines(frame);
    expect(ls.length).toBeLessThanOrEqual(rows);
    for (const l of ls) expect(l.length, l).toBeLessThanOrEqual(cols);
  };

  it('fits 80x24 in every panel, with help and while typing', async () => {
    const h = await mount(larson, 80, 24);
    await h.press('g');
    await h.type('6000');
    await h.press(KEYS.enter);
    for (let i = 0; i < 7; i++) {
      fits(h.frame(), 80, 24);
      expect(h.frame()).toContain('Timeline');
      await h.press(KEYS.tab);
    }
    await h.press('?');
    fits(h.frame(), 80, 24);
    await h.press('?', '/');
    fits(h.frame(), 80, 24);
  });

  it('shows every panel at once on a wide terminal, and fits it', async () => {
    // ink-testing-library's stdout is 100 columns wide: check the screen itself at 160x48.
    const h = await mount(larson, 80, 24);
    await h.press(KEYS.pageDown);
    const screen = renderScreen(h.ctrl, { cols: 160, rows: 48, color: true, help: false, input: null });
    expect(screen.visible).toEqual(expect.arrayContaining(['timeline', 'map', 'slab', 'threads', 'lru', 'stats', 'findings']));
    const f = screen.lines.map(plain).join('\n');
    fits(f, 160, 48);
    for (const t of ['Timeline', 'SuperSlab map', 'Slab detail', 'Threads', 'LRU', 'Stats', 'Findings']) expect(f).toContain(t);
    expect(screen.lines.every((l) => plain(l).length === 160)).toBe(true);
  });

  it('names the region of a block the twin has not placed yet by its kind, not as large', async () => {
    const h = await mount(larson, 100, 30);
    // Event 1 maps the first SuperSlab in the trace; the twin maps it when the malloc after it is applied.
    await h.press(KEYS.right, KEYS.right);
    const line = lines(h.frame()).find((l) => /^\s*[!* ]?\s+2 t\d+\s+malloc/.test(l.replace(/^║/, ''))) ?? '';
    expect(line).toMatch(/ ss 1\b/);
    expect(line).not.toMatch(/ large 1\b/);
  });

  it('draws the first frame before ink loads: the same text, with the styles as escape codes', async () => {
    const h = await mount(larson, 80, 24);
    await h.press(KEYS.pageDown);
    const screen = renderScreen(h.ctrl, { cols: 80, rows: 24, color: true, help: false, input: null });
    const strip = (s: string) => s.replace(/\u001B\[[0-9;]*m/g, '');
    expect(screen.lines.map((l) => strip(ansi(l)))).toEqual(screen.lines.map(plain));
    // The header's scan progress moves on in the background: compare the panels below it.
    expect(strip(h.frame()).split('\n').map((l) => l.trimEnd()).slice(1)).toEqual(screen.lines.map((l) => plain(l).trimEnd()).slice(1));
    expect(ansi([seg('a', { bold: true, color: 'red' }), seg('b'), seg('c', { inverse: true, color: 'cyanBright' })])).toBe('\u001B[1;31ma\u001B[0mb\u001B[7;96mc\u001B[0m');
  });

  it('reads without colour: no escape codes, fill levels as characters', async () => {
    expect(useColor({}, { NO_COLOR: '1' })).toBe(false);
    expect(useColor({}, {})).toBe(true);
    expect(useColor({ color: false }, {})).toBe(false);
    const h = await mount(larson, 100, 30);
    await h.press('g');
    await h.type('8000');
    await h.press(KEYS.enter, KEYS.tab);
    const f = h.frame();
    expect(f).not.toMatch(/\u001B\[/);
    expect(f).toMatch(/\[[ .:\-=+*#%@_,]{16}\]/);
  });
});

describe('tui: bad input', () => {
  it('refuses a bad file with a TraceError before drawing anything', async () => {
    const bad = path.join(dir, 'bad.hkt');
    fs.writeFileSync(bad, 'this is not a trace\n');
    await expect(tuiCommand(bad)).rejects.toBeInstanceOf(TraceError);
    await expect(tuiCommand(path.join(dir, 'missing.hkt'))).rejects.toThrow(/no such file/);
  });
});
