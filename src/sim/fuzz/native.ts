/**
 * `fuzz --native`: every case also runs on the real allocator. The case's
 * trace (written by MemoryRecorder as the twin ran it) goes to one persistent
 * `hakmem-replay --serve` process (native/build/hakmem-replay, or
 * hakmem-replay-NAME for a seeded-bug build), which replays it in a forked
 * child and answers one line (docs/replay-output.md, "--serve"). Its output is
 * then compared with the twin's placements, free verdicts and state digest
 * after every event (compareReplayOutput). A crash (signal) or hang of the
 * native side is a finding too.
 *
 * fast-check's property is synchronous, so the server is driven through two
 * FIFOs opened read-write (Linux: such an open never blocks) with blocking
 * fs.writeSync / fs.readSync: no event loop turn is needed per case.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { HakmemConfig } from '../../model/config.js';
import { FileSink } from '../gen/synth-recorder.js';
import { compareReplayOutput } from '../native-diff.js';
import type { Finding } from './exec.js';

/**
 * The native seeded-bug builds (native/Makefile VARIANTS; docs/fuzzing.md).
 * The four that also exist as model variants (variants.ts) have the same names.
 */
export const NATIVE_VARIANTS = [
  'tls-leak',
  'no-empty',
  'refill-fallback',
  'align-reenters',
  'header-read',
  'drain-loses-block',
  'double-refill',
] as const;
export type NativeVariant = (typeof NATIVE_VARIANTS)[number];

export function isNativeVariant(name: string): name is NativeVariant {
  return (NATIVE_VARIANTS as readonly string[]).includes(name);
}

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** native/build/hakmem-replay, or hakmem-replay-NAME for a seeded-bug build. */
export function replayBinary(variant: string | null): string {
  return path.join(ROOT, 'native', 'build', variant ? `hakmem-replay-${variant}` : 'hakmem-replay');
}

/** What a native check needs to know; plain data (it crosses into worker threads). */
export interface NativeSpec {
  variant: NativeVariant | null;
}

/** A case that hangs is killed after this long (hakmem-replay --serve --timeout-ms). */
export const CASE_TIMEOUT_MS = 5000;

export class NativeServer {
  readonly dir: string;
  readonly tracePath: string;
  private readonly outPath: string;
  private readonly inFd: number;
  private readonly outFd: number;
  private readonly child: ChildProcess;
  private readonly buf = Buffer.alloc(4096);
  private pending = '';
  private dead: string | null = null;
  cases = 0;

  constructor(
    readonly binary: string,
    cfg: HakmemConfig,
  ) {
    if (!fs.existsSync(binary)) throw new Error(`${binary} is missing; run npm install (it builds native/)`);
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hakmem-fuzz-native-'));
    this.tracePath = path.join(this.dir, 'case.hkt');
    this.outPath = path.join(this.dir, 'case.out');
    const fin = path.join(this.dir, 'in');
    const fout = path.join(this.dir, 'out');
    execFileSync('mkfifo', [fin, fout]);
    this.inFd = fs.openSync(fin, 'r+');
    this.outFd = fs.openSync(fout, 'r+');
    // The server takes its configuration from a trace header (it re-executes itself once).
    const cfgTrace = path.join(this.dir, 'config.hkt');
    new FileSink(cfgTrace, cfg, true, 'fuzz').close();
    this.child = spawn(binary, ['--serve', '--timeout-ms', String(CASE_TIMEOUT_MS), '--digest-every', '1', cfgTrace], { stdio: [this.inFd, this.outFd, 'inherit'] });
    this.child.on('exit', (code, sig) => {
      this.dead = `hakmem-replay --serve exited (${sig ?? code})`;
    });
    this.child.unref();
  }

  /** Replay the trace at this.tracePath; the server's answer line and the output file. */
  run(): { kind: string; detail: string; out: string } {
    if (this.dead) throw new Error(this.dead);
    fs.writeSync(this.inFd, `${this.tracePath}\t${this.outPath}\n`);
    this.cases++;
    for (;;) {
      const nl = this.pending.indexOf('\n');
      if (nl >= 0) {
        const line = this.pending.slice(0, nl);
        this.pending = this.pending.slice(nl + 1);
        const tab = line.indexOf('\t');
        return { kind: line.slice(0, tab), detail: line.slice(tab + 1), out: this.outPath };
      }
      const n = fs.readSync(this.outFd, this.buf, 0, this.buf.length, null);
      if (n <= 0) throw new Error('hakmem-replay --serve: end of output');
      this.pending += this.buf.toString('utf8', 0, n);
    }
  }

  /** The case's stderr (the replay's "died of signal" line). */
  stderr(): string {
    try {
      return fs.readFileSync(`${this.outPath}.err`, 'utf8').trim();
    } catch {
      return '';
    }
  }

  close(): void {
    try {
      fs.closeSync(this.inFd);
      fs.closeSync(this.outFd);
    } catch {
      /* already closed */
    }
    if (!this.dead) this.child.kill();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

const servers = new Map<string, NativeServer>();
let exitHook = false;

/** The persistent server of this binary and configuration (one per process or worker thread). */
export function nativeServer(spec: NativeSpec, cfg: HakmemConfig): NativeServer {
  const binary = replayBinary(spec.variant);
  const key = `${binary}\n${JSON.stringify(cfg)}`;
  let s = servers.get(key);
  if (s === undefined) {
    s = new NativeServer(binary, cfg);
    servers.set(key, s);
    if (!exitHook) {
      exitHook = true;
      process.on('exit', closeNativeServers);
    }
  }
  return s;
}

export function closeNativeServers(): void {
  for (const s of servers.values()) s.close();
  servers.clear();
}

/**
 * Run the trace at `tracePath` on the native side and compare: the first
 * disagreement, a crash or a hang is the finding; null when native agrees.
 */
export function checkNative(server: NativeServer, tracePath: string): Finding | null {
  if (tracePath !== server.tracePath) fs.copyFileSync(tracePath, server.tracePath);
  const r = server.run();
  if (r.kind === 'X') {
    const err = server.stderr();
    const m = /at event (\d+) \(thread (\d+)/.exec(err);
    return {
      kind: 'native',
      id: 'native-crash',
      message: `the native allocator died of signal ${r.detail}${err ? `: ${err.replace(/^hakmem-replay: /, '')}` : ''}`,
      event: m ? Number(m[1]) : -1,
      tid: m ? Number(m[2]) : 0,
    };
  }
  if (r.kind === 'H') {
    return { kind: 'native', id: 'native-hang', message: `the native replay did not finish within ${r.detail} ms (killed)`, event: -1, tid: 0 };
  }
  if (r.kind !== 'N' || r.detail === '2') {
    const why = r.kind === 'N' ? server.stderr().split('\n')[0] : r.detail;
    throw new Error(`hakmem-replay --serve could not run the case: ${why}`);
  }
  const sum = compareReplayOutput(tracePath, r.out, Number(r.detail), { digestsAfterCallsOnly: true });
  const d = sum.firstDisagreement;
  if (d === null) return null;
  return {
    kind: 'native',
    id: 'native-disagreement',
    message: `${d.what} at event ${d.event} (${d.op}): ${d.recorded}, ${d.model}`,
    event: d.event,
    tid: d.tid,
  };
}
