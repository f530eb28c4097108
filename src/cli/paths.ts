import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root: this file is dist/cli/paths.js (or src/cli/paths.ts under vitest). */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const LIBHAKMEM = path.join(ROOT, 'native', 'build', 'libhakmem.so');
export const HAKMEM_REPLAY = path.join(ROOT, 'native', 'build', 'hakmem-replay');
