// Re-records the bundled traces (traces/*.hkt) from real programs and rewrites
// traces/README.md with each one's command, mode, events and threads.
// Run after any change to the allocator's policy: `node scripts/record-traces.mjs`.
// `--only NAME[,NAME...]` re-records only those traces (the README is rewritten from all of them).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const CLI = path.join(ROOT, 'bin', 'hakmem-sim.js');
const W = path.join(ROOT, 'bench', 'build', 'workloads');
const OUT = path.join(ROOT, 'traces');

let only = null;
try {
  const { values } = parseArgs({ options: { only: { type: 'string' } }, strict: true });
  if (values.only !== undefined) only = values.only.split(',').filter((x) => x !== '');
} catch (err) {
  process.stderr.write(`record-traces: ${err.message}\n`);
  process.exit(2);
}

const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'hakmem-traces-'));

// The objects git packs: every object reachable from a fixed commit of this repository, so the
// input stays the same as the repository grows.
const PACK_COMMIT = 'a4dfcf7e2395506c6eccb2663e183edd0ca0d78f';
const objects = path.join(TMP, 'objects.txt');
function writeObjects() {
  const r = spawnSync('git', ['-C', ROOT, 'rev-list', '--objects', PACK_COMMIT], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) {
    process.stderr.write(`git rev-list --objects ${PACK_COMMIT} failed: ${r.stderr}\n`);
    process.exit(1);
  }
  fs.writeFileSync(objects, r.stdout);
}
const pyScript = path.join(TMP, 'alloc.py');
fs.writeFileSync(pyScript, 'import json\nd = [{"k": i, "v": str(i) * 7} for i in range(2000)]\ns = json.dumps(d)\nprint(len(s), len(json.loads(s)))\n');
// Two Python threads doing the same, each on its own list; the main thread keeps both results.
const pyThreads = path.join(TMP, 'threads.py');
fs.writeFileSync(
  pyThreads,
  [
    'import json, threading',
    'out = []',
    'def work(n, seed):',
    '    d = [{"k": i, "v": str(i * seed) * 3} for i in range(n)]',
    '    out.append(json.loads(json.dumps(d)))',
    'ts = [threading.Thread(target=work, args=(1500, s + 1)) for s in range(2)]',
    'for t in ts: t.start()',
    'for t in ts: t.join()',
    'print(sum(len(x) for x in out))',
    '',
  ].join('\n'),
);
// Python's own small-object allocator (pymalloc) serves most objects from its arenas; with
// PYTHONMALLOC=malloc every object is a malloc call, as under a debugging allocator.
const PYMALLOC = { PYTHONMALLOC: 'malloc' };

const TRACES = [
  { file: 'ls-usr-share-doc.hkt', mode: 'fast', what: 'single-threaded: a recursive listing', cmd: ['ls', '-lR', '/usr/share/doc'] },
  { file: 'python-json.hkt', mode: 'fast', what: 'single-threaded: python3 building and parsing JSON, every object through malloc', env: PYMALLOC, cmd: ['/usr/bin/python3', pyScript] },
  { file: 'python-threads.hkt', mode: 'exact', what: 'multi-threaded real program: python3, two threads building and parsing JSON, every object through malloc', env: PYMALLOC, cmd: ['/usr/bin/python3', pyThreads] },
  { file: 'git-log.hkt', mode: 'fast', what: 'single-threaded: git log of this repository', cmd: ['git', '-C', ROOT, 'log', '--stat', '-n', '300'] },
  {
    file: 'git-pack-objects.hkt',
    mode: 'exact',
    what: "multi-threaded real program: git packing this repository's objects, delta search on two threads",
    cmd: ['git', '-C', ROOT, 'pack-objects', '--no-reuse-delta', '--threads=2', '--stdout'],
    stdin: objects,
    prepare: writeObjects,
  },
  { file: 'prodcons.hkt', mode: 'exact', what: 'pthreads producer/consumer (every free is remote)', cmd: [path.join(W, 'prodcons'), '2', '2', '15000'] },
  { file: 'larson.hkt', mode: 'exact', what: 'larson-style: threads hand their blocks to successors', cmd: [path.join(W, 'larson'), '4', '256', '8', '128', '4000', '3', '7'] },
  { file: 'random-mixed.hkt', mode: 'fast', what: "seed 003's random mixed workload (16-1024 B, 256 slots)", cmd: [path.join(W, 'random_mixed'), '100000', '256', '42'] },
  { file: 'mid-large-mt.hkt', mode: 'exact', what: "seed 001's mid-size workload (8-34 KiB, 2 threads)", cmd: [path.join(W, 'mid_large_mt'), '2', '30000', '256', '42'] },
];

if (only) {
  if (only.length === 0) {
    process.stderr.write('record-traces: --only takes trace names, e.g. --only git-log.hkt\n');
    process.exit(2);
  }
  for (const name of only) {
    if (!TRACES.some((t) => t.file === name)) {
      process.stderr.write(`record-traces: --only: no trace named ${name}\n`);
      process.exit(2);
    }
  }
}
fs.mkdirSync(OUT, { recursive: true });
for (const f of fs.readdirSync(OUT)) {
  if (f.endsWith('.hkt') && (!only || only.includes(f) || !TRACES.some((t) => t.file === f))) fs.rmSync(path.join(OUT, f));
}
const rows = [];
let total = 0;
for (const t of TRACES) {
  const out = path.join(OUT, t.file);
  if (!only || only.includes(t.file)) {
    t.prepare?.();
    // The program's own output is not wanted (git writes the pack to stdout); its errors are.
    const stdin = t.stdin ? fs.openSync(t.stdin, 'r') : 'ignore';
    const r = spawnSync(process.execPath, [CLI, 'record', '--mode', t.mode, '--out', out, '--', ...t.cmd], {
      encoding: 'utf8',
      maxBuffer: 256 << 20,
      env: { ...process.env, ...(t.env ?? {}) },
      stdio: [stdin, 'ignore', 'pipe'],
    });
    if (typeof stdin === 'number') fs.closeSync(stdin);
    if (r.status !== 0) {
      process.stderr.write(`${t.file}: ${t.cmd.join(' ')} exited ${r.status}: ${r.stderr}\n`);
      process.exit(1);
    }
    // Traces of forked children and exec'd images are not bundled.
    for (const f of fs.readdirSync(OUT)) if (f.startsWith(t.file.replace(/\.hkt$/, '.')) && f !== t.file) fs.rmSync(path.join(OUT, f));
  } else if (!fs.existsSync(out)) {
    process.stderr.write(`${t.file}: missing (re-record it: --only ${t.file})\n`);
    process.exit(1);
  }
  const info = JSON.parse(spawnSync(process.execPath, [CLI, 'info', out, '--json'], { encoding: 'utf8' }).stdout);
  const bytes = fs.statSync(out).size;
  total += bytes;
  if (bytes > 5e6) {
    process.stderr.write(`${t.file}: ${bytes} bytes, over the 5 MB limit\n`);
    process.exit(1);
  }
  const shown = [
    ...Object.entries(t.env ?? {}).map(([k, v]) => `${k}=${v}`),
    ...t.cmd.map((a) => a.replace(ROOT, '.').replace(TMP, '$TMP')),
    ...(t.stdin ? ['<', t.stdin.replace(TMP, '$TMP'), '>', '/dev/null'] : []),
  ];
  rows.push(`| ${t.file} | ${t.what} | \`${shown.join(' ')}\` | ${t.mode} | ${info.events.toLocaleString('en-US')} | ${info.threads} | ${(bytes / 1e6).toFixed(2)} MB |`);
  process.stderr.write(`${t.file}: ${info.events} events, ${info.threads} threads, ${bytes} bytes\n`);
}
if (total > 30e6) {
  process.stderr.write(`all traces: ${total} bytes, over the 30 MB limit\n`);
  process.exit(1);
}
const md = [
  '# Bundled traces',
  '',
  'Real recordings made with `hakmem-sim record` on this project\'s machine (`node scripts/record-traces.mjs`',
  'recreates them; run it after any change to the allocator\'s policy). `$TMP/alloc.py` builds and parses a',
  '2,000-element JSON list and `$TMP/threads.py` does so on two threads (1,500 elements each);',
  `\`$TMP/objects.txt\` lists the objects reachable from commit ${PACK_COMMIT.slice(0, 12)} of this repository`,
  '(`git rev-list --objects`); the script writes all three.',
  'Every trace replays through the twin with 100% agreement and no violation, and agrees with `hakmem-replay`',
  '(test/e2e/bundled-traces.test.ts).',
  '',
  '| trace | what | command | mode | events | threads | size |',
  '|---|---|---|---|---:|---:|---:|',
  ...rows,
  '',
  `Total: ${(total / 1e6).toFixed(2)} MB.`,
  '',
];
fs.writeFileSync(path.join(OUT, 'README.md'), md.join('\n'));
fs.rmSync(TMP, { recursive: true, force: true });
