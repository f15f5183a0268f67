import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { staticFlagSource } from '@strangler/flags';
import { createLogger } from '@strangler/foundation';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.ts';
import { testConfig } from '../src/config.ts';

/** The router's access log: one line per request, saying where it went and why. */

const lines: Array<Record<string, unknown>> = [];
let upstream: Server;
let router: FastifyInstance;
let base: string;

beforeAll(async () => {
  upstream = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"id":1}');
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const sink = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  router = await buildApp(
    testConfig({ MONOLITH_URL: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}` }),
    { flags: staticFlagSource(), logger: createLogger({ name: 'edge-router', level: 'info' }, sink) },
  );
  base = await router.listen({ host: '127.0.0.1', port: 0 });
});

afterAll(async () => {
  await router?.close();
  await new Promise((resolve) => upstream?.close(resolve));
});

describe('the access log', () => {
  it('writes one line per request with the route, status, target, decision reason and duration', async () => {
    const res = await fetch(`${base}/api/products/7`);
    expect(res.status).toBe(200);
    await res.text();
    const requests = lines.filter((l) => l.msg === 'request');
    expect(requests).toHaveLength(1);
    expect(requests[0]).toMatchObject({
      method: 'GET',
      route: 'GET /api/products/:id',
      status: 200,
      target: 'monolith',
      reason: 'no-service',
    });
    expect(typeof requests[0]?.ms).toBe('number');
  });
});
