/**
 * hakmem-sim: the command line. Exit codes: 0 clean, 1 a problem was found
 * (disagreement, violation, reproduced crash), 2 bad input or usage.
 * Every expected failure is one line on stderr, never a stack trace.
 */
import { Command, CommanderError, Option } from 'commander';
import { TraceError } from '../sim/trace/errors.js';
import { ConfigError } from '../model/config.js';
import { recordCommand } from './record.js';
import { replayCommand } from './replay.js';
import { infoCommand, dumpCommand } from './info.js';
import { genCommand } from './gen.js';
import { diffCommand } from './diff.js';
import { blameCommand } from './blame.js';
import { minimizeCommand } from './minimize.js';
import { fuzzCommand, type FuzzCliOptions } from './fuzz.js';
import { exploreCommand, type ExploreCliOptions } from './explore.js';
import { EXIT_OK, EXIT_FOUND, EXIT_USAGE, UsageError } from './errors.js';

export { EXIT_OK, EXIT_FOUND, EXIT_USAGE, UsageError };

export async function main(argv: string[]): Promise<number> {
  let code = EXIT_OK;
  const program = new Command();
  program
    .name('hakmem-sim')
    .description('Deterministic simulator and model checker for the hakmem allocator')
    .exitOverride()
    .configureOutput({
      writeErr: () => {
        /* errors are printed once, below, as one line */
      },
    })
    .showHelpAfterError(false);

  program
    .command('record')
    .description('run a program under libhakmem and record every allocator call')
    .requiredOption('--out <file>', 'trace file to write (.hkt)')
    .addOption(new Option('--mode <mode>', 'fast (no global lock) or exact (calls serialised)').choices(['fast', 'exact']).default('fast'))
    .option('--internal', 'also record internal decisions (refill, spill, drain, EMPTY, LRU)')
    .option('--variant <name>', 'run under the seeded-bug build libhakmem-NAME.so instead (docs/fuzzing.md)')
    .argument('<cmd...>', 'the program and its arguments (after --)')
    .action(async (cmd: string[], opts: { out: string; mode: 'fast' | 'exact'; internal?: boolean; variant?: string }) => {
      code = await recordCommand(cmd, opts);
    });

  program
    .command('replay')
    .description('replay a trace through the TypeScript twin and check agreement')
    .argument('<file>', 'trace file (.hkt)')
    .option('--json', 'print the summary as JSON')
    .option('--checks <mode>', 'invariant checks: full, fast or off', 'full')
    .action((file: string, opts: { json?: boolean; checks?: string }) => {
      code = replayCommand(file, opts);
    });

  program
    .command('diff')
    .description('compare the twin with the recorded placements, and with --native with hakmem-replay')
    .argument('<file>', 'trace file (.hkt)')
    .option('--native', 'also re-run the trace on the real allocator (hakmem-replay) and compare placements, verdicts and state digests')
    .option('--variant <name>', 'with --native: the seeded-bug build hakmem-replay-NAME (docs/fuzzing.md)')
    .option('--json', 'print as JSON')
    .action((file: string, opts: { native?: boolean; variant?: string; json?: boolean }) => {
      code = diffCommand(file, opts);
    });

  program
    .command('blame')
    .description('the life of a block: every call that touched it, its slab, owner and state at each step')
    .argument('<file>', 'trace file (.hkt)')
    .argument('<target>', 'a pointer (0x...) or an event number')
    .option('--json', 'print as JSON')
    .action((file: string, target: string, opts: { json?: boolean }) => {
      code = blameCommand(file, target, opts);
    });

  program
    .command('minimize')
    .description('shrink a failing trace to a small one that fails the same way (same invariant, or same native signal)')
    .argument('<file>', 'trace file (.hkt)')
    .requiredOption('--out <file>', 'where to write the minimised trace')
    .option('--native', 'minimise a crash of the real allocator (hakmem-replay) instead of an invariant violation')
    .option('--variant <name>', 'with --native: the seeded-bug build hakmem-replay-NAME (docs/fuzzing.md)')
    .option('--max-seconds <s>', 'time budget of the search (default 120)')
    .option('--json', 'print as JSON')
    .action((file: string, opts: { out: string; native?: boolean; variant?: string; json?: boolean; maxSeconds?: string }) => {
      code = minimizeCommand(file, opts);
    });

  program
    .command('info')
    .description('header, configuration and event counts of a trace')
    .argument('<file>', 'trace file (.hkt)')
    .option('--json', 'print as JSON')
    .action((file: string, opts: { json?: boolean }) => {
      code = infoCommand(file, opts);
    });

  program
    .command('dump')
    .description('print the events of a trace')
    .argument('<file>', 'trace file (.hkt)')
    .option('--from <n>', 'first event number', '0')
    .option('--count <k>', 'number of events (default: all)')
    .option('--jsonl', 'one JSON object per line')
    .action((file: string, opts: { from: string; count?: string; jsonl?: boolean }) => {
      code = dumpCommand(file, opts);
    });

  program
    .command('gen')
    .description('write a synthetic trace of one of the seeds\' workloads, run on the twin')
    .argument('<workload>', 'larson, random-mixed, mid-mt or prodcons')
    .option('--seed <s>', 'random seed', '1')
    .option('--events <n>', 'approximate number of events', '100000')
    .requiredOption('--out <file>', 'trace file to write (.hkt)')
    .option('--internal', 'include internal decision events')
    .action((workload: string, opts: { seed: string; events: string; out: string; internal?: boolean }) => {
      code = genCommand(workload, opts);
    });

  program
    .command('tui')
    .description('browse a trace interactively: timeline, SuperSlab map, slabs, threads, LRU, findings')
    .argument('<file>', 'trace file (.hkt)')
    .option('--no-color', 'no colours (also when NO_COLOR is set)')
    .action(async (file: string, opts: { color?: boolean }) => {
      // Loaded on demand: the other commands do not pay for ink and react (production builds: faster start).
      process.env.NODE_ENV ??= 'production';
      // ink reads CI / CONTINUOUS_INTEGRATION when it is loaded and, if set, draws nothing until
      // exit. The TUI runs only on a terminal (it refuses otherwise), so a CI variable in the
      // user's environment must not blank it: hide them before ink is imported.
      delete process.env.CI;
      delete process.env.CONTINUOUS_INTEGRATION;
      const { tuiCommand } = await import('../tui/command.js');
      code = await tuiCommand(file, opts);
    });

  program
    .command('fuzz')
    .description('fuzz thread interleavings on the twin with fast-check; shrink and save what it finds')
    .option('--seed <s>', 'campaign seed (default: random, printed)')
    .option('--runs <n>', 'run budget of this process (default 1000)')
    .option('--time <seconds>', 'time budget instead of --runs')
    .option('--threads <t>', 'maximum threads per program, 1..8', '4')
    .option('--ops <n>', 'maximum calls per thread in a program', '128')
    .option('--out <dir>', 'directory for findings (.hkt and .txt)', 'fuzz-findings')
    .option('--workers <n>', 'worker threads', '1')
    .option('--shard <i/n>', 'take shard i of n of the seed space', '0/1')
    .option('--schedule <mode>', 'picks (schedule as data, shrinkable) or pct', 'picks')
    .option('--config <preset>', 'allocator configuration: small, tight or default (default: small; with --native: tight)')
    .option('--variant <name>', 'plant a seeded bug: into the twin (tls-leak, no-empty, double-refill, drain-loses-block), or with --native the native build hakmem-replay-NAME (those four, refill-fallback, align-reenters, header-read)')
    .option('--native', 'also run every case on the real allocator (hakmem-replay --serve) and check that it agrees with the twin')
    .option('--misuse', 'also generate foreign, double, interior and wild frees (I2 is then expected, not a finding)')
    .option('--case-seed <n>', 're-run one case: its round seed (printed with a finding)')
    .option('--path <p>', 're-run one case: its fast-check path')
    .option('--json', 'print the result as JSON')
    .action(async (opts: FuzzCliOptions) => {
      code = await fuzzCommand(opts);
    });

  program
    .command('explore')
    .description('bounded model checking of the allocator\'s concurrent protocols (remote-push, shared-pool, lru)')
    .argument('<scenario>', 'remote-push, shared-pool or lru')
    .option('--preemptions <k>', 'preemption bound', '2')
    .option('--bfs', 'breadth-first (shortest counterexample) instead of depth-first')
    .option('--variant <name>', 'seeded protocol bug: nonatomic-push (remote-push), no-lock (shared-pool, lru)')
    .option('--threads <n>', 'threads in the scenario (2 or 3)')
    .option('--rounds <n>', 'scale: blocks per producer and drains (remote-push), rounds per thread (shared-pool, lru)')
    .option('--max-states <n>', 'stop after this many distinct states', '5000000')
    .option('--json', 'print the result as JSON')
    .action((scenario: string, opts: ExploreCliOptions) => {
      code = exploreCommand(scenario, opts);
    });

  try {
    await program.parseAsync(argv, { from: 'user' });
    return code;
  } catch (err) {
    return reportError(err);
  }
}

function reportError(err: unknown): number {
  if (err instanceof CommanderError) {
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') {
      return EXIT_OK;
    }
    const msg = err.message.replace(/^error:\s*/, '').split('\n')[0];
    process.stderr.write(`hakmem-sim: ${msg} (see hakmem-sim --help)\n`);
    return EXIT_USAGE;
  }
  if (err instanceof TraceError || err instanceof UsageError || err instanceof ConfigError) {
    process.stderr.write(`hakmem-sim: ${err.message}\n`);
    return EXIT_USAGE;
  }
  const e = err as NodeJS.ErrnoException;
  if (e && typeof e.code === 'string' && typeof e.message === 'string') {
    process.stderr.write(`hakmem-sim: ${e.message}\n`);
    return EXIT_USAGE;
  }
  throw err;
}
