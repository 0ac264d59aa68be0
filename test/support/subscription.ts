import type { Subscription } from '../../src/digest/store.js';

/** A valid subscription for store and scheduler tests: rotate mode over three topics, daily at 09:00 UTC; override what a test needs. */
export function makeSubscription(id: string, extra: Partial<Subscription> = {}): Subscription {
  return {
    id,
    platform: 'test',
    channelId: `chan-${id}`,
    topics: ['filesystems', 'memory-management', 'tracing'],
    allTopics: false,
    schedule: '0 9 * * *',
    timezone: 'UTC',
    mode: 'rotate',
    createdBy: 'u1',
    createdAt: 0,
    position: 0,
    lastSlot: null,
    lastHashes: {},
    enabled: true,
    disabledReason: null,
    ...extra,
  };
}
