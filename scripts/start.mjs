// npm start: the main job on a bundled real workload. Records `ls -lR /usr/share`
// (coreutils ships with every Debian machine) under libhakmem, then replays the
// trace through the TypeScript twin and prints the agreement summary.
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const cli = path.join(root, 'bin', 'hakmem-sim.js');
const trace = path.join(os.tmpdir(), `hakmem-sim-start-${process.pid}.hkt`);
const workload = ['ls', '-lR', '/usr/share'];

process.stderr.write(`$ hakmem-sim record --out ${trace} -- ${workload.join(' ')} > /dev/null\n`);
const rec = spawnSync(process.execPath, [cli, 'record', '--out', trace, '--', ...workload], {
  stdio: ['ignore', 'ignore', 'inherit'],
});
if (rec.status !== 0 && rec.status !== 1) process.exit(rec.status ?? 2);
process.stderr.write(`$ hakmem-sim replay ${trace}\n`);
const rep = spawnSync(process.execPath, [cli, 'replay', trace], { stdio: 'inherit' });
process.exit(rep.status ?? 2);
