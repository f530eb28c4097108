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
    .argument('<cmd...>', 'the program and its arguments (after --)')
    .action(async (cmd: string[], opts: { out: string; mode: 'fast' | 'exact'; internal?: boolean }) => {
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
    .option('--json', 'print as JSON')
    .action((file: string, opts: { native?: boolean; json?: boolean }) => {
      code = diffCommand(file, opts);
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
