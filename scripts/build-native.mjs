// Builds native/ (libhakmem.so, hakmem-replay, C tests) as part of npm install.
// Fails with one clear line when the C toolchain is missing.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
for (const tool of ['make', 'gcc']) {
  const probe = spawnSync(tool, ['--version'], { stdio: 'ignore' });
  if (probe.error || probe.status !== 0) {
    process.stderr.write(
      `hakmem-sim: cannot build native/: '${tool}' is not installed (on Debian: apt-get install build-essential)\n`,
    );
    process.exit(1);
  }
}
const jobs = String(Math.max(1, Math.min(4, (await import('node:os')).availableParallelism())));
for (const dir of ['native', path.join('bench', 'workloads'), path.join('test', 'fixtures')]) {
  const r = spawnSync('make', ['-s', '-C', path.join(root, dir), '-j', jobs, 'all'], { stdio: 'inherit' });
  if (r.status !== 0) {
    process.stderr.write(`hakmem-sim: the native build failed in ${dir}/ (see the compiler output above)\n`);
    process.exit(1);
  }
}
