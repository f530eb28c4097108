/**
 * One source of truth for policy: the twin's fallback defaults (used only for
 * synthetic traces) must equal the native build's, entry for entry.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG, configEntries } from '../../src/model/config.js';
import { ROOT } from '../helpers/cli.js';

describe('config defaults', () => {
  it('DEFAULT_CONFIG equals hakmem-replay --print-config, name for name', () => {
    const r = spawnSync(path.join(ROOT, 'native', 'build', 'hakmem-replay'), ['--print-config'], {
      encoding: 'utf8',
      env: Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('HAKMEM_'))),
    });
    expect(r.status, r.stderr).toBe(0);
    const native = new Map<string, bigint>();
    for (const line of r.stdout.trim().split('\n')) {
      const [name, value] = line.trim().split(/\s+/);
      native.set(name, BigInt(value));
    }
    const model = new Map(configEntries(DEFAULT_CONFIG));
    expect([...model.keys()].sort()).toEqual([...native.keys()].sort());
    for (const [name, value] of native) expect(model.get(name), name).toBe(value);
  });

  it('an environment override reaches the native config', () => {
    const r = spawnSync(path.join(ROOT, 'native', 'build', 'hakmem-replay'), ['--print-config'], {
      encoding: 'utf8',
      env: { ...process.env, HAKMEM_TLS_CAP: '17' },
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^tls_cap_blocks\s+17$/m);
  });
});
