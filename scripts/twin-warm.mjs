// node scripts/twin-warm.mjs [--runs N] [--only SUBSTR] [--clock cpu|wall] [DIST[,DIST2...]]
//
// The twin's warm replay rates of table 3 (scripts/bench.mjs replayRateWarm), alone and quick:
// per trace and checks mode, a fresh process warms up as the bench does (replays the trace until
// 0.5 s of wall-clock time have passed, at least once and at most 50 times; not timed), then
// replays it again until 0.5 s or 50 passes, and reports events per second. Two differences from the bench, for
// comparing builds on a shared machine: passes are timed by the process's CPU time (user+sys,
// which also counts V8's compiler and GC threads, so rates are below the bench's wall-clock
// ones), and with several dist directories (an old build copied aside, say) the builds
// alternate within each run, so load changes hit them alike. Median of --runs runs (default 5).
// --clock wall times passes as the bench does (process.hrtime).
// Traces: generated prodcons and random-mixed of 3 million events (as the bench), and
// traces/*.hkt.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const argv = process.argv.slice(2);
const opt = (name, dflt) => (argv.includes(name) ? argv.splice(argv.indexOf(name), 2)[1] : dflt);
const runs = Number(opt('--runs', '5'));
const only = opt('--only', '');
const clock = opt('--clock', 'cpu');
if (clock !== 'cpu' && clock !== 'wall') {
  process.stderr.write(`twin-warm: --clock takes cpu or wall, got '${clock}'\n`);
  process.exit(2);
}
if (!Number.isInteger(runs) || runs < 1) {
  process.stderr.write('twin-warm: --runs takes a positive integer\n');
  process.exit(2);
}
const dists = (argv[0] ?? path.join(ROOT, 'dist')).split(',').map((d) => path.resolve(d));
for (const d of dists) {
  if (!fs.existsSync(path.join(d, 'sim', 'replay.js'))) {
    process.stderr.write(`twin-warm: ${d} has no sim/replay.js (build with npm run build)\n`);
    process.exit(2);
  }
}

const PASSES = `const [dist, trace, checks] = process.argv.slice(1);
const { replayFile } = await import(dist + '/sim/replay.js');
const opts = { checks };
const w0 = process.hrtime.bigint(); let warm = 0;
do { replayFile(trace, opts); warm++; } while (warm < 50 && Number(process.hrtime.bigint() - w0) < 0.5e9);
const cpu = ${clock === 'cpu' ? '() => { const c = process.cpuUsage(); return (c.user + c.system) / 1e6; }' : '() => Number(process.hrtime.bigint()) / 1e9'};
let events = 0, passes = 0; const t0 = cpu(); let dt = 0;
while (passes < 50 && dt < 0.5) { events += replayFile(trace, opts).events; passes++; dt = cpu() - t0; }
console.log(events / dt);`;

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'twin-warm-'));
const traces = [];
for (const w of ['prodcons', 'random-mixed']) {
  if (only && !`${w} (generated)`.includes(only)) continue;
  const out = path.join(tmp, `${w}.hkt`);
  spawnSync(process.execPath, [path.join(ROOT, 'bin', 'hakmem-sim.js'), 'gen', w, '--events', '3000000', '--out', out], { stdio: 'ignore' });
  traces.push({ name: `${w} (generated)`, file: out });
}
for (const f of fs.readdirSync(path.join(ROOT, 'traces')).filter((x) => x.endsWith('.hkt')).sort()) {
  if (!only || f.includes(only)) traces.push({ name: f, file: path.join(ROOT, 'traces', f) });
}

const median = (xs) => {
  const v = [...xs].sort((a, b) => a - b);
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
};
const M = (x) => `${(x / 1e6).toFixed(2)}M`;
console.log(`warm events/s by ${clock === 'cpu' ? 'CPU' : 'wall-clock'} time, median of ${runs}: fast | full${dists.length > 1 ? ` (builds: ${dists.join(', ')})` : ''}`);
for (const t of traces) {
  const rates = dists.map(() => ({ fast: [], full: [] }));
  for (let i = 0; i < runs; i++) {
    for (const checks of ['fast', 'full']) {
      dists.forEach((d, k) => {
        const r = spawnSync(process.execPath, ['--input-type=module', '-e', PASSES, d, t.file, checks], { encoding: 'utf8' });
        rates[k][checks].push(r.status === 0 ? Number(r.stdout.trim().split('\n').pop()) : NaN);
      });
    }
  }
  console.log(`${t.name.padEnd(26)} ${rates.map((r) => `${M(median(r.fast)).padStart(6)} | ${M(median(r.full)).padStart(6)}`).join('   ')}`);
}
fs.rmSync(tmp, { recursive: true, force: true });
