/**
 * The real program in a real terminal: `hakmem-sim tui FILE` inside tmux at
 * 80x24 (needs dist/: `npm run build`, as `npm test` does first).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, ROOT, runCli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';
import { TraceFile } from '../../src/sim/trace/reader.js';
import { delay, larsonTrace } from './helpers.js';

const hasTmux = spawnSync('tmux', ['-V'], { encoding: 'utf8' }).status === 0;
const session = `hakmem-tui-${process.pid}`;

function tmux(...args: string[]): string {
  const r = spawnSync('tmux', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`tmux ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

const screen = () => tmux('capture-pane', '-p', '-t', session);

async function waitFor(pred: (s: string) => boolean, ms = 15_000): Promise<string> {
  const t0 = Date.now();
  for (;;) {
    const s = screen();
    if (pred(s)) return s;
    if (Date.now() - t0 > ms) throw new Error(`timed out; the screen was:\n${s}`);
    await delay(50);
  }
}

describe('tui in tmux', () => {
  let dir: string;
  let cleanup: () => void;
  let file: string;
  let total: number;
  const fmt = (n: number) => n.toLocaleString('en-US');
  beforeAll(() => {
    ({ dir, cleanup } = tmpDir('hakmem-tui-tmux-'));
    file = larsonTrace(dir, 20_000);
    const t = TraceFile.open(file);
    total = t.header.eventCount;
    t.close();
  });
  afterAll(() => {
    if (hasTmux) spawnSync('tmux', ['kill-session', '-t', session]);
    cleanup();
  });

  it('refuses a bad file with one line and exit 2', () => {
    const bad = `${dir}/bad.hkt`;
    fs.writeFileSync(bad, 'nope');
    const r = runCli(['tui', bad]);
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^hakmem-sim: .*bad\.hkt: byte 0: /);
    expect(r.stdout).toBe('');
  });

  it.skipIf(!hasTmux)('runs at 80x24: steps, jumps to the end, quits on q', async () => {
    const doneFile = `${dir}/exit-code`;
    // CI=true as on a CI machine: ink would draw nothing until exit if the CLI let it see that.
    const cmd = `CI=true ${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)} tui ${JSON.stringify(file)}; echo $? > ${JSON.stringify(doneFile)}; sleep 30`;
    tmux('new-session', '-d', '-s', session, '-x', '80', '-y', '24', '-c', ROOT, cmd);
    let s = await waitFor((t) => t.includes('Timeline'));
    expect(s).toContain('Timeline start');
    expect(s).toContain('SuperSlab map');
    tmux('send-keys', '-t', session, 'Right');
    s = await waitFor((t) => t.includes(`event 0/${fmt(total)}`));
    expect(s).toMatch(/> +0 t0 +thread_start/);
    tmux('send-keys', '-t', session, 'End');
    s = await waitFor((t) => t.includes(`event ${fmt(total - 1)}/${fmt(total)}`));
    expect(s).toMatch(new RegExp(`> +${total - 1} t0 +thread_exit`));
    for (const line of s.split('\n')) expect(line.length).toBeLessThanOrEqual(80);
    tmux('send-keys', '-t', session, 'q');
    const t0 = Date.now();
    while (!fs.existsSync(doneFile) || fs.readFileSync(doneFile, 'utf8').trim() === '') {
      if (Date.now() - t0 > 10_000) throw new Error(`q did not exit; the screen was:\n${screen()}`);
      await delay(50);
    }
    expect(fs.readFileSync(doneFile, 'utf8').trim()).toBe('0');
  });

  it.runIf(!hasTmux)('skipped: tmux is not installed (CI installs it)', () => {
    console.warn('tui tmux test skipped: tmux is not installed');
  });
});
