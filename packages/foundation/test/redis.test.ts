import { testServerUrls } from '@strangler/foundation/testing';
import { describe, expect, it } from 'vitest';
import { createRedis } from '../src/redis.ts';

describe('createRedis', () => {
  it('connects a client that fails fast and a worker connection that waits (BullMQ needs that)', async () => {
    const { redisUrl } = testServerUrls();
    const client = createRedis({ url: redisUrl, role: 'client', connectionName: 'strangler-test-client' });
    const worker = createRedis({ url: redisUrl, role: 'worker' });
    try {
      expect(await client.ping()).toBe('PONG');
      expect(await worker.ping()).toBe('PONG');
      expect(client.options.maxRetriesPerRequest).toBe(2);
      expect(worker.options.maxRetriesPerRequest).toBeNull();
      const names = String(await client.client('LIST'));
      expect(names).toContain('name=strangler-test-client');
    } finally {
      client.disconnect();
      worker.disconnect();
    }
  });

  it('rejects a client command after a few reconnect attempts instead of waiting forever', async () => {
    const client = createRedis({ url: 'redis://127.0.0.1:1', role: 'client' });
    client.on('error', () => {});
    try {
      await expect(client.ping()).rejects.toThrow();
    } finally {
      client.disconnect();
    }
  });
});
