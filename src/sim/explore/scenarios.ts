/** The built-in scenarios of `hakmem-sim explore`, by name. */
import { lru } from './protocols/lru.js';
import { remotePush } from './protocols/remote-push.js';
import { sharedPool } from './protocols/shared-pool.js';
import type { Scenario } from './types.js';

export const SCENARIOS: Readonly<Record<string, Scenario>> = {
  'remote-push': remotePush,
  'shared-pool': sharedPool,
  lru,
};
