import { describe, expect, it } from 'vitest';
import {
  CONFIG_FIELDS,
  ConfigError,
  configEntries,
  configFromEntries,
  DEFAULT_CONFIG,
} from '../../src/model/config.js';

describe('config', () => {
  it('round-trips the defaults through header entries, in X-macro order then the class tables', () => {
    const entries = configEntries(DEFAULT_CONFIG);
    const names = [...entries.keys()];
    expect(names.slice(0, CONFIG_FIELDS.length)).toEqual(CONFIG_FIELDS.map(([n]) => n));
    expect(names[CONFIG_FIELDS.length]).toBe('tiny_class_size_0');
    expect(names.at(-1)).toBe('pool_class_size_11');
    expect(entries.size).toBe(21 + 20 + 12);
    expect(configFromEntries(entries)).toEqual(DEFAULT_CONFIG);
  });

  it('reads a trace header from before the large cache as no cache', () => {
    const entries = configEntries(DEFAULT_CONFIG);
    entries.delete('large_cache_max_count');
    entries.delete('large_cache_max_bytes');
    const cfg = configFromEntries(entries);
    expect(cfg.largeCacheMaxCount).toBe(0);
    expect(cfg.largeCacheMaxBytes).toBe(0);
    const tooMany = configEntries(DEFAULT_CONFIG);
    tooMany.set('large_cache_max_count', 65n);
    expect(() => configFromEntries(tooMany)).toThrow(/large_cache_max_count: must be at most 64/);
  });

  it('reads a trace header from before superslab_max_count as no bound', () => {
    const entries = configEntries(DEFAULT_CONFIG);
    entries.delete('superslab_max_count');
    expect(configFromEntries(entries).superslabMaxCount).toBe(0);
    const noSlab = configEntries(DEFAULT_CONFIG);
    noSlab.delete('slab_size_bytes');
    expect(() => configFromEntries(noSlab)).toThrow(/slab_size_bytes/);
  });

  it('has the native defaults', () => {
    expect(DEFAULT_CONFIG.superslabSizeBytes / DEFAULT_CONFIG.slabSizeBytes).toBe(16);
    expect(DEFAULT_CONFIG.heapReserveBytes).toBe(256 * 2 ** 30);
    expect(DEFAULT_CONFIG.tinyClassSize.at(-1)).toBe(DEFAULT_CONFIG.tinyMaxBytes);
    expect(DEFAULT_CONFIG.poolClassSize.at(-1)).toBe(DEFAULT_CONFIG.poolMaxBytes);
  });

  it('names a missing entry', () => {
    const entries = configEntries(DEFAULT_CONFIG);
    entries.delete('tls_spill_blocks');
    expect(() => configFromEntries(entries)).toThrow(ConfigError);
    expect(() => configFromEntries(entries)).toThrow(/tls_spill_blocks/);
    const e2 = configEntries(DEFAULT_CONFIG);
    e2.delete('pool_class_size_3');
    expect(() => configFromEntries(e2)).toThrow(/pool_class_size_3/);
  });

  it('reads a trace recorded before pool_map_chunk_bytes existed as one page at a time', () => {
    const entries = configEntries(DEFAULT_CONFIG);
    entries.delete('pool_map_chunk_bytes');
    expect(configFromEntries(entries).poolMapChunkBytes).toBe(DEFAULT_CONFIG.poolPageSizeBytes);
  });

  it('names an invalid entry', () => {
    const bad = (name: string, v: bigint, re: RegExp) => {
      const entries = configEntries(DEFAULT_CONFIG);
      entries.set(name, v);
      let err: unknown;
      try {
        configFromEntries(entries);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).message).toMatch(re);
    };
    bad('tiny_class_size_3', 40n, /tiny_class_size_3/); // not increasing
    bad('tiny_class_size_2', 50n, /tiny_class_size_2/); // not a multiple of 16
    bad('pool_class_size_11', 65536n, /pool_class_size_11/); // != pool_max
    bad('superslab_size_bytes', 65536n * 65n, /superslab_size_bytes/); // 65 slabs
    bad('min_align_bytes', 24n, /min_align_bytes/);
    bad('lru_ttl_ticks', 1n << 60n, /lru_ttl_ticks/); // beyond a safe integer
    bad('tiny_class_count', 0n, /tiny_class_count/);
  });

  it('ignores entries it does not know', () => {
    const entries = configEntries(DEFAULT_CONFIG);
    entries.set('future_knob', 7n);
    expect(configFromEntries(entries)).toEqual(DEFAULT_CONFIG);
  });
});
